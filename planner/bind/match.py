"""``MATCH_RECOGNIZE`` in FROM: the clause checked against its input and bound into a
``planner.logical.Match``.

What Flink refuses we refuse with the clause named (ALL ROWS PER MATCH, an ORDER BY not
led by a time attribute, alternation and PERMUTE in the pattern...); what Flink runs but
we do not yet (processing time, PREV/NEXT, functions other than the navigation and
aggregate calls, arithmetic, comparisons and logic) is refused as not supported.
"""

from __future__ import annotations

from sqlglot import exp

from catalog.types import DataType
from planner.bind.scope import _err
from planner.bind.windows import _interval_ms
from planner.errors import PlanError, UnsupportedError, position
from planner.logical import BoundField, LogicalNode, Match
from planner.match_pattern import parse_pattern, parse_skip
from planner.typecheck import infer

# What the pattern engine evaluates (``planner.physical_match.match_expr``).
EVALUATED = (
    exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Neg, exp.Not, exp.And, exp.Or,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.Is, exp.Between, exp.Identifier, exp.Star, exp.Anonymous,
    exp.Sum, exp.Avg, exp.Count, exp.Min, exp.Max,
)  # fmt: skip
AGGREGATES = (exp.Sum, exp.Avg, exp.Count, exp.Min, exp.Max)
NAVIGATION = ("FIRST", "LAST")
TIME_FUNCTIONS = ("MATCH_ROWTIME",)


def bind_match(node: LogicalNode, match: exp.MatchRecognize) -> Match:
    """The ``Match`` of ``match`` over ``node``; errors say which clause is wrong."""
    rows = match.args.get("rows")
    if rows is not None and rows.name.upper().startswith("ALL"):
        raise _err(
            UnsupportedError("ALL ROWS PER MATCH in MATCH_RECOGNIZE (Flink supports only ONE ROW PER MATCH)"),
            match,
        )
    names = {f.name for f in node.fields}
    keys: list[str] = []
    for e in match.args.get("partition_by") or []:
        if not isinstance(e, exp.Column) or e.table or e.name not in names:
            raise _err(
                PlanError(f"PARTITION BY {e.sql()} of MATCH_RECOGNIZE must name a column of its input"), e
            )
        keys.append(e.name)
    time_field, order = _order(node, match)
    written = match.args.get("pattern")  # its text; refusals point into it
    pattern = parse_pattern(written.name, position(written)) if written else parse_pattern("")
    variables = {e.var for e in pattern}
    defines: list[tuple[str, exp.Expr]] = []
    for d in match.args.get("define") or []:
        var = d.alias
        if var not in variables:
            raise _err(PlanError(f"DEFINE {var}: {var} is not a variable of the PATTERN"), d)
        _check(d.this, variables, names, "DEFINE")
        defines.append((var, d.this))
    measures: list[tuple[str, exp.Expr]] = []
    fields = [BoundField(k, node.field(k).type) for k in keys]
    for m in match.args.get("measures") or []:
        if m.args.get("window_frame") == "RUNNING":
            raise _err(UnsupportedError("RUNNING measures in MATCH_RECOGNIZE (Flink supports only FINAL)"), m)
        item = m.this
        if not isinstance(item, exp.Alias):
            raise _err(
                PlanError(f"the measure {item.sql()} of MATCH_RECOGNIZE needs a name: {item.sql()} AS name"),
                item,
            )
        _check(item.this, variables, names, "MEASURES")
        measures.append((item.alias, item.this))
        fields.append(_measure_field(item.alias, item.this, node, time_field))
    seen: set[str] = set()
    for f in fields:
        if f.name in seen:
            raise _err(PlanError(f"MATCH_RECOGNIZE has two output columns named {f.name}"), match)
        seen.add(f.name)
    after = match.args.get("after")
    clause = after or match  # refusals of the clause point at it
    try:
        skip, skip_var = parse_skip(after.name if after else None)
    except PlanError as e:
        raise _err(e, clause) from None
    if skip_var is not None and skip_var not in variables:
        raise _err(
            PlanError(f"AFTER MATCH SKIP TO {skip_var}: {skip_var} is not a variable of the PATTERN"), clause
        )
    if skip == "to_first" and skip_var == pattern[0].var and pattern[0].low > 0:
        raise _err(
            PlanError(
                f"AFTER MATCH SKIP TO FIRST {skip_var} would start the next match where this one "
                "started, forever (Flink fails the job on it)"
            ),
            clause,
        )
    within = match.args.get("within")
    within_ms = _interval_ms(within) if within is not None else None
    return Match(
        tuple(fields), node, tuple(keys), time_field, order, tuple(measures), pattern, tuple(defines),
        skip, skip_var, within_ms,
    )  # fmt: skip


def _order(node: LogicalNode, match: exp.MatchRecognize) -> tuple[str, tuple[tuple[str, bool, bool], ...]]:
    """The rowtime field that leads ORDER BY, and the secondary (field, descending, nulls
    first) keys (Flink's NULL order by default: first ascending, last descending)."""
    ordered = list(match.args["order"].expressions) if match.args.get("order") else []
    if not ordered:
        raise _err(PlanError("MATCH_RECOGNIZE needs ORDER BY <time attribute>"), match)
    first = ordered[0]
    col = first.this
    field = (
        node.field(col.name)
        if isinstance(col, exp.Column) and col.name in {f.name for f in node.fields}
        else None
    )
    if field is None or field.time_attribute is None or first.args.get("desc"):
        raise _err(
            PlanError(
                "ORDER BY of MATCH_RECOGNIZE must start with a time attribute in ascending order, "
                f"not {first.sql()}"
            ),
            first,
        )
    if field.time_attribute == "proctime":
        raise _err(UnsupportedError("MATCH_RECOGNIZE ordered by processing time (only by event time)"), first)
    rest: list[tuple[str, bool, bool]] = []
    for o in ordered[1:]:
        if not isinstance(o.this, exp.Column) or o.this.name not in {f.name for f in node.fields}:
            raise _err(PlanError(f"ORDER BY {o.sql()} of MATCH_RECOGNIZE must name a column"), o)
        rest.append((o.this.name, bool(o.args.get("desc")), bool(o.args.get("nulls_first"))))
    return col.name, tuple(rest)


def _check(e: exp.Expr, variables: set[str], names: set[str], clause: str) -> None:
    """Every node is one the engine evaluates, every column exists, every qualifier is a
    pattern variable, and an aggregate or FIRST/LAST reads one variable's rows."""
    for n in e.walk():
        if not isinstance(n, EVALUATED) or (
            isinstance(n, exp.Anonymous)
            and n.name.upper()
            not in (
                *NAVIGATION,
                *TIME_FUNCTIONS,
            )
        ):
            what = n.name.upper() if isinstance(n, exp.Anonymous) else n.key.upper()
            if isinstance(n, exp.Func) and not isinstance(n, exp.Anonymous):
                what = n.sql_name()
            if what in ("PREV", "NEXT", "MATCH_PROCTIME", "CLASSIFIER", "MATCH_NUMBER"):
                raise _err(UnsupportedError(f"{what} in the {clause} of MATCH_RECOGNIZE"), n)
            raise _err(
                UnsupportedError(
                    f"{what} in the {clause} of MATCH_RECOGNIZE",
                    hint="its expressions may use columns, FIRST/LAST, SUM/AVG/COUNT/MIN/MAX, "
                    "MATCH_ROWTIME(), arithmetic, comparisons, AND/OR/NOT and IS [NOT] NULL",
                ),
                n,
            )
        if isinstance(n, exp.Is) and not isinstance(n.expression, exp.Null):
            raise _err(
                UnsupportedError(f"{n.sql()} in the {clause} of MATCH_RECOGNIZE (only IS [NOT] NULL)"), n
            )
        if isinstance(n, exp.Column):
            if n.table and n.table not in variables:
                raise _err(PlanError(f"{n.sql()}: {n.table} is not a variable of the PATTERN"), n)
            if n.name not in names:
                raise _err(PlanError(f"column {n.name} is not in the input of MATCH_RECOGNIZE"), n)
        if isinstance(n, AGGREGATES) or (isinstance(n, exp.Anonymous) and n.name.upper() in NAVIGATION):
            read = {c.table for c in n.find_all(exp.Column)}
            if len(read) > 1:
                raise _err(
                    PlanError(
                        f"{n.sql()} reads the rows of more than one variable ({', '.join(sorted(read))})"
                    ),
                    n,
                )
            if isinstance(n, exp.Anonymous) and len(n.expressions) == 2:
                offset = n.expressions[1]
                if not (isinstance(offset, exp.Literal) and offset.is_int):
                    raise _err(PlanError(f"the offset of {n.sql()} must be an integer literal"), n)
        if (
            isinstance(n, exp.Anonymous)
            and n.name.upper() == "MATCH_ROWTIME"
            and (clause != "MEASURES" or n.expressions)
        ):
            raise _err(UnsupportedError(f"{n.sql()} in the {clause} of MATCH_RECOGNIZE"), n)
        if (isinstance(n, exp.Count) and n.args.get("distinct")) or isinstance(n, exp.Distinct):
            raise _err(
                UnsupportedError(
                    "DISTINCT aggregates in MATCH_RECOGNIZE (Flink does not support them either)"
                ),
                n,
            )


def _measure_field(name: str, e: exp.Expr, node: LogicalNode, time_field: str) -> BoundField:
    """A measure's type: that of the expression over the input, navigation removed; NULL
    when the variable has no row (an aggregate COUNT is 0)."""
    if isinstance(e, exp.Anonymous) and e.name.upper() == "MATCH_ROWTIME":
        return BoundField(name, node.field(time_field).type.with_nullable(False), "rowtime")
    plain = e.copy().transform(_unnavigated)
    t: DataType = infer(plain, node.field_type)
    if isinstance(plain, exp.Column) and plain.name == time_field:  # A.rowtime, LAST(A.rowtime)
        return BoundField(name, t.with_nullable(True), "rowtime")
    return BoundField(name, t if isinstance(e, exp.Count) else t.with_nullable(True))


def _unnavigated(n: exp.Expr) -> exp.Expr:
    if isinstance(n, exp.Column) and n.table:
        return exp.column(exp.to_identifier(n.name, quoted=True))
    if isinstance(n, exp.Anonymous) and n.name.upper() in NAVIGATION:
        return n.expressions[0]
    if isinstance(n, exp.Anonymous) and n.name.upper() == "MATCH_ROWTIME":
        return exp.Null()
    return n
