"""sqlstream gives Apache Flink's answers: every corpus case (tests/oracle/corpus) against
what Flink 2.3 answered (tests/oracle/fixtures, recorded by scripts/flink-oracle).

Each case passes when sqlstream gives Flink's value and type, or both refuse it at plan
time, or both fail it at run time; or when it is a deliberate difference listed in
tests/oracle/DIFFERENCES.md. Cases in tests/oracle/KNOWN_MISMATCHES are bugs not fixed yet,
run as strict xfail: fixing one fails the test until its line is removed.
No Flink is needed here: `python -m tests.oracle.compare` prints the summary.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from planner.functions import FUNCTIONS
from tests.oracle import compare
from tests.oracle import corpus as oc

CASES = oc.load_corpus()
FIXTURES = compare.load_fixtures()
DIFFERENCES = compare.load_differences()
KNOWN = compare.load_known_mismatches()


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[compare.Runner]:
    r = compare.Runner(tmp_path_factory.mktemp("oracle-inputs"))
    yield r
    r.close()


def _param(case: oc.Case) -> Any:
    marks = []
    if case.id in KNOWN:
        marks.append(pytest.mark.xfail(strict=True, reason="listed in tests/oracle/KNOWN_MISMATCHES"))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_sqlstream_gives_flinks_answer(case: oc.Case, runner: compare.Runner) -> None:
    entry = FIXTURES.get(case.id)
    assert entry is not None, f"{case.id!r} has no recorded answer: run scripts/flink-oracle {case.file}"
    assert entry["sql"] == case.sql()
    ours = runner.run(case)
    kind, why = compare.verdict(entry, ours, DIFFERENCES.get(case.id))
    assert kind in ("match", "refused", "differs"), why


def test_every_recorded_answer_belongs_to_a_corpus_case_over_the_current_inputs() -> None:
    ids = {c.id for c in CASES}
    orphans = sorted(set(FIXTURES) - ids)
    assert not orphans, f"fixtures for cases no longer in the corpus (rerun scripts/flink-oracle): {orphans}"
    sha = hashlib.sha256(oc.INPUTS_FILE.read_bytes()).hexdigest()
    generated, generated_sha = set(oc.generated_inputs()), oc.generated_sha256()
    stale = sorted(
        {
            e["id"].split(":")[0]
            for e in FIXTURES.values()
            if e["header"]["inputs_sha256"] != sha
            or (e["input"] in generated and e["header"].get("generated_sha256") != generated_sha)
        }
    )
    assert not stale, f"recorded over other inputs: rerun scripts/flink-oracle {' '.join(stale)}"


def test_the_answers_come_from_flink_2_3() -> None:
    versions = {(e["header"]["engine"], e["header"]["apache-flink"]) for e in FIXTURES.values()}
    assert versions == {("Apache Flink", "2.3.0")}


def test_the_lists_name_corpus_cases_and_no_case_is_on_both() -> None:
    ids = {c.id for c in CASES}
    assert not sorted(set(DIFFERENCES) - ids), "DIFFERENCES.md names cases that are not in the corpus"
    assert not sorted(KNOWN - ids), "KNOWN_MISMATCHES names cases that are not in the corpus"
    assert not sorted(KNOWN & set(DIFFERENCES)), "a case is either a deliberate difference or a known bug"


def test_the_corpus_is_hundreds_of_cases_over_every_input() -> None:
    assert len(CASES) >= 300
    used = {c.input for c in CASES if c.kind == "expr"}
    used |= {name for name in oc.load_inputs() for c in CASES if re.search(rf"\b{name}\b", c.text)}
    assert used == set(oc.load_inputs())


def test_every_function_sqlstream_accepts_is_in_the_corpus() -> None:
    """SHOW FUNCTIONS is a promise: a function added there without oracle cases fails here."""
    text = " ".join(c.text.upper() for c in CASES)
    missing = sorted(f for f in FUNCTIONS if not re.search(rf"\b{f}\b", text))
    assert not missing, f"functions with no case in tests/oracle/corpus: {missing}"
