"""The streaming oracle cases over Nexmark's generated tables (tests/oracle/corpus/nexmark.sql
and over_rank.sql: the Nexmark joins, q18/q19, OVER aggregations, Top-N, deduplication and
window Top-N) once more at parallelism 2, against the same answers Flink recorded at
parallelism 1: the joins, ranks and OVER aggregations then shuffle their rows by key across
two subtasks, and the final rows must not change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oracle import compare
from tests.oracle import corpus as oc

FILES = ("nexmark", "over_rank")
CASES = [c for c in oc.load_corpus() if c.file in FILES]
FIXTURES = compare.load_fixtures()
DIFFERENCES = compare.load_differences()


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[compare.Runner]:
    config = {"parallelism.default": "2"}
    r = compare.Runner(tmp_path_factory.mktemp("oracle-parallel"), config)
    yield r
    r.close()


def test_the_files_are_there_and_answered_by_flink() -> None:
    assert {c.file for c in CASES} == set(FILES)
    answered = [c for c in CASES if "rows" in FIXTURES[c.id]]
    assert len(answered) >= 25


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_flinks_final_rows_at_parallelism_2(case: oc.Case, runner: compare.Runner) -> None:
    entry = FIXTURES[case.id]
    ours = runner.run(case)
    kind, why = compare.verdict(entry, ours, DIFFERENCES.get(case.id))
    assert kind in ("match", "refused", "differs"), why
