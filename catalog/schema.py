"""Table schemas: columns, time attributes, watermark and primary key.

Expressions of computed columns and watermarks are kept as Flink SQL text: the catalog
does not parse SQL (that is the planner's job) so it stays importable on its own, and
SHOW CREATE TABLE prints exactly what the user declared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from catalog.errors import CatalogError, did_you_mean
from catalog.types import DataType


class ColumnKind(StrEnum):
    PHYSICAL = "physical"
    COMPUTED = "computed"
    METADATA = "metadata"


@dataclass(frozen=True)
class Column:
    """A column as declared. ``expr`` is Flink SQL for computed columns."""

    name: str
    type: DataType
    kind: ColumnKind = ColumnKind.PHYSICAL
    expr: str | None = None
    metadata_key: str | None = None
    virtual: bool = False
    comment: str | None = None

    @property
    def is_persisted(self) -> bool:
        """Whether a sink writes this column (computed and virtual metadata ones it does not)."""
        return self.kind == ColumnKind.PHYSICAL or (self.kind == ColumnKind.METADATA and not self.virtual)


@dataclass(frozen=True)
class Watermark:
    """``WATERMARK FOR column AS expr``: the rowtime column and its watermark expression."""

    column: str
    expr: str


@dataclass(frozen=True)
class Schema:
    columns: tuple[Column, ...]
    watermark: Watermark | None = None
    primary_key: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for c in self.columns:
            if c.name.lower() in seen:
                raise CatalogError(f"column '{c.name}' is declared twice")
            seen.add(c.name.lower())
        if self.watermark and self.find(self.watermark.column) is None:
            raise CatalogError(
                f"the watermark is declared on column '{self.watermark.column}', "
                "which the table does not have",
                hint=did_you_mean(self.watermark.column, self.names),
            )
        for k in self.primary_key:
            if self.find(k) is None:
                raise CatalogError(
                    f"primary key column '{k}' is not a column of the table",
                    hint=did_you_mean(k, self.names),
                )

    @classmethod
    def keyed(
        cls, columns: Sequence[Column], watermark: Watermark | None, primary_key: tuple[str, ...]
    ) -> Schema:
        """The schema with its primary key's physical columns NOT NULL, as Flink makes them."""
        if primary_key:
            keys = {k.lower() for k in primary_key}
            columns = [
                replace(c, type=c.type.with_nullable(False))
                if c.name.lower() in keys and c.kind == ColumnKind.PHYSICAL
                else c
                for c in columns
            ]
        return cls(tuple(columns), watermark, primary_key)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def find(self, name: str) -> Column | None:
        """Column by name; identifiers are case-insensitive unless quoted differently."""
        for c in self.columns:
            if c.name == name:
                return c
        for c in self.columns:
            if c.name.lower() == name.lower():
                return c
        return None

    def column(self, name: str) -> Column:
        col = self.find(name)
        if col is None:
            raise CatalogError(f"column '{name}' not found", hint=did_you_mean(name, self.names))
        return col

    @property
    def physical(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.kind == ColumnKind.PHYSICAL)

    @property
    def rowtime(self) -> str | None:
        return self.watermark.column if self.watermark else None

    @property
    def proctime(self) -> str | None:
        """The computed column declared as ``AS PROCTIME()``, if any."""
        for c in self.columns:
            if c.kind == ColumnKind.COMPUTED and (c.expr or "").replace(" ", "").upper() == ("PROCTIME()"):
                return c.name
        return None
