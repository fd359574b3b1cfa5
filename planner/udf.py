"""Calls of user-defined functions: found by name in the catalog, checked against the
function's signature and marked, so that typing and translation know them without I/O.

A call's node keeps sqlglot's ``Anonymous`` form (DuckDB runs it under the same name: the
runtime registers the Python object on each DuckDB connection); the catalog's
:class:`~catalog.functions.FunctionDef` rides in the node's ``meta`` under :data:`KEY`.
"""

from __future__ import annotations

import re

from sqlglot import exp

from catalog.errors import SqlStreamError
from catalog.functions import FunctionDef
from catalog.store import Catalog
from planner.errors import PlanError
from planner.functions import FUNCTIONS, STRUCTURAL, UNSUPPORTED
from planner.logical import Aggregate, OverAggregate
from planner.parse import parse_expression

KEY = "udf"


def user_function(node: exp.Expr) -> FunctionDef | None:
    """The user function a bound node calls, if it is such a call."""
    found = node.meta.get(KEY) if isinstance(node, exp.Anonymous) else None
    return found if isinstance(found, FunctionDef) else None


def mark_call(node: exp.Expr, catalog: Catalog) -> exp.Expr:
    """Mark ``node`` as a call of the catalog's function of its name, checking its arity."""
    if not isinstance(node, exp.Anonymous):
        return node
    fdef = catalog.function(node.name)
    if fdef is None:
        return node
    if fdef.kind == "table":
        raise PlanError(
            f"{fdef.name} is a table function: it gives rows, not a value",
            hint=f"call it in FROM: ... CROSS JOIN LATERAL TABLE({fdef.name}(...)) AS T(...)",
        )
    check_arity(fdef, node.expressions)
    node.meta[KEY] = fdef
    return node


def used_functions(plan_text: str, catalog: Catalog) -> tuple[FunctionDef, ...]:
    """The catalog's functions that a plan's DuckDB SQL calls (the runtime registers only
    those, so a job never imports the module of a function it does not use)."""
    def called(name: str) -> bool:  # in an expression, or named by an operator's spec
        n = re.escape(name)
        return re.search(rf'\b{n}\s*\(|"function":\s*"{n}"', plan_text, re.IGNORECASE) is not None

    return tuple(f for f in catalog.functions() if called(f.name))


def check_name(name: str) -> None:
    """Refuse a user function named like a built-in one: the call would parse as the
    built-in (sqlglot gives ``UPPER(x)`` a node of its own), never reaching the user's."""
    upper = name.upper()
    try:
        call = parse_expression(f"{name}(1)")
    except SqlStreamError:
        call = None
    if (
        upper in FUNCTIONS
        or upper in STRUCTURAL
        or upper in UNSUPPORTED
        or not isinstance(call, exp.Anonymous)
    ):
        raise PlanError(
            f"'{name}' is the name of a built-in function", hint="give the user function another name"
        )


def is_aggregate_call(node: exp.Expr) -> bool:
    """Whether a bound node calls a user aggregate function (``@udaf``)."""
    found = user_function(node)
    return found is not None and found.kind == "aggregate"


def check_arity(fdef: FunctionDef, args: list[exp.Expr]) -> None:
    if len(args) != len(fdef.input_types):
        raise PlanError(
            f"function {fdef.name} takes {len(fdef.input_types)} argument(s), got {len(args)}",
            hint=f"its signature is {fdef.signature()}",
        )


def check_python_aggregates(node: Aggregate, updating_input: bool, batch: bool) -> None:
    """Refuse, by name and position, what Flink refuses too: a Python aggregate over an
    updating input that has no ``retract`` (it could not take a -U/-D row back out), and a
    vectorized one (``func_type='pandas'``) in a streaming GROUP BY, whose groups never
    end (PyFlink: "Pandas UDAFs are not supported in streaming mode currently")."""
    for a in node.aggs:
        f = a.function
        if f is not None and f.func_type == "pandas" and node.window is None and not batch:
            raise PlanError(
                f"vectorized aggregate function {f.name} (func_type='pandas') in a streaming GROUP BY: "
                "it needs all of a group's rows at once, which a stream never has",
                hint="use it in a window aggregation (TUMBLE, HOP, CUMULATE, SESSION) or a bounded "
                "OVER window, or SET 'execution.runtime-mode' = 'batch'",
            ).with_position(a.line, a.col)
        if f is not None and updating_input and not f.retract:
            raise PlanError(
                f"aggregate function {f.name} has no retract method, so it cannot aggregate an "
                "updating input (-U/-D rows)",
                hint="define retract(accumulator, *args) on it, as Flink requires",
            ).with_position(a.line, a.col)


def check_over_python_aggregates(node: OverAggregate, batch: bool) -> None:
    """Refuse a vectorized aggregate (``func_type='pandas'``) over an UNBOUNDED OVER frame
    of a stream, as Flink does: its frame grows without end and it has no accumulator."""
    for a in node.aggs:
        f = a.function
        if f is not None and f.func_type == "pandas" and node.preceding is None and not batch:
            raise PlanError(
                f"vectorized aggregate function {f.name} (func_type='pandas') over an UNBOUNDED "
                "OVER frame: it needs all of a frame's rows at once, which grow without end on a stream",
                hint="bound the frame: ROWS BETWEEN n PRECEDING AND CURRENT ROW, or RANGE BETWEEN "
                "INTERVAL '...' PRECEDING AND CURRENT ROW",
            ).with_position(a.line, a.col)
