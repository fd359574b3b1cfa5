"""JSON_ARRAYAGG and JSON_OBJECTAGG as expressions over the aggregates that hold the same
state as Flink's JsonArrayAggFunction and JsonObjectAggFunction.

Flink hands both functions each value as ``JSON_STRING(value)`` (its
WrapJsonAggFunctionArgumentsRule) and then:

- JSON_ARRAYAGG keeps the texts in a list in arrival order (a retraction removes the first
  equal one) and writes them ``[a,b]``: a LISTAGG of the texts with ',' between them.
  NULL is left out (ABSENT ON NULL, the default) or written ``null`` (NULL ON NULL).
- JSON_OBJECTAGG keeps a map key -> text (a retraction removes the key when its value is
  the one retracted), fails the job on a key it already holds, and writes the map with its
  keys sorted (Jackson's ORDER_MAP_ENTRIES_BY_KEYS): a COLLECT of ``ROW(key, text)``,
  written by :class:`JsonObjectText`. NULL is ``null`` (NULL ON NULL, the default) or
  left out (ABSENT ON NULL).

Neither is ever NULL: an empty group gives ``[]`` or ``{}``.

>>> from sqlglot import parse_one
>>> from planner.dialect import Flink
>>> rewrite(parse_one("JSON_ARRAYAGG(x NULL ON NULL)", read=Flink)).sql(dialect=Flink)
"'[' || COALESCE(LISTAGG(COALESCE(JSON_STRING(x), 'null'), ','), '') || ']'"
"""

from __future__ import annotations

from sqlglot import exp

from planner.errors import PlanError, UnsupportedError
from planner.expressions import Collect, JsonArray, JsonObjectText

JSON_AGGREGATES = (exp.JSONArrayAgg, exp.JSONObjectAgg)
OBJECT_KEY = "json_objectagg"
"""Meta key of the COLLECT a JSON_OBJECTAGG became (:func:`check_key` reads it)."""
_NAMES = {exp.JSONArrayAgg: "JSON_ARRAYAGG", exp.JSONObjectAgg: "JSON_OBJECTAGG"}
_CONSTRUCTORS = (exp.JSONObject, JsonArray)


def _absent(node: exp.Expr, default: bool) -> bool:
    handling = str(node.args.get("null_handling") or "").upper()
    return "ABSENT" in handling if handling else default


def _json_text(value: exp.Expr) -> exp.Expr:
    """The text Flink aggregates for a value: JSON_OBJECT and JSON_ARRAY are JSON already
    (nested as they are), anything else goes through JSON_STRING."""
    if isinstance(value, _CONSTRUCTORS):
        return value.copy()
    return exp.func("JSON_STRING", value.copy())


def rewrite(node: exp.Expr) -> exp.Expr:
    """``node`` (a JSON aggregate call, or a FILTER around one) as an expression over
    LISTAGG or COLLECT; any other node as it is."""
    where: exp.Expr | None = None
    call = node
    if isinstance(node, exp.Filter) and isinstance(node.this, JSON_AGGREGATES):
        call, where = node.this, node.expression.this
    if not isinstance(call, JSON_AGGREGATES):
        return node
    if isinstance(node.parent, exp.Window):
        raise UnsupportedError(f"{_NAMES[type(call)]} in an OVER window")
    if where is not None:  # Flink's parser has no FILTER after a JSON aggregate
        raise PlanError(
            f"FILTER after {_NAMES[type(call)]}",
            hint="filter in WHERE, or aggregate CASE WHEN ... THEN value END (ABSENT ON NULL)",
        )
    if isinstance(call, exp.JSONArrayAgg):
        if call.args.get("order") is not None:
            raise UnsupportedError("JSON_ARRAYAGG with ORDER BY")
        text = _json_text(call.this)
        if not _absent(call, default=True):
            text = exp.Coalesce(this=text, expressions=[exp.Literal.string("null")])
        listed = exp.GroupConcat(this=text, separator=exp.Literal.string(","))
        joined = exp.Coalesce(this=listed, expressions=[exp.Literal.string("")])
        opened = exp.DPipe(this=exp.Literal.string("["), expression=joined)
        return exp.DPipe(this=opened, expression=exp.Literal.string("]"))
    (pair,) = call.expressions
    value = pair.expression.copy()
    row = exp.Anonymous(this="ROW", expressions=[pair.this.copy(), _json_text(value)])
    collected: exp.Expr = Collect(this=row)
    collected.meta[OBJECT_KEY] = True  # the binder checks the key is a string
    if _absent(call, default=False):  # a NULL value leaves its key out
        present = exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null()))
        collected = exp.Filter(this=collected, expression=exp.Where(this=present))
    return JsonObjectText(this=collected)
