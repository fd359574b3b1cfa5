"""``MATCH_RECOGNIZE`` on event time (Flink's Match operator, ONE ROW PER MATCH).

State, keyed by the partition columns: ``pending``, the rows the watermark has not
passed (with their time in ms, ``__t``, and arrival number, ``__seq``: rows of one time
and equal secondary order keep their arrival order, as Flink's list per timestamp), and
``nfa``, per partition the pattern engine's partial and completed-but-waiting matches
(``runtime.operators.match_engine.PartitionState``, pickled with the rows they hold).

When the watermark advances to ``w``, the pending rows with time <= ``w`` go through the
engine partition by partition in ORDER BY order, as Flink's CepOperator feeds its NFA
(time first: before a time's rows, WITHIN drops the partial matches it rules out); each
match becomes one row of the partition keys and the measures. Rows that arrive at or
behind the watermark already passed are late: dropped and counted, as Flink does, and
sent to ``table.exec.late-rows.sink`` if set.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from catalog.types import DataType, parse_type
from planner.physical import INPUT_RELATION, MatchSpec
from runtime.batches import conform, output_schema, q
from runtime.decimal_context import EXACT
from runtime.operators.arrival import PendingUntilWatermark
from runtime.operators.late_rows import keeps_late_rows
from runtime.operators.match_engine import Engine, PartitionState
from runtime.operators.match_expr import Compiled, Evaluator, Step


class MatchOp(PendingUntilWatermark):
    def _prepare(self) -> None:
        spec = self.node.spec
        assert isinstance(spec, MatchSpec)
        self.spec = spec
        self.schema = output_schema(self.node.schema, False)
        fields = self.ctx.input_nodes[0].schema
        self.columns = [f.name for f in fields]
        cols = [q(c) for c in self.columns]
        self.keys = [q(k) for k in spec.partition_keys]
        time = q(spec.time_column)
        self.read_sql = (
            f"SELECT {', '.join(cols)}, epoch_ms({time}) AS __t, __seq "
            f"FROM {INPUT_RELATION} WHERE {time} IS NOT NULL"
        )
        keys = ", ".join([*self.keys, ""])
        self._new_state(
            fields,
            {"pending": self.read_sql, "nfa": f"SELECT {keys}NULL::BLOB AS __nfa FROM {INPUT_RELATION}"},
        )
        evaluator = Evaluator(self.columns, spec.time_column)
        conditions = {var: evaluator.compile(e) for var, e in spec.defines}
        self.engine = Engine(spec.pattern, conditions, spec.skip, spec.skip_var, spec.within_ms)
        self.measures: list[Compiled] = [evaluator.compile(e) for _, e in spec.measures]
        self.key_index = [self.columns.index(k) for k in spec.partition_keys]
        self.measure_types = [parse_type(f.type) for f in self.node.schema[len(spec.partition_keys) :]]
        secondary = [
            f"{q(k.column)} {'ASC' if k.ascending else 'DESC'} NULLS {'FIRST' if k.nulls_first else 'LAST'}"
            for k in spec.order
        ]
        self.order = ", ".join([*self.keys, "__t", *secondary, "__seq"])
        self.on = " AND ".join(f"n.{c} IS NOT DISTINCT FROM r.{c}" for c in self.keys) or "true"
        self.width = 16 + 8 * (len(cols) + 2)
        self.keeps_late_rows = keeps_late_rows(self.node, self.ctx.plan)
        self.time_column = self.spec.time_column

    # ---- firing ---------------------------------------------------------------------
    def _fire(self, bound: int) -> list[pa.RecordBatch]:
        st = self.state
        st.execute(f"CREATE OR REPLACE TEMP TABLE __ready AS SELECT * FROM pending WHERE __t <= {bound}")
        keys = ", ".join(self.keys)
        # partitions with rows to run; with WITHIN, every partition (time alone may free matches)
        if self.spec.within_ms is not None:
            touched = f"SELECT {keys + ', ' if keys else ''}__nfa FROM nfa"
        elif not st.scalar("SELECT count(*) FROM __ready"):
            return []
        else:
            touched = f"SELECT n.* FROM nfa n SEMI JOIN __ready r ON {self.on}"
        kept = st.query(touched)
        states: dict[tuple[Any, ...], PartitionState] = {}
        blobs = kept.column("__nfa").to_pylist()
        key_values = list(zip(*(kept.column(i).to_pylist() for i in range(len(self.keys))))) or [()] * len(
            blobs
        )
        for key, blob in zip(key_values, blobs):
            states[tuple(key)] = pickle.loads(blob)
        ready = st.query(f"SELECT * FROM __ready ORDER BY {self.order}")
        width = len(self.columns)
        columns = [ready.column(i).to_pylist() for i in range(width)]
        times = ready.column("__t").to_pylist()
        out: list[list[Any]] = [[] for _ in self.schema]
        last_ts: dict[tuple[Any, ...], int] = {}
        for i, ts in enumerate(times):
            row = tuple(c[i] for c in columns)
            key = tuple(row[k] for k in self.key_index)
            state = states.get(key)
            if state is None:
                state = states[key] = PartitionState()
            if last_ts.get(key) != ts:  # before a time's rows: WITHIN times out, matches wait no more
                last_ts[key] = ts
                self._emit(key, self.engine.advance(state, ts), out)
            self._emit(key, self.engine.process(state, row, ts), out)
        for key, state in states.items():
            self._emit(key, self.engine.advance(state, bound), out)
        st.execute(f"DELETE FROM pending WHERE __t <= {bound}")
        self._save(states)
        self._report()
        table = pa.table({f.name: _array(values, f.type) for f, values in zip(self.schema, out)})
        return conform(table, self.schema)

    def _emit(self, key: tuple[Any, ...], matches: list[tuple[Step, ...]], out: list[list[Any]]) -> None:
        for steps in matches:
            values = [*key, *(_fit(m(steps), t) for m, t in zip(self.measures, self.measure_types))]
            for column, value in zip(out, values):
                column.append(value)

    def _save(self, states: dict[tuple[Any, ...], PartitionState]) -> None:
        """Replace the run partitions' engine state; a partition with nothing open has none."""
        st = self.state
        if not states:
            return
        names = [f"k{i}" for i in range(len(self.keys))]
        keys = list(states)
        table = pa.table(
            {
                **{n: pa.array([k[i] for k in keys]) if keys else pa.array([]) for i, n in enumerate(names)},
                "__nfa": pa.array([pickle.dumps(states[k]) for k in keys], pa.binary()),
                "__keep": pa.array([not states[k].empty for k in keys], pa.bool_()),
            }
        )
        st.register("__states", table)
        try:
            on = " AND ".join(f"n.{c} IS NOT DISTINCT FROM r.k{i}" for i, c in enumerate(self.keys)) or "true"
            st.execute(f"DELETE FROM nfa n USING __states r WHERE {on}")
            st.execute(f"INSERT INTO nfa SELECT {', '.join([*names, '__nfa'])} FROM __states WHERE __keep")
        finally:
            st.con.unregister("__states")


def _fit(value: Any, t: DataType) -> Any:
    """A measure's Python value as its column's type takes it: a DECIMAL rounded to its
    scale, and NULL past its precision (Flink's DECIMAL arithmetic and SUM overflow to NULL)."""
    if value is None:
        return None
    if isinstance(value, Decimal) and t.name == "DECIMAL":
        scale = t.scale or 0
        fitted = value.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP, EXACT)
        return fitted if fitted.copy_abs() < Decimal(1).scaleb((t.precision or 38) - scale) else None
    if t.name in ("DOUBLE", "FLOAT") and not isinstance(value, float):
        return float(value)
    if t.is_integral and not isinstance(value, int):
        return int(value)
    return value


def _array(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    return pa.array(values, type=arrow_type)
