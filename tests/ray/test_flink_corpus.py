"""A slice of the Flink oracle corpus (``tests/oracle``) on a multi-node Ray cluster at
parallelism 2: each case gives on Ray exactly what it gives on the local runtime at the
same parallelism, and that answer is Flink's recorded one (or the difference
``DIFFERENCES.md`` lists, or a known mismatch).

The slice is the streaming-relevant cases, one of each shape (updating aggregates, set
operations, windows, joins of windows, OVER, Top-N), each a Ray job of its own. Scalar
functions add little on Ray (one operator, evaluated as locally): a sample of them is
evaluated in one job per input table, every sampled expression a column of one SELECT.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from catalog.types import parse_type
from tests.oracle import corpus as oc
from tests.oracle.compare import (
    Outcome,
    Runner,
    canonical,
    load_differences,
    load_fixtures,
    load_known_mismatches,
    verdict,
)

pytestmark = pytest.mark.ray

# (corpus file, the case's text starts with, Flink's execution mode)
QUERIES = [
    ("aggregates", "SELECT k, COUNT(DISTINCT s) AS n FROM grp GROUP BY k", "streaming"),
    ("grouping", "SELECT k, COUNT(*) AS n, GROUPING(k) AS g FROM grp GROUP BY ROLLUP (k)", "streaming"),
    ("grouping", "SELECT k, s FROM grp INTERSECT ALL", "streaming"),
    ("windows", "SELECT k, SESSION_START(ts, INTERVAL '6' HOUR)", "streaming"),
    ("windows", "SELECT window_start, window_end, SUM(v) AS s FROM TABLE(CUMULATE(TABLE events", "batch"),
    ("nexmark", "SELECT AuctionBids.auction, AuctionBids.num", "streaming"),
    ("nexmark", "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction", "streaming"),
    ("over_rank", "SELECT bidder, price, `dateTime`, SUM(price) OVER (PARTITION BY bidder", "streaming"),
    ("over_rank", "SELECT * FROM (SELECT window_start, window_end, auction, bidder, price", "streaming"),
]
# the scalar sample: every STEP-th expression case over each input that Flink answered
# with rows (an error would fail the whole SELECT the sample shares)
SCALAR_INPUTS = ("nums", "strs", "times")
STEP = 9


def _cases() -> dict[str, oc.Case]:
    return {c.id: c for c in oc.load_corpus()}


def _query_case(cases: dict[str, oc.Case], file: str, start: str, mode: str) -> oc.Case:
    found = [
        c for c in cases.values()
        if c.file == file and c.kind == "query" and c.mode == mode and c.text.startswith(start)
    ]  # fmt: skip
    assert len(found) == 1, f"{file}: {start!r} names {len(found)} cases"
    return found[0]


@pytest.fixture(scope="module")
def runners(tmp_path_factory: Any, ray_address: str) -> Iterator[tuple[Runner, Runner]]:
    """The corpus' sessions: the local runtime and Ray, both at parallelism 2."""
    local = Runner(tmp_path_factory.mktemp("local"), {"parallelism.default": "2"})
    on_ray = Runner(
        tmp_path_factory.mktemp("ray"),
        {"parallelism.default": "2", "execution.target": "ray", "ray.address": ray_address},
    )
    try:
        yield local, on_ray
    finally:
        local.close()
        on_ray.close()


def _judge(case: oc.Case, ours: Outcome) -> None:
    entry = load_fixtures()[case.id]
    kind, why = verdict(entry, ours, load_differences().get(case.id))
    assert kind in ("match", "refused", "differs") or case.id in load_known_mismatches(), (case.id, why)


@pytest.mark.parametrize("file,start,mode", QUERIES, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(QUERIES)])
def test_a_streaming_case_gives_the_same_answer_on_ray(
    runners: tuple[Runner, Runner], file: str, start: str, mode: str
) -> None:
    case = _query_case(_cases(), file, start, mode)
    local, on_ray = runners
    here = local.run(case)
    there = on_ray.run(case)
    assert here.status == "ok" and len(here.rows) > 1, here.error
    assert there == here, case.id
    _judge(case, there)


def _sample(cases: dict[str, oc.Case], table: str) -> list[oc.Case]:
    fixtures = load_fixtures()
    differences = load_differences()
    known = load_known_mismatches()
    eligible = [
        c for c in cases.values()
        if c.kind == "expr" and c.input == table and c.tz == "UTC" and c.mode == "batch"
        and c.id in fixtures and "error" not in fixtures[c.id]
        and c.id not in differences and c.id not in known
    ]  # fmt: skip
    return eligible[::STEP]


@pytest.mark.parametrize("table", SCALAR_INPUTS)
def test_sampled_scalar_functions_give_flinks_answers_on_ray(
    runners: tuple[Runner, Runner], table: str
) -> None:
    sample = _sample(_cases(), table)
    assert len(sample) >= 8
    sql = f"SELECT id, {', '.join(f'{c.text} AS v{i}' for i, c in enumerate(sample))} FROM {table}"
    local, on_ray = runners

    def run(runner: Runner) -> tuple[list[Any], list[list[Any]]]:
        """The schema, and the rows in canonical form (NaN as Java spells it) by id."""
        handle = runner.session.sql(sql)
        try:
            schema = list(handle.plan.sinks[0].schema)
            types = [parse_type(f.type) for f in schema]
            rows = [[canonical(v, t) for v, t in zip(r, types)] for r in handle.fetchall()]
            return schema, sorted(rows, key=lambda r: r[0])
        finally:
            handle.close()

    schema, here = run(local)
    _, there = run(on_ray)
    assert there == here
    for i, case in enumerate(sample, 1):
        rows = [[r[0], r[i]] for r in there]
        columns = [[schema[0].name, schema[0].type], ["v", schema[i].type]]
        _judge(case, Outcome("ok", columns, rows))
