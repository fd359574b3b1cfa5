"""What a query can see: the fields in scope with the names and qualifiers SQL uses for
them, and small helpers for the fields and expressions every part of the binder builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from catalog.errors import SqlStreamError
from catalog.types import DataType
from planner.errors import PlanError, position
from planner.logical import BoundField, LogicalNode
from planner.typecheck import function_name, infer, make_cast


@dataclass(frozen=True)
class ScopeField:
    qualifiers: frozenset[str]
    field: BoundField
    alias: str | None = None  # the name SQL uses, when the field was renamed (a join's clash)
    hidden: bool = False  # not in ``*`` (a window call's result, seen only where it was written)

    @property
    def name(self) -> str:
        return self.alias or self.field.name


@dataclass
class Scope:
    fields: list[ScopeField] = field(default_factory=list)

    @classmethod
    def of(cls, node: LogicalNode, qualifiers: set[str]) -> Scope:
        quals = frozenset(q.lower() for q in qualifiers if q)
        return cls([ScopeField(quals, f) for f in node.fields])

    def lookup(self, name: str, qualifier: str | None) -> BoundField | None:
        matches = [
            sf
            for sf in self.fields
            if sf.name.lower() == name.lower() and (qualifier is None or qualifier.lower() in sf.qualifiers)
        ]
        exact = [sf for sf in matches if sf.name == name]
        if len(matches) > 1 and len(exact) != 1:
            raise PlanError(f"column '{name}' is ambiguous", hint="qualify it with its table's name or alias")
        found = exact[0] if exact else (matches[0] if matches else None)
        return found.field if found else None

    @property
    def qualifiers(self) -> set[str]:
        return {q for sf in self.fields for q in sf.qualifiers}

    @property
    def names(self) -> list[str]:
        return [sf.name for sf in self.fields]


def _err(error: SqlStreamError, node: exp.Expr) -> SqlStreamError:
    line, col = position(node)
    return error.with_position(line, col)


def item_name(proj: exp.Expr, i: int) -> str:
    """The output name of SELECT item ``i``: its alias, its column's name, else Calcite's
    ``EXPR$i``."""
    if isinstance(proj, exp.Alias):
        return proj.alias
    if isinstance(proj, exp.Column):
        return proj.name
    if isinstance(proj, exp.Dot):
        return proj.expression.name
    return f"EXPR${i}"


def _ref(name: str) -> exp.Column:
    return exp.column(exp.to_identifier(name, quoted=True))


def _output_field(name: str, e: exp.Expr, node: LogicalNode) -> BoundField:
    t = infer(e, node.field_type)
    attr = None
    if isinstance(e, exp.Column):
        attr = node.field(e.name).time_attribute
    elif isinstance(e, exp.Func) and function_name(e) == "PROCTIME":
        attr = "proctime"
    return BoundField(name, t, attr)


def cast_if_needed(e: exp.Expr, src: DataType | None, dst: DataType) -> exp.Expr:
    if src is not None and src.with_nullable(True) == dst.with_nullable(True):
        return e
    return make_cast(e, dst.with_nullable(True))
