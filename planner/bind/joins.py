"""Joins: regular joins (``[INNER] JOIN``, ``LEFT|RIGHT|FULL [OUTER] JOIN ... ON`` with an
equality between the two sides, of columns or of expressions over one side each, and the
comma join whose equality is in WHERE) and the lookup join (``FOR SYSTEM_TIME AS OF`` a
processing-time attribute), and interval joins (a regular join whose condition bounds
the time attributes of both sides against each other, ``planner/bind/intervals.py``).
Semi and anti joins come from WHERE's subqueries (``planner/bind/subqueries.py``). The
other joins Flink has (window, event-time temporal) are refused here by name and
position, never planned as a regular join whose changelog would differ from Flink's.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from catalog.connectors import validate_options
from catalog.errors import CatalogError, SqlStreamError
from catalog.table import TableDef
from planner.bind.aggregates import AggregateBinder
from planner.bind.hints import StateTtlHint, input_name
from planner.bind.intervals import time_bounds
from planner.bind.scope import Scope, ScopeField, _err, _ref
from planner.errors import PlanError, UnsupportedError
from planner.logical import (
    WINDOW_ENDS,
    BoundField,
    Calc,
    Join,
    LogicalNode,
    LookupJoin,
    window_columns,
)
from planner.typecheck import infer
from planner.window import Window

_JOIN_TYPES = {"": "inner", "LEFT": "left", "RIGHT": "right", "FULL": "full"}


class JoinBinder(AggregateBinder):
    """Binds joins onto the relation bound so far."""

    def _bind_join(
        self,
        left: LogicalNode,
        scope: Scope,
        join: exp.Join,
        ctes: dict[str, exp.Expr],
        hints: StateTtlHint | None = None,
        left_name: str | None = None,
        where: list[exp.Expr] | None = None,
    ) -> tuple[LogicalNode, Scope]:
        """One join of a FROM clause (joins of more inputs are bound left-deep, as Flink
        does): a lookup join when the table has ``FOR SYSTEM_TIME AS OF``, else a regular
        join, whose inputs take their STATE_TTL from ``hints`` (the left one by
        ``left_name``, None when it is a join). A comma join takes its condition from
        ``where`` (the WHERE clause's conjuncts not placed yet; those it takes are
        removed), as Flink's optimizer pushes them into the join: ``FROM o, s WHERE o.id =
        s.oid AND o.t BETWEEN ...`` is the interval join of Flink's documentation."""
        table = join.this
        if isinstance(table, exp.Table) and table.args.get("version") is not None:
            return self._bind_lookup_join(left, scope, join)
        side = (join.args.get("side") or "").upper()
        kind = (join.args.get("kind") or "").upper()
        if join.args.get("method"):
            raise _err(
                UnsupportedError(f"{join.args['method'].upper()} JOIN", hint="write JOIN ... ON"), join
            )
        if kind in ("SEMI", "ANTI"):
            raise _err(
                UnsupportedError(
                    f"{kind} joins are not supported yet",
                    hint="write WHERE x IN (SELECT ...) or WHERE [NOT] EXISTS (SELECT ...)",
                ),
                join,
            )
        bound_right: tuple[LogicalNode, Scope] | None = None
        if kind in ("", "CROSS") and not side and where and join.args.get("on") is None:
            bound_right = self._bind_relation(table, ctes)
            on = self._comma_join_condition(scope, bound_right[1], where)
            if on is not None:  # an inner join on WHERE's conditions, as Flink plans it
                join = join.copy()
                join.set("on", on)
                join.set("kind", None)
                kind = ""
        if kind == "CROSS" or (join.args.get("on") is None and not join.args.get("using")):
            if kind == "CROSS" and side:
                raise _err(UnsupportedError(f"{side} CROSS JOIN"), join)
            join = join.copy()  # a cross join: every pair, on one subtask (as Flink runs it)
            join.set("on", exp.true())
            join.set("kind", None)
            kind = ""
        if join.args.get("using"):
            raise _err(UnsupportedError("JOIN ... USING", hint="write JOIN ... ON a.k = b.k"), join)
        if side not in _JOIN_TYPES or kind not in ("", "INNER", "OUTER"):
            raise _err(UnsupportedError(f"{side} {kind} JOIN".strip()), join)
        right, right_scope = bound_right or self._bind_relation(table, ctes)
        joined, right_fields = _joined_scope(scope, right_scope)
        left_names = {f.name for f in left.fields}
        right_names = {f.name for f in right_fields}
        renamed = {f.name: sf.field.name for f, sf in zip(right_fields, right_scope.fields)}
        condition = self.bind_expr(join.args["on"], joined)
        keys: list[tuple[str, str]] = []
        rest: list[exp.Expr] = []
        left_times = {f.name: f.time_attribute for f in left.fields if f.time_attribute}
        right_times = {
            name: attr for name, orig in renamed.items() if (attr := right.field(orig).time_attribute)
        }
        left_extra: list[tuple[str, exp.Expr]] = []  # key expressions, computed below the join
        right_extra: list[tuple[str, exp.Expr]] = []
        for conj in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            if conj == exp.true():  # ON TRUE, a cross join's: no condition to check
                continue
            if isinstance(conj, exp.EQ) and all(isinstance(s, exp.Column) for s in (conj.left, conj.right)):
                a, b = conj.left.name, conj.right.name
                if a in right_names and b in left_names:
                    a, b = b, a
                if a in left_names and b in right_names and not (a in left_times and b in right_times):
                    keys.append((a, renamed[b]))
                    continue
            elif isinstance(conj, exp.EQ) and (pair := _key_expressions(conj, left_names, right_names)):
                # ON a.k = b.c % 50: Flink projects the key expressions below the join
                mine, theirs = pair
                left_extra.append((f"$lk{len(left_extra)}", mine))
                right_extra.append((f"$rk{len(right_extra)}", _renamed(theirs, renamed)))
                keys.append((left_extra[-1][0], right_extra[-1][0]))
                continue
            rest.append(conj)
        left, right = _with_keys(left, left_extra), _with_keys(right, right_extra)
        windowed = _window_join(left, right, renamed, keys, join)
        window, ends = windowed if windowed else (None, WINDOW_ENDS)
        interval = None if window else time_bounds(left_times, right_times, rest, join.args["on"])
        kind = "an interval join" if interval else "a regular join"
        if not keys and (interval is not None or window is not None):
            raise _err(
                UnsupportedError(
                    f"{kind} needs at least one equality between a column of each side",
                    hint="a streaming join is partitioned by its equi-join key: add ON a.k = b.k",
                ),
                join.args["on"],
            )
        residual = exp.and_(*rest) if rest else None
        if interval is not None:
            # an interval join keeps both sides' time attributes (its output is append-only)
            joined, right_fields = _joined_scope(scope, right_scope, keep_time=True)
            fields = tuple(left.fields) + tuple(right_fields)
        else:
            fields = tuple(BoundField(f.name, f.type) for f in left.fields) + tuple(right_fields)
        if right_extra:  # the key columns go after each side's own (the join's output widths)
            n = len(left.fields) - len(left_extra)
            visible = fields[:n] + fields[len(left.fields) :]
            fields = visible[:n] + left.fields[n:] + visible[n:] + right.fields[-len(right_extra) :]
        ttl: tuple[int | None, int | None] = (None, None)
        if hints is not None:  # time-bounded joins take the keys and keep their own bound
            ttl = (hints.take(left_name), hints.take(input_name(table)))
        join_type = _JOIN_TYPES[side]
        node = Join(fields, left, right, join_type, tuple(keys), residual, interval, window, window_ends=ends)
        if interval is None and window is None:
            node = dataclasses.replace(node, state_ttl_ms=ttl)
        if right_extra:  # and are dropped after it
            return Calc(visible, node, tuple((f.name, _ref(f.name)) for f in visible)), joined
        return node, joined

    def _comma_join_condition(self, left: Scope, right: Scope, where: list[exp.Expr]) -> exp.Expr | None:
        """The WHERE conjuncts a comma join can take as its ON: those that read a column
        of the new table and bind over the two sides (a conjunct naming a table joined
        later waits for that join); subqueries stay in WHERE (semi and anti joins)."""
        joined, _ = _joined_scope(left, right)
        taken: list[exp.Expr] = []
        for conj in list(where):
            if conj.find(exp.Query, exp.Exists) is not None:
                continue
            columns = list(conj.find_all(exp.Column))
            if not any(_reads(right, c) and not (c.table and _reads(left, c)) for c in columns):
                continue
            try:
                self.bind_expr(conj, joined)
            except SqlStreamError:
                continue
            taken.append(conj)
            where.remove(conj)
        return exp.and_(*(c.copy() for c in taken)) if taken else None

    def _bind_temporal_join(
        self, left: LogicalNode, scope: Scope, join: exp.Join, left_time: str
    ) -> tuple[LogicalNode, Scope]:
        """``JOIN versioned FOR SYSTEM_TIME AS OF o.rowtime AS r ON o.k = r.k``: each row
        joins the version of ``versioned`` (a table with a PRIMARY KEY and a WATERMARK)
        that was valid at the row's time (Flink's event-time temporal join)."""
        table = join.this
        kind = (join.args.get("side") or "").upper()
        if kind not in ("", "LEFT") or (join.args.get("kind") or "").upper() not in ("", "INNER", "OUTER"):
            raise _err(UnsupportedError(f"{kind or join.args.get('kind')} temporal joins"), join)
        versioned = self.lookup(table)
        if not isinstance(versioned, TableDef):
            raise _err(CatalogError(f"'{table.name}' is a view, not a table"), table)
        pk = versioned.schema.primary_key
        if not pk or versioned.schema.watermark is None:
            raise _err(
                UnsupportedError(
                    f"FOR SYSTEM_TIME AS OF a rowtime needs a versioned table, but '{versioned.name}' has no "
                    f"{'PRIMARY KEY' if not pk else 'WATERMARK'} (a lookup join needs a processing-time "
                    "attribute)",
                    hint="a versioned table declares PRIMARY KEY (...) NOT ENFORCED and a WATERMARK; "
                    "for a lookup join use AS OF a PROCTIME() column",
                ),
                table,
            )
        plain = exp.Table(this=table.this.copy(), alias=table.args.get("alias"))
        right, right_scope = self._bind_relation(plain, {})
        joined, right_fields = _joined_scope(scope, right_scope)
        renamed = {f.name: sf.field.name for f, sf in zip(right_fields, right_scope.fields)}
        on = join.args.get("on")
        if on is None:
            message = "a temporal join needs ON with an equality on the versioned table's key"
            raise _err(PlanError(message), join)
        condition = self.bind_expr(on, joined)
        left_names = {f.name for f in left.fields}
        keys: list[tuple[str, str]] = []
        rest: list[exp.Expr] = []
        for conj in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            if isinstance(conj, exp.EQ) and all(isinstance(s, exp.Column) for s in (conj.left, conj.right)):
                a, b = conj.left.name, conj.right.name
                if a in renamed and b in left_names:
                    a, b = b, a
                # the key is the primary key: the versions of a key are the rows with that key
                if a in left_names and renamed.get(b, "").lower() in {k.lower() for k in pk}:
                    keys.append((a, renamed[b]))
                    continue
            rest.append(conj)
        if {b.lower() for _, b in keys} != {k.lower() for k in pk}:
            raise _err(
                UnsupportedError(
                    f"a temporal join needs an equality on every column of the PRIMARY KEY of "
                    f"'{versioned.name}' ({', '.join(pk)})",
                    hint="join the versioned table on its primary key",
                ),
                on,
            )
        right_time = next(
            f.name for f, sf in zip(right_fields, right_scope.fields) if sf.field.time_attribute == "rowtime"
        )
        residual = exp.and_(*rest) if rest else None
        # the left's rows keep their time attribute (and the output its order in time)
        fields = tuple(left.fields) + tuple(right_fields)
        node = Join(
            fields, left, right, "left" if kind == "LEFT" else "inner", tuple(keys), residual,
            as_of=(left_time, right_time),
        )  # fmt: skip
        return node, joined

    def _bind_lookup_join(self, left: LogicalNode, scope: Scope, join: exp.Join) -> tuple[LogicalNode, Scope]:
        """``JOIN dim FOR SYSTEM_TIME AS OF t.proc AS d ON t.k = d.k``: each row looks its
        key up in the dimension table as it is at processing time (Flink's lookup join)."""
        table = join.this
        version = table.args.get("version") if isinstance(table, exp.Table) else None
        if version is None:
            raise _err(
                UnsupportedError(
                    "regular joins are not supported yet",
                    hint="a lookup join works: JOIN dim FOR SYSTEM_TIME AS OF t.proc_time AS d ON ...",
                ),
                join,
            )
        if join.args.get("using"):
            raise _err(UnsupportedError("JOIN ... USING in a lookup join", hint="write ON a = b"), join)
        time_expr = self.bind_expr(version.expression, scope)
        time_field = left.field(time_expr.name) if isinstance(time_expr, exp.Column) else None
        if time_field is not None and time_field.time_attribute == "rowtime":
            return self._bind_temporal_join(left, scope, join, time_field.name)
        if time_field is None or time_field.time_attribute != "proctime":
            raise _err(
                UnsupportedError(
                    "FOR SYSTEM_TIME AS OF needs a processing-time attribute (a lookup join) or a "
                    "rowtime attribute (an event-time temporal join)",
                    hint="declare proc_time AS PROCTIME() on the probe table, or a WATERMARK",
                ),
                version,
            )
        kind = (join.args.get("side") or "").upper()
        if kind not in ("", "LEFT") or (join.args.get("kind") or "").upper() not in ("", "INNER", "OUTER"):
            raise _err(UnsupportedError(f"{kind or join.args.get('kind')} lookup joins"), join)
        dim = self.lookup(table)
        if not isinstance(dim, TableDef):
            raise _err(CatalogError(f"'{table.name}' is a view, not a table"), table)
        spec = validate_options(dim.options, f"table '{dim.name}'")
        if not spec.lookup:
            raise _err(
                UnsupportedError(f"connector '{spec.name}' of table '{dim.name}' cannot be looked up"),
                table,
            )
        dim_alias = table.alias_or_name
        taken = {f.name.lower() for f in left.fields}
        dim_fields: list[BoundField] = []
        dim_scope: list[ScopeField] = []
        for col in dim.schema.physical:
            name = col.name
            n = 0
            while name.lower() in taken:
                name = f"{col.name}{n}"
                n += 1
            taken.add(name.lower())
            f = BoundField(name, col.type)
            dim_fields.append(f)
            dim_scope.append(ScopeField(frozenset({dim_alias.lower(), dim.name.lower()}), f, col.name))
        joined = Scope(scope.fields + dim_scope)
        on = join.args.get("on")
        if on is None:
            raise _err(PlanError("a lookup join needs ON with an equality on the dimension's key"), join)
        condition = self.bind_expr(on, joined)
        dim_names = {f.name for f in dim_fields}
        keys: list[tuple[str, str]] = []
        rest: list[exp.Expr] = []
        for conj in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            if isinstance(conj, exp.EQ) and all(isinstance(s, exp.Column) for s in (conj.left, conj.right)):
                a, b = conj.left.name, conj.right.name
                if a in dim_names and b not in dim_names:
                    a, b = b, a
                if b in dim_names and a not in dim_names:
                    keys.append((a, _original(dim_scope, b)))
                    continue
            rest.append(conj)
        if not keys:
            raise _err(
                PlanError(
                    f"the ON condition of the lookup join needs an equality between a column of the "
                    f"probe side and a column of '{dim.name}'"
                ),
                on,
            )
        residual = exp.and_(*rest) if rest else None
        fields = tuple(left.fields) + tuple(dim_fields)
        node = LookupJoin(fields, left, dim, tuple(keys), "left" if kind == "LEFT" else "inner", residual)
        return node, joined


def _reads(scope: Scope, column: exp.Column) -> bool:
    """Whether ``column`` names a field of ``scope`` (by its qualifier when it has one)."""
    try:
        return scope.lookup(column.name, column.table or None) is not None
    except SqlStreamError:  # ambiguous within the scope: it is in it
        return True


def _key_expressions(
    eq: exp.EQ, left_names: set[str], right_names: set[str]
) -> tuple[exp.Expr, exp.Expr] | None:
    """``(left side, right side)`` of an equality whose operands each read the columns of one
    side only, one of them not a plain column (a computed join key); None otherwise."""
    cols = [{c.name for c in e.find_all(exp.Column)} for e in (eq.left, eq.right)]
    if not cols[0] or not cols[1]:
        return None
    if cols[0] <= left_names and cols[1] <= right_names:
        return eq.left, eq.right
    if cols[0] <= right_names and cols[1] <= left_names:
        return eq.right, eq.left
    return None


def _renamed(e: exp.Expr, renamed: dict[str, str]) -> exp.Expr:
    """``e`` over the join's names of the right side's columns, over the right side's own."""
    return e.copy().transform(
        lambda n: _ref(renamed[n.name]) if isinstance(n, exp.Column) and n.name in renamed else n
    )


def _with_keys(node: LogicalNode, keys: list[tuple[str, exp.Expr]]) -> LogicalNode:
    """``node`` with the computed join keys ``keys`` as columns after its own."""
    if not keys:
        return node
    fields = tuple(node.fields) + tuple(BoundField(name, infer(e, node.field_type)) for name, e in keys)
    projections = tuple((f.name, _ref(f.name)) for f in node.fields) + tuple(keys)
    return Calc(fields, node, projections)


def _joined_scope(left: Scope, right: Scope, keep_time: bool = False) -> tuple[Scope, list[BoundField]]:
    """The scope after a join: the left's fields, then the right's, renamed with a
    numeric suffix where a name is taken (Flink's ``id0``); time attributes only when
    ``keep_time`` (an interval join's)."""

    def attr(f: BoundField) -> str | None:
        return f.time_attribute if keep_time else None

    taken = {sf.field.name.lower() for sf in left.fields}
    fields: list[BoundField] = []
    scope_fields = [
        ScopeField(sf.qualifiers, BoundField(sf.field.name, sf.field.type, attr(sf.field)), sf.alias)
        for sf in left.fields
    ]
    for sf in right.fields:
        name = sf.field.name
        n = 0
        while name.lower() in taken:
            name = f"{sf.field.name}{n}"
            n += 1
        taken.add(name.lower())
        f = BoundField(name, sf.field.type, attr(sf.field))
        fields.append(f)
        scope_fields.append(ScopeField(sf.qualifiers, f, sf.name if name != sf.name else sf.alias))
    return Scope(scope_fields), fields


def _not_one_window(join: exp.Expr) -> SqlStreamError:
    return _err(
        UnsupportedError(
            "a window join joins two window TVFs of the same window (TUMBLE, HOP or CUMULATE, "
            "with the same size and time attribute kind) on window_start and window_end",
            hint="apply the same window TVF to both inputs",
        ),
        join,
    )


def _window_join(
    left: LogicalNode,
    right: LogicalNode,
    renamed: dict[str, str],
    keys: list[tuple[str, str]],
    join: exp.Expr,
) -> tuple[Window, tuple[str, str]] | None:
    """The window of a window join, and each side's window_end column: a join whose keys
    pair window_start and window_end of two inputs of the same window (Flink's WindowJoin):
    window TVFs, or window aggregations whose window columns reach the join renamed or not
    (Nexmark q8 and q5 join two window aggregations on their starttime and endtime); None
    for another join."""
    pairs = {(a.lower(), renamed.get(b, b).lower()) for a, b in keys}
    lf, rf = window_columns(left), window_columns(right)
    if lf is not None and rf is not None:
        (lw, ls, le, _), (rw, rs, re_, _) = lf, rf
        paired = {(ls.lower(), rs.lower()), (le.lower(), re_.lower())} <= pairs
        literal = (ls, le, rs, re_) == ("window_start", "window_end") * 2
        same = dataclasses.replace(lw, time_column="") == dataclasses.replace(rw, time_column="")
        if paired and not literal and (lw.type == "session" or lw.proctime or not same):
            return None  # renamed window columns of other windows: a regular join, as before
    else:
        paired = False
    if not paired:
        if not {("window_start", "window_start"), ("window_end", "window_end")} <= pairs:
            return None
        raise _not_one_window(join)
    assert lf is not None and rf is not None
    window = dataclasses.replace(lf[0], time_column="")  # each side has its own time column
    if window != dataclasses.replace(rf[0], time_column=""):
        raise _not_one_window(join)
    if window.type == "session" or window.proctime:
        what = "SESSION windows" if window.type == "session" else "processing-time windows"
        raise _err(UnsupportedError(f"window joins of {what}"), join)
    return window, (lf[2], rf[2])


def _original(scope_fields: list[ScopeField], field_name: str) -> str:
    """The dimension table's own name of a (possibly renamed) joined field."""
    for sf in scope_fields:
        if sf.field.name == field_name:
            return sf.name
    return field_name
