"""Replay determinism and the exactly-once mode of sinks that can commit two ways: which
plans epoch mode accepts, what EXPLAIN says, and the refusal with its reason and fix."""

from __future__ import annotations

import pytest

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError
from planner.errors import PlanError
from planner.physical import SinkSpec
from tests.unit.planner.conftest import catalog_of

CHECKPOINTS = {"execution.checkpointing.interval": "1 s"}
DDL = """
CREATE TABLE seq (v BIGINT, ts AS TO_TIMESTAMP_LTZ(v, 3), pt AS PROCTIME(),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'fields.v.kind' = 'sequence', 'fields.v.start' = '1',
  'fields.v.end' = '1000');
CREATE TABLE randts (v BIGINT, at TIMESTAMP(3)) WITH ('connector' = 'datagen', 'sqlstream.seed' = '1');
CREATE TABLE randnum (v BIGINT, w INT) WITH ('connector' = 'datagen', 'sqlstream.seed' = '1');
CREATE TABLE dim (v BIGINT, name STRING) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/shop', 'table-name' = 'dim');
CREATE TABLE pg_epoch (a BIGINT, b BIGINT) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/shop', 'table-name' = 'o',
  'sink.exactly-once.mode' = 'epoch');
CREATE TABLE pg_epoch_keyed (a BIGINT, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/shop', 'table-name' = 'o',
  'sink.exactly-once.mode' = 'epoch');
CREATE TABLE pg_auto (a BIGINT, b BIGINT) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/shop', 'table-name' = 'o');
CREATE TABLE pg_alo (a BIGINT, b BIGINT) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/shop', 'table-name' = 'o',
  'sink.exactly-once.mode' = 'epoch', 'sink.delivery-guarantee' = 'at-least-once');
"""


@pytest.fixture
def cat() -> Catalog:
    return catalog_of(DDL)


def sink(cat: Catalog, sql: str) -> SinkSpec:
    spec = planner.plan(sql, cat, CHECKPOINTS).sinks[0].spec
    assert isinstance(spec, SinkSpec)
    return spec


DETERMINISTIC = [
    "INSERT INTO {t} SELECT v, v * 2 FROM seq WHERE v % 3 = 0",
    "INSERT INTO {t} SELECT COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE seq, DESCRIPTOR(ts), "
    "INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
    "INSERT INTO pg_epoch_keyed SELECT v % 7, COUNT(*) FROM seq GROUP BY v % 7",
    "INSERT INTO {t} SELECT v, w FROM randnum",  # seeded random numbers replay exactly
    # aligned barriers cut both inputs at the same rows on a replay: the same pairs
    "INSERT INTO {t} SELECT s.v, r.w FROM seq s JOIN randnum r ON s.v = r.v",
    # keyed by s.v and not unique on it (Flink 2.3 refuses it unless ON CONFLICT or
    # 'table.exec.sink.require-on-conflict' = 'false' lets a SinkUpsertMaterializer in)
    "INSERT INTO pg_epoch_keyed SELECT s.v, r.w FROM seq s LEFT JOIN randnum r ON s.v = r.v AND r.w > 0",
]


@pytest.mark.parametrize("sql", DETERMINISTIC)
def test_deterministic_plans_get_epoch_mode(cat: Catalog, sql: str) -> None:
    config = {**CHECKPOINTS, "table.exec.sink.require-on-conflict": "false"}
    spec = planner.plan(sql.format(t="pg_epoch"), cat, config).sinks[0].spec
    assert isinstance(spec, SinkSpec)
    assert spec.exactly_once_mode == "epoch" and spec.replay_nondeterminism is None
    text = planner.explain(sql.format(t="pg_epoch"), cat, config)
    assert "exactlyOnceMode=[epoch]" in text
    assert "exact because the plan replays deterministically" in text


NONDETERMINISTIC = [
    ("INSERT INTO {t} SELECT COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE seq, DESCRIPTOR(pt), "
     "INTERVAL '1' SECOND)) GROUP BY window_start, window_end", "a processing-time TUMBLE window"),
    ("INSERT INTO {t} SELECT v, UNIX_TIMESTAMP() FROM seq", "reads the clock"),
    ("INSERT INTO {t} SELECT v, CAST(RAND() * 10 AS BIGINT) FROM seq", "RAND(), which is random"),
    ("INSERT INTO {t} SELECT v, CHAR_LENGTH(UUID()) FROM seq", "UUID(), which is random"),
    ("INSERT INTO {t} SELECT v, v FROM seq WHERE pt > TIMESTAMP '2020-01-01 00:00:00'",
     "the WHERE condition depends on the time of processing: it reads column 'pt'"),
    ("INSERT INTO {t} SELECT v, EXTRACT(SECOND FROM pt) FROM seq",
     "column 'b' is computed with PROCTIME(), which reads the clock"),
    ("INSERT INTO {t} SELECT v, v FROM randts WHERE at IS NOT NULL",
     "random datagen field 'at' (TIMESTAMP(3)) is drawn relative to the current time"),
    ("INSERT INTO {t} SELECT v, v FROM dim", "a JDBC scan reads the table as it is"),
    ("INSERT INTO {t} SELECT s.v, d.v FROM seq s JOIN dim d ON s.v = d.v",
     "a JDBC scan reads the table as it is"),
    ("INSERT INTO {t} SELECT s.v, r.w FROM seq s JOIN randnum r ON s.v = r.v "
     "AND s.pt > TIMESTAMP '2020-01-01 00:00:00'", "it reads column 'pt'"),
    ("INSERT INTO {t} SELECT s.v, r.v FROM seq s JOIN randts r ON s.v = r.v", "random datagen field 'at'"),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "reason"), NONDETERMINISTIC)
def test_nondeterministic_plans_are_refused_for_epoch_mode(cat: Catalog, sql: str, reason: str) -> None:
    with pytest.raises(PlanError) as refused:
        planner.plan(sql.format(t="pg_epoch"), cat, CHECKPOINTS)
    message = str(refused.value)
    assert "table 'pg_epoch': exactly-once in epoch mode needs a plan that replays the same rows" in message
    assert reason in message, message
    assert refused.value.hint and "'sink.delivery-guarantee' = 'at-least-once'" in refused.value.hint
    # Left to the server, the plan is accepted, and EXPLAIN says what happens without
    # prepared transactions; the sink refuses at start there with the same reason.
    auto = sink(cat, sql.format(t="pg_auto"))
    assert (
        auto.exactly_once_mode == "" and auto.replay_nondeterminism and reason in auto.replay_nondeterminism
    )
    text = planner.explain(sql.format(t="pg_auto"), cat, CHECKPOINTS)
    assert "on a server with max_prepared_transactions = 0: refused there, because" in text
    # Declared at-least-once: no commit mode, nothing to refuse.
    assert sink(cat, sql.format(t="pg_alo")).exactly_once_mode == ""


def test_round_robin_into_the_sink_is_refused_for_epoch_mode(cat: Catalog) -> None:
    """Which subtask gets a round-robin row depends on timing: a replay could not tell it."""
    with_p3 = (
        "WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/x', 'table-name' = 'o', "
        "'sink.parallelism' = '3', 'sink.exactly-once.mode' = 'epoch')"
    )
    for statement in planner.parse(
        f"CREATE TABLE pg_p3 (a BIGINT, b BIGINT) {with_p3}; "
        f"CREATE TABLE pg_p3k (a BIGINT, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) {with_p3}"
    ):
        cat.create(planner.create_table(statement, cat))
    config = {**CHECKPOINTS, "parallelism.default": "2"}
    with pytest.raises(PlanError, match=r"rows go round-robin from .* \(2 subtasks\) to 3 subtasks"):
        planner.plan("INSERT INTO pg_p3 SELECT v, v FROM seq", cat, config)
    keyed = planner.plan("INSERT INTO pg_p3k SELECT v % 7, COUNT(*) FROM seq GROUP BY v % 7", cat, config)
    assert isinstance(keyed.sinks[0].spec, SinkSpec)
    assert keyed.sinks[0].spec.exactly_once_mode == "epoch"  # hashed by the key into the sink


def test_an_unused_proctime_column_does_not_count(cat: Catalog) -> None:
    spec = sink(cat, "INSERT INTO pg_auto SELECT v, v FROM seq")  # seq declares pt AS PROCTIME()
    assert spec.replay_nondeterminism is None
    assert "epoch mode: commits at each barrier" in planner.explain(
        "INSERT INTO pg_auto SELECT v, v FROM seq", cat, CHECKPOINTS
    )


def test_mode_round_trips_through_plan_json(cat: Catalog) -> None:
    plan = planner.plan("INSERT INTO pg_epoch SELECT v, v FROM seq", cat, CHECKPOINTS)
    again = type(plan).from_json(plan.to_json())
    spec = again.sinks[0].spec
    assert isinstance(spec, SinkSpec) and spec.exactly_once_mode == "epoch"


def test_a_bad_mode_is_refused_with_the_choices(cat: Catalog) -> None:
    with pytest.raises(SqlStreamError, match="is not one of two-phase, epoch"):
        for statement in planner.parse(
            "CREATE TABLE bad (a BIGINT) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://db/x', "
            "'table-name' = 'o', 'sink.exactly-once.mode' = 'epochs')"
        ):
            cat.create(planner.create_table(statement, cat))


def test_a_late_rows_table_is_not_replay_deterministic(cat: Catalog) -> None:
    """Which rows are late depends on how they arrive against the watermark."""
    for statement in planner.parse(
        "CREATE TABLE late_auto (row_json STRING) WITH ('connector' = 'jdbc', "
        "'url' = 'jdbc:postgresql://db/x', 'table-name' = 'late'); "
        "CREATE TABLE late_epoch (row_json STRING) WITH ('connector' = 'jdbc', "
        "'url' = 'jdbc:postgresql://db/x', 'table-name' = 'late', 'sink.exactly-once.mode' = 'epoch')"
    ):
        cat.create(planner.create_table(statement, cat))
    windowed = (
        "INSERT INTO pg_epoch SELECT COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE seq, DESCRIPTOR(ts), "
        "INTERVAL '1' SECOND)) GROUP BY window_start, window_end"
    )
    plan = planner.plan(windowed, cat, {**CHECKPOINTS, "table.exec.late-rows.sink": "late_auto"})
    specs = {s.spec.table: s.spec for s in plan.sinks if isinstance(s.spec, SinkSpec)}
    assert specs["pg_epoch"].exactly_once_mode == "epoch"  # the windows themselves replay
    late = specs["late_auto"]
    assert late.exactly_once_mode == "" and late.replay_nondeterminism
    assert "arrived behind the watermark" in late.replay_nondeterminism
    with pytest.raises(PlanError, match="table 'late_epoch': exactly-once in epoch mode needs a plan"):
        planner.plan(windowed, cat, {**CHECKPOINTS, "table.exec.late-rows.sink": "late_epoch"})


def test_a_user_function_declared_nondeterministic_is_refused(cat: Catalog) -> None:
    from catalog.functions import FunctionDef
    from catalog.types import parse_type

    bigint = parse_type("BIGINT")
    cat.create_function(FunctionDef("jitter", (bigint,), bigint, "m.jitter", deterministic=False))
    cat.create_function(FunctionDef("twice", (bigint,), bigint, "m.twice"))
    assert sink(cat, "INSERT INTO pg_epoch SELECT v, twice(v) FROM seq").exactly_once_mode == "epoch"
    with pytest.raises(PlanError, match=r"jitter\(\), a user function declared deterministic=False"):
        planner.plan("INSERT INTO pg_epoch SELECT v, jitter(v) FROM seq", cat, CHECKPOINTS)
