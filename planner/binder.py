"""The binder: resolves names and types of a parsed query against the catalog and builds
the logical plan.

It decides what a query means in Flink's terms: which columns are time attributes, which
GROUP BY is a window aggregation (window TVF or legacy group window) and which an
updating one, and what each output column is called. Whatever it cannot give Flink's
meaning to is refused here, naming the construct and its position.

The work is split by concern in ``planner/bind/`` (scope, columns, windows, aggregates,
joins, relations, select); this module is the entry point and binds the statements.
"""

from __future__ import annotations

from sqlglot import exp

from catalog.connectors import validate_options
from catalog.errors import CatalogError, did_you_mean
from catalog.store import said_at
from catalog.table import ViewDef
from catalog.types import DataType
from planner.bind.hints import table_options
from planner.bind.relations import with_options
from planner.bind.scope import cast_if_needed
from planner.bind.select import QueryBinder
from planner.errors import PlanError
from planner.logical import BoundField, Calc, Collect, Sink


class Binder(QueryBinder):
    """Binds queries and INSERTs of one statement against a catalog and configuration."""

    # ---- statements ------------------------------------------------------------------
    def bind_insert(
        self,
        table_name: str,
        query: exp.Expr,
        columns: tuple[str, ...],
        on_conflict: str | None = None,
        written: exp.Expr | None = None,
    ) -> Sink:
        """``written``: the table as the INSERT names it, whose OPTIONS hint applies here."""
        try:
            obj = self.catalog.resolve(table_name)
        except CatalogError as e:
            raise said_at(e, table_name) from None
        if isinstance(obj, ViewDef):
            raise CatalogError(f"cannot INSERT INTO view '{table_name}'", hint="insert into a table")
        if written is not None and (hinted := table_options(written)):
            obj = with_options(obj, hinted, written)
        validate_options(obj.options, f"table '{obj.name}'")
        node = self.bind_query(query, {})
        target = [c for c in obj.schema.columns if c.is_persisted]
        if columns:
            for c in columns:
                if obj.schema.find(c) is None or not obj.schema.column(c).is_persisted:
                    raise CatalogError(
                        f"column '{c}' of table '{obj.name}' cannot be inserted into",
                        hint=did_you_mean(c, [t.name for t in target]),
                    )
            if len(columns) != len(node.fields):
                raise PlanError(
                    f"INSERT INTO {obj.name} lists {len(columns)} columns but the query "
                    f"produces {len(node.fields)}"
                )
            by_name = {c.lower(): f for c, f in zip(columns, node.fields)}
            projections: list[tuple[str, exp.Expr]] = []
            for col in target:
                src = by_name.get(col.name.lower())
                if src is not None:
                    _check_assignable(src.type, col.type, col.name, obj.name)
                value: exp.Expr = exp.column(exp.to_identifier(src.name, quoted=True)) if src else exp.null()
                projections.append((col.name, cast_if_needed(value, src.type if src else None, col.type)))
        else:
            if len(target) != len(node.fields):
                raise PlanError(
                    f"the query produces {len(node.fields)} columns but table '{obj.name}' "
                    f"has {len(target)}: {', '.join(c.name for c in target)}",
                    hint="list the target columns, INSERT INTO t (a, b) SELECT ...",
                )
            projections = []
            for col, src in zip(target, node.fields):
                _check_assignable(src.type, col.type, col.name, obj.name)
                ref = exp.column(exp.to_identifier(src.name, quoted=True))
                projections.append((col.name, cast_if_needed(ref, src.type, col.type)))
        fields = tuple(BoundField(c.name, c.type) for c in target)
        if any(p[0] != f.name or not _is_ref(p[1], f.name) for p, f in zip(projections, node.fields)):
            node = Calc(fields, node, tuple(projections))
        return Sink(fields, node, obj, on_conflict)

    def bind_select(self, query: exp.Expr) -> Collect:
        node = self.bind_query(query, {})
        return Collect(node.fields, node)


# ---- helpers --------------------------------------------------------------------------


def _is_ref(e: exp.Expr, name: str) -> bool:
    return isinstance(e, exp.Column) and e.name == name


# What a sink column of each numeric type takes without a CAST: Flink's implicit casts
# (LogicalTypeCasts), which never lose an integer's digits. BIGINT into INT wrapped around.
_NUMBERS_INTO = {
    "TINYINT": {"TINYINT"},
    "SMALLINT": {"TINYINT", "SMALLINT"},
    "INT": {"TINYINT", "SMALLINT", "INT"},
    "BIGINT": {"TINYINT", "SMALLINT", "INT", "BIGINT"},
    "FLOAT": {"TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DECIMAL"},
}
_BINARY = ("BYTES", "BINARY", "VARBINARY")


def assignable(src: DataType, dst: DataType) -> bool:
    """Whether a query's ``src`` values go into a ``dst`` column without a CAST, as Flink's
    sink validation allows (its implicit casts): a DECIMAL of any precision (a value that
    does not fit becomes NULL, as in Flink), a finer timestamp (its fraction cut), but no
    narrower integer, no number from a string and no string from a number."""
    if src.name == "NULL":
        return True
    if src.children or dst.children:
        return (
            src.name == dst.name
            and len(src.children) == len(dst.children)
            and all(assignable(a, b) for a, b in zip(src.children, dst.children))
        )
    if src.name == dst.name:
        return True
    if src.is_numeric and dst.is_numeric:
        return dst.name in ("DECIMAL", "DOUBLE") or src.name in _NUMBERS_INTO[dst.name]
    if src.is_string and dst.is_string:
        return True
    if src.name in _BINARY and dst.name in _BINARY:
        return True
    return src.is_timestamp and (
        dst.is_timestamp or (src.name == "TIMESTAMP" and dst.name in ("DATE", "TIME"))
    )


def _check_assignable(src: DataType, dst: DataType, column: str, table: str) -> None:
    if assignable(src, dst):
        return
    raise PlanError(
        f"column '{column}' of table '{table}' is {dst.sql()}, but the query gives {src.sql()}",
        hint=f"CAST the value to {dst.sql()}",
    )
