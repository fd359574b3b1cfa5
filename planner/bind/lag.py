"""``LAG(value [, offset [, default]])`` and ``LEAD(..)`` in an OVER window, bound as
Flink binds them.

Flink computes LAG as an OVER aggregate (its ``LagAggFunction``: the partition's last
``offset + 1`` values, the current row's included), so on a stream it runs over the
default frame only (RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW: rows of one time are
accumulated together, so each gets the value before the last of them); its batch mode takes
the row ``offset`` rows before in the window's order, as every SQL engine does. A frame is
refused in both modes (Calcite's validator: LAG and LEAD take none), and LEAD on a stream
(it would wait for rows not yet seen: ``LEAD Function is not supported in stream mode.``).

The offset is an integer literal (Flink finds no ``accumulate`` for a column of offsets);
the default, if any, has the value's kind of type (Flink: "Please explicitly cast default
value"), and a NOT NULL default makes the result NOT NULL, as Calcite types it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from catalog.types import DataType
from planner.bind.scope import _err, cast_if_needed
from planner.dialect import Flink
from planner.errors import PlanError, UnsupportedError, position
from planner.logical import LogicalAgg
from planner.typecheck import infer

OFFSET_FUNCTIONS = (exp.Lag, exp.Lead)

# Flink's internal classes of values: LAG's default must have its value's (DATE and TIME
# are ints inside Flink, but its validator does not let them meet an INT here)
_CLASSES = {
    "CHAR": "string", "VARCHAR": "string", "STRING": "string",
    "BINARY": "bytes", "VARBINARY": "bytes", "BYTES": "bytes",
    "TIMESTAMP": "timestamp", "TIMESTAMP_LTZ": "timestamp",
}  # fmt: skip


def refuse_frame(call: exp.Window, window: exp.Window) -> None:
    """LAG and LEAD take no ROWS/RANGE frame, as Calcite's validator says (in its words)."""
    if isinstance(call.this, OFFSET_FUNCTIONS) and window.args.get("spec") is not None:
        name = type(call.this).__name__.upper()
        raise _err(
            PlanError(
                "ROW/RANGE not allowed with RANK, DENSE_RANK or ROW_NUMBER functions",
                hint=f"{name} takes the row {'before' if name == 'LAG' else 'after'} in the "
                "window's order whatever the frame: leave out ROWS/RANGE BETWEEN ...",
            ),
            call,
        )


def refuse_lead_on_stream(call: exp.Window) -> None:
    """LEAD would wait for rows of the partition not yet seen: Flink refuses it on a stream."""
    if isinstance(call.this, exp.Lead):
        raise _err(
            UnsupportedError(
                "LEAD Function is not supported in stream mode.",
                hint="LAG(...) runs on a stream; SET 'execution.runtime-mode' = 'batch' runs LEAD "
                "over a bounded input",
            ),
            call,
        )


def offset_agg(
    name: str, call: exp.Lag | exp.Lead, bound: exp.Lag | exp.Lead, lookup: Callable[[str], DataType]
) -> LogicalAgg:
    """The LogicalAgg of a LAG or LEAD call (``bound``: its arguments bound): func "lag" or
    "lead", ``arg`` the value, ``args`` the offset and the default cast to the value's type."""
    func = type(call).__name__.lower()
    value = bound.this
    value_type = infer(value, lookup)
    offset = bound.args.get("offset")
    n = 1
    if offset is not None:
        literal = offset.this if isinstance(offset, exp.Neg) else offset
        if not isinstance(literal, exp.Literal) or literal.is_string or not literal.this.isdigit():
            raise _err(
                UnsupportedError(f"{func.upper()}'s offset must be an integer literal, not {offset.sql()}"),
                call.args.get("offset") or call,
            )
        n = -int(literal.this) if isinstance(offset, exp.Neg) else int(literal.this)
        if n < 0:  # Flink's job fails at its first row: "Offset(-1) should be positive."
            raise _err(PlanError(f"{func.upper()}'s offset {n} should not be negative"), call)
    default = bound.args.get("default")
    result = value_type.with_nullable(True)
    args: tuple[exp.Expr, ...] = (exp.Literal.number(n),)
    if default is not None:
        if isinstance(default, exp.Null):  # Calcite: "Illegal use of 'NULL'"
            raise _err(PlanError(f"Illegal use of 'NULL' as {func.upper()}'s default"), call)
        default_type = infer(default, lookup)
        if _value_class(default_type) != _value_class(value_type):
            raise _err(
                PlanError(
                    f"{func.upper()}'s default {default.sql()} ({default_type.sql()}) does not have "
                    f"the type of its value ({value_type.with_nullable(True).sql()})",
                    hint=f"cast it: CAST({default.sql()} AS {value_type.with_nullable(True).sql()})",
                ),
                call.args.get("default") or call,
            )
        result = value_type.with_nullable(default_type.nullable)
        args = (*args, cast_if_needed(default, default_type, value_type))
    line, col = position(call)
    return LogicalAgg(name, func, value, result, text=call.sql(dialect=Flink), line=line, col=col, args=args)


def _value_class(t: DataType) -> str:
    return "decimal" if t.name == "DECIMAL" else _CLASSES.get(t.name, t.name)
