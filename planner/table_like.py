"""CREATE TABLE ... LIKE: a new table's definition merged with its source table's, by
Flink's rules (``MergeTableLikeUtil``), with Flink's messages where they clash.

Each feature has a merging strategy: INCLUDING takes the source's and refuses a clash,
OVERWRITING lets the new table's win, EXCLUDING leaves the source's out. Without options
it is ``INCLUDING ALL OVERWRITING OPTIONS``; ``ALL`` sets every feature, and a feature
named after it sets that one. The source's physical columns are always taken, first and
in their order; a new computed or metadata column may overwrite the source's of the same
kind in its place; the new table's own columns follow.
"""

from __future__ import annotations

from dataclasses import replace

from catalog.errors import CatalogError
from catalog.schema import Column, ColumnKind, Schema, Watermark
from catalog.table import TableDef
from planner import statements as st

DEFAULTS = {
    "OPTIONS": "OVERWRITING",
    "WATERMARKS": "INCLUDING",
    "GENERATED": "INCLUDING",
    "METADATA": "INCLUDING",
    "CONSTRAINTS": "INCLUDING",
    "PARTITIONS": "INCLUDING",
}
_FEATURE = {ColumnKind.COMPUTED: "GENERATED", ColumnKind.METADATA: "METADATA"}


def strategies(options: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Each feature's strategy: the defaults, then ALL's, then each feature's own."""
    result = dict(DEFAULTS)
    for strategy, feature in options:
        if feature == "ALL":
            result = dict.fromkeys(result, strategy)
    for strategy, feature in options:
        if feature != "ALL":
            result[feature] = strategy
    return result


def merge(statement: st.CreateTable, source: TableDef) -> st.CreateTable:
    """``statement`` with its LIKE resolved: the merged schema, options and partitions."""
    like = statement.like
    assert like is not None
    how = strategies(like.options)
    columns = _columns(source.schema.columns, like.columns, how)
    watermark = _watermark(source.schema.watermark, like.watermark, how["WATERMARKS"])
    key = source.schema.primary_key if how["CONSTRAINTS"] == "INCLUDING" else ()
    if like.primary_key:
        if key:
            raise CatalogError(
                "The base table already has a primary key. You might want to specify EXCLUDING CONSTRAINTS."
            )
        for name in like.primary_key:
            column = columns.get(name.lower())
            if column is None:
                raise CatalogError(f"Primary key column '{name}' is not defined in the schema")
            if column.kind != ColumnKind.PHYSICAL:
                raise CatalogError(
                    f"Could not create a PRIMARY KEY with column '{name}': "
                    "a PRIMARY KEY constraint must be declared on physical columns"
                )
        key = like.primary_key
    return replace(
        statement,
        schema=Schema.keyed(list(columns.values()), watermark, key),
        options=_options(source.options, statement.options, how["OPTIONS"]),
        partition_keys=_partitions(source.partition_keys, statement.partition_keys, how["PARTITIONS"]),
        like=None,
    )


def _columns(base: tuple[Column, ...], new: tuple[Column, ...], how: dict[str, str]) -> dict[str, Column]:
    columns = {c.name.lower(): c for c in base if how.get(_FEATURE.get(c.kind, ""), "") != "EXCLUDING"}
    for c in new:
        existing = columns.get(c.name.lower())
        if existing is not None and c.kind == ColumnKind.PHYSICAL:
            raise CatalogError(f"A column named '{c.name}' already exists in the base table.")
        if existing is not None:
            kind, feature = c.kind.value, _FEATURE[c.kind]
            if existing.kind != c.kind:
                raise CatalogError(
                    f"A column named '{c.name}' already exists in the base table. "
                    f"{'Computed' if c.kind == ColumnKind.COMPUTED else 'Metadata'} columns can only "
                    f"overwrite other {kind} columns."
                )
            if how[feature] != "OVERWRITING":
                what = "generated" if c.kind == ColumnKind.COMPUTED else "metadata"
                raise CatalogError(
                    f"A {what} column named '{c.name}' already exists in the base table. You might want "
                    f"to specify EXCLUDING {feature} or OVERWRITING {feature}."
                )
        columns[c.name.lower()] = c  # an overwritten column keeps its place
    return columns


def _watermark(base: Watermark | None, new: Watermark | None, strategy: str) -> Watermark | None:
    if strategy == "EXCLUDING":
        base = None
    if new is None or base is None:
        return new or base
    if base.column.lower() != new.column.lower():
        raise CatalogError(
            f"the base table's watermark is on '{base.column}': a table has one watermark",
            hint="add EXCLUDING WATERMARKS to the LIKE clause",
        )
    if strategy != "OVERWRITING":
        raise CatalogError(
            f"There already exists a watermark spec for column '{new.column}' in the base table. "
            "You might want to specify EXCLUDING WATERMARKS or OVERWRITING WATERMARKS."
        )
    return new


def _options(base: dict[str, str], new: dict[str, str], strategy: str) -> dict[str, str]:
    options = dict(base) if strategy != "EXCLUDING" else {}
    for key, value in new.items():
        if strategy != "OVERWRITING" and key in options:
            raise CatalogError(
                f"There already exists an option ['{key}' -> '{options[key]}']  in the base table. "
                "You might want to specify EXCLUDING OPTIONS or OVERWRITING OPTIONS."
            )
        options[key] = value
    return options


def _partitions(base: tuple[str, ...], new: tuple[str, ...], strategy: str) -> tuple[str, ...]:
    if new and base and strategy != "EXCLUDING":
        raise CatalogError(
            "The base table already has partitions defined. You might want to specify EXCLUDING PARTITIONS."
        )
    return new or base
