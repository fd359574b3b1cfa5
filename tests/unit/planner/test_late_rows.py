"""Planning the late-rows side output (``table.exec.late-rows.sink``): a second sink fed by
each event-time window operator's late rows, checked like any sink, shown by EXPLAIN."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError
from planner.physical import LATE_ROWS_OUTPUT, CalcSpec, PhysicalPlan, SinkSpec, UnionSpec
from tests.unit.planner.conftest import catalog_of

DDL = """
CREATE TABLE clicks (k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
    WITH ('connector' = 'datagen');
CREATE TABLE per_window (k INT, n BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE per_key (k INT, n BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE late (row_json STRING, operator STRING, event_time TIMESTAMP(3))
    WITH ('connector' = 'filesystem', 'path' = '/tmp/late', 'format' = 'json');
"""
WINDOWED = """INSERT INTO per_window SELECT k, COUNT(*) FROM
    TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end"""
CONFIG = {"table.exec.late-rows.sink": "late", "execution.checkpointing.interval": "1 s"}


@pytest.fixture
def catalog() -> Catalog:
    return catalog_of(DDL)


def test_a_window_aggregate_feeds_a_second_sink_with_its_late_rows(catalog: Catalog) -> None:
    plan = planner.plan(WINDOWED, catalog, CONFIG)
    window = next(n for n in plan.nodes if n.kind == "window_aggregate")
    late_sink = next(n for n in plan.nodes if isinstance(n.spec, SinkSpec) and n.spec.table == "late")
    calc = plan.node(late_sink.inputs[0].source)
    assert isinstance(calc.spec, CalcSpec)
    assert calc.inputs[0].source == window.id and calc.inputs[0].output == LATE_ROWS_OUTPUT
    # the table's own columns, in its order: a subset of what late rows carry
    assert [name for name, _ in calc.spec.projections] == ["row_json", "operator", "event_time"]
    assert late_sink.spec.guarantee.value == "exactly-once"  # type: ignore[union-attr]
    # the main sink still reads the window's main output only
    main = next(n for n in plan.nodes if isinstance(n.spec, SinkSpec) and n.spec.table == "per_window")
    assert all(e.output == 0 for n in plan.nodes if n is not calc for e in n.inputs)
    assert main.id < late_sink.id
    assert PhysicalPlan.from_json(plan.to_json()) == plan  # checkpoints keep the plan as JSON
    text = planner.explain(WINDOWED, catalog, CONFIG)
    assert "LateRows(of WindowAggregate#" in text
    assert "counted (numLateRecordsDropped) and written to table late (exactly-once)" in text
    assert "SET 'table.exec.late-rows.sink'" in planner.explain(WINDOWED, catalog, {})


def test_two_windows_share_one_late_sink_through_a_union(catalog: Catalog) -> None:
    script = f"""EXECUTE STATEMENT SET BEGIN {WINDOWED};
        INSERT INTO per_key SELECT k, COUNT(*) FROM
        TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND))
        GROUP BY k, window_start, window_end; END"""
    plan = planner.plan(script, catalog, CONFIG)
    union = next(n for n in plan.nodes if isinstance(n.spec, UnionSpec))
    windows = {n.id for n in plan.nodes if n.kind == "window_aggregate"}
    assert {e.source for e in union.inputs} == windows and len(windows) == 2
    assert all(e.output == LATE_ROWS_OUTPUT for e in union.inputs)
    assert sum(1 for n in plan.nodes if isinstance(n.spec, SinkSpec) and n.spec.table == "late") == 1


def test_a_job_without_event_time_windows_gets_no_late_sink(catalog: Catalog) -> None:
    plan = planner.plan("INSERT INTO per_key SELECT k, COUNT(*) FROM clicks GROUP BY k", catalog, CONFIG)
    assert not any(isinstance(n.spec, SinkSpec) and n.spec.table == "late" for n in plan.nodes)


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        ("CREATE TABLE bad (operator STRING, extra INT) WITH ('connector' = 'blackhole')",
         "has a column 'extra' that late rows do not have"),
        ("CREATE TABLE bad (event_time STRING) WITH ('connector' = 'blackhole')",
         "column 'event_time' of the late-rows table 'bad' is STRING, but late rows give TIMESTAMP"),
        ("CREATE TABLE bad (operator STRING) WITH ('connector' = 'datagen')", "can only be read"),
    ],
)  # fmt: skip
def test_a_late_rows_table_that_cannot_take_them_is_refused_by_name(
    catalog: Catalog, ddl: str, message: str
) -> None:
    catalog.create(planner.create_table(planner.parse(ddl)[0], catalog))
    with pytest.raises(SqlStreamError, match=message):
        planner.plan(WINDOWED, catalog, {"table.exec.late-rows.sink": "bad"})


def test_a_missing_late_rows_table_is_named_with_a_suggestion(catalog: Catalog) -> None:
    with pytest.raises(SqlStreamError, match=r"'table\.exec\.late-rows\.sink' = 'lat' names no table") as e:
        planner.plan(WINDOWED, catalog, {"table.exec.late-rows.sink": "lat"})
    assert "late" in (e.value.hint or "")
