"""Joins: regular joins (``[INNER] JOIN``, ``LEFT|RIGHT|FULL [OUTER] JOIN ... ON`` with an
equality between the two sides) and the lookup join (``FOR SYSTEM_TIME AS OF`` a
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
from catalog.errors import SqlStreamError
from planner.bind.aggregates import AggregateBinder
from planner.bind.intervals import time_bounds
from planner.bind.scope import Scope, ScopeField, _err
from planner.errors import PlanError, UnsupportedError
from planner.logical import BoundField, Calc, Join, LogicalNode, LookupJoin, WindowAssign
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
        where: list[exp.Expr] | None = None,
    ) -> tuple[LogicalNode, Scope, list[exp.Expr]]:
        """One join of a FROM clause (joins of more inputs are bound left-deep, as Flink
        does): a lookup join when the table has ``FOR SYSTEM_TIME AS OF``, else a regular
        join. A comma join (or CROSS JOIN) takes its condition from the conjuncts of
        ``where`` that read only the relations joined so far, as Flink's optimizer pushes
        a filter into the join below it (``FROM a, b WHERE a.k = b.k`` is ``a JOIN b ON
        a.k = b.k``); the conjuncts it took are returned."""
        table = join.this
        if isinstance(table, exp.Table) and table.args.get("version") is not None:
            return (*self._bind_lookup_join(left, scope, join), [])
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
        on = join.args.get("on")
        comma = on is None and not join.args.get("using") and not side and kind in ("", "CROSS")
        if join.args.get("using"):
            raise _err(UnsupportedError("JOIN ... USING", hint="write JOIN ... ON a.k = b.k"), join)
        if (
            side not in _JOIN_TYPES
            or kind not in ("", "INNER", "OUTER", "CROSS")
            or (on is None and not comma)
        ):
            raise _err(UnsupportedError(f"{side} {kind} JOIN".strip()), join)
        right, right_scope = self._bind_relation(table, ctes)
        joined, right_fields = _joined_scope(scope, right_scope)
        taken = self._where_conjuncts_of(joined, where or []) if comma else []
        if comma and not taken:
            raise _err(
                UnsupportedError(
                    "a join without an equality condition (CROSS JOIN, a comma join) is not supported",
                    hint="a streaming join needs an equi-join key: JOIN ... ON a.k = b.k, or "
                    "WHERE a.k = b.k after FROM a, b",
                ),
                join,
            )
        on = exp.and_(*taken) if comma else on
        assert on is not None
        left_names = {f.name for f in left.fields}
        right_names = {f.name for f in right_fields}
        renamed = {f.name: sf.field.name for f, sf in zip(right_fields, right_scope.fields)}
        condition = self.bind_expr(on, joined)
        keys: list[tuple[str, str]] = []
        rest: list[exp.Expr] = []
        left_times = {f.name: f.time_attribute for f in left.fields if f.time_attribute}
        right_times = {
            name: attr for name, orig in renamed.items() if (attr := right.field(orig).time_attribute)
        }
        for conj in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            if isinstance(conj, exp.EQ) and all(isinstance(s, exp.Column) for s in (conj.left, conj.right)):
                a, b = conj.left.name, conj.right.name
                if a in right_names and b in left_names:
                    a, b = b, a
                if a in left_names and b in right_names and not (a in left_times and b in right_times):
                    keys.append((a, renamed[b]))
                    continue
            rest.append(conj)
        window = _window_join(left, right, renamed, keys, join)
        interval = None if window else time_bounds(left_times, right_times, rest, on)
        kind = "an interval join" if interval else "a regular join"
        if not keys:
            raise _err(
                UnsupportedError(
                    f"{kind} needs at least one equality between a column of each side",
                    hint="a streaming join is partitioned by its equi-join key: add ON a.k = b.k",
                ),
                on,
            )
        residual = exp.and_(*rest) if rest else None
        if interval is not None:
            # an interval join keeps both sides' time attributes (its output is append-only)
            joined, right_fields = _joined_scope(scope, right_scope, keep_time=True)
            fields = tuple(left.fields) + tuple(right_fields)
        else:
            fields = tuple(BoundField(f.name, f.type) for f in left.fields) + tuple(right_fields)
        node = Join(fields, left, right, _JOIN_TYPES[side], tuple(keys), residual, interval, window)
        return node, joined, taken

    def _where_conjuncts_of(self, joined: Scope, where: list[exp.Expr]) -> list[exp.Expr]:
        """The conjuncts of WHERE a comma join takes as its condition: those that read
        columns of the relations joined so far only (they bind in ``joined``), without a
        subquery (IN/EXISTS become semi joins after the FROM)."""
        taken = []
        for conj in where:
            if conj.find(exp.Select) is not None or conj.find(exp.Column) is None:
                continue
            try:
                self.bind_expr(conj, joined)
            except SqlStreamError:
                continue  # reads a relation joined later, or an error WHERE will report
            taken.append(conj)
        return taken

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
        try:
            versioned = self.catalog.table(table.name)
        except SqlStreamError as e:
            raise _err(e, table) from None
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
        try:
            dim = self.catalog.table(table.name)
        except SqlStreamError as e:
            raise _err(e, table) from None
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


def _window_join(
    left: LogicalNode,
    right: LogicalNode,
    renamed: dict[str, str],
    keys: list[tuple[str, str]],
    join: exp.Join,
) -> Window | None:
    """The window of a window join: a join whose keys pair window_start and window_end of
    two inputs that are the same window TVF (Flink's WindowJoin); None for another join."""
    pairs = {(a.lower(), renamed.get(b, b).lower()) for a, b in keys}
    if not {("window_start", "window_start"), ("window_end", "window_end")} <= pairs:
        return None
    windows = [_window_of(side) for side in (left, right)]
    if windows[0] is None or windows[1] is None or windows[0] != windows[1]:
        raise _err(
            UnsupportedError(
                "a window join joins two window TVFs of the same window (TUMBLE, HOP or CUMULATE, "
                "with the same size and time attribute kind) on window_start and window_end",
                hint="apply the same window TVF to both inputs",
            ),
            join,
        )
    if windows[0].type == "session" or windows[0].proctime:
        what = "SESSION windows" if windows[0].type == "session" else "processing-time windows"
        raise _err(UnsupportedError(f"window joins of {what}"), join)
    return windows[0]


def _window_of(node: LogicalNode) -> Window | None:
    """The window TVF whose rows ``node`` passes on (through projections and filters)."""
    while isinstance(node, Calc):
        node = node.input
    if not isinstance(node, WindowAssign):
        return None
    return dataclasses.replace(node.window, time_column="")  # each side has its own time column


def _original(scope_fields: list[ScopeField], field_name: str) -> str:
    """The dimension table's own name of a (possibly renamed) joined field."""
    for sf in scope_fields:
        if sf.field.name == field_name:
            return sf.name
    return field_name
