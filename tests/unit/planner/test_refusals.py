"""Every refusal the runtime can raise for a plan is raised first by the planner (and so by
EXPLAIN), with the construct and its position.

``RUNTIME_REFUSALS`` lists every user-facing ``raise`` in the runtime outside the
connectors and formats, by the start of its message: each one is either refused at plan
time (the SQL case that reaches it) or cannot be reached from a plan (and says why). A
new ``raise`` in the runtime fails ``test_every_runtime_refusal_is_accounted_for`` until
it is added here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import planner
from catalog import Catalog
from catalog.errors import SqlStreamError
from planner.errors import UnsupportedError
from tests.unit.planner.conftest import catalog_of

ROOT = Path(__file__).resolve().parents[3]

DDL = """
CREATE TABLE nums (k INT, v BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE maps (a STRING, m MAP<STRING, INT>) WITH (
  'connector' = 'filesystem', 'path' = '/tmp/maps', 'format' = 'json');
CREATE TABLE out_print (a STRING, b BIGINT) WITH ('connector' = 'print');
"""

UPDATING = "(SELECT CAST(k AS STRING) AS a, COUNT(*) AS b FROM nums GROUP BY k)"

# case id -> (SQL, what the message names, (line, column) of the construct)
CASES: dict[str, tuple[str, str, tuple[int, int]]] = {
    "session-tvf-without-aggregation": (
        "SELECT *\nFROM TABLE(SESSION(TABLE nums, DESCRIPTOR(ts), INTERVAL '5' MINUTES))",
        "a SESSION window table function must be followed by an aggregation",
        (2, 43),  # its time column
    ),
}

# The start of every user-facing raise in runtime/ (outside connectors/ and formats/) ->
# the case that the planner refuses first, or why no plan can reach it.
UNREACHABLE = "unreachable from a plan: "
RUNTIME_REFUSALS: dict[str, str] = {
    "a SESSION window table function must be followed b": "session-tvf-without-aggregation",
    "aggregate function {agg.func.upper()} is not suppo": UNREACHABLE
    + "the binder makes aggregates only of COUNT, SUM, MIN, MAX and AVG",
    "aggregate {agg.name}: {agg.func.upper()} needs an ": UNREACHABLE
    + "only COUNT(*) is made without an argument",
    "SESSION window gap must be positive": UNREACHABLE + "the binder checks the gap",
    "{w.type.upper()} window size must be positive": UNREACHABLE + "the binder checks sizes",
    "HOP window size must be a positive multiple of the": UNREACHABLE + "the binder checks it",
    "CUMULATE window size must be a positive multiple o": UNREACHABLE + "the binder checks it",
    "unknown window type '{w.type}'": UNREACHABLE + "the binder knows four window kinds",
    "no Arrow type for {t.sql()}": UNREACHABLE + "every type catalog.types parses has one",
    "internal: {node.name} cannot be fused (planner.bat": UNREACHABLE
    + "an internal check: the planner fuses only what it compiles",
    "internal: result has {table.num_columns} columns, ": UNREACHABLE + "an internal check",
    "channel capacity must be at least 1": UNREACHABLE + "a configuration value, checked at SET",
    "a hash partitioning needs at least one key column": UNREACHABLE + "the planner keys every hash exchange",
    "channel {ch.name} already has a reader": UNREACHABLE + "an internal check",
    "the runtime cannot run operator kind '{kind}'": UNREACHABLE
    + "the physical planner makes only the kinds runtime.graph knows",
    "{node.name}: a HASH edge needs keys": UNREACHABLE + "the planner gives every HASH edge keys",
    "{type(self).__name__} has no inputs": UNREACHABLE + "an internal check",
    # Ray (execution.target = 'ray'): the cluster, checked before the job starts, not the plan
    "'ray.address' = '{address}' is not host:port": UNREACHABLE + "a configuration value",
    "Ray node {node.get('NodeManagerAddress', '?')} ({n": UNREACHABLE + "the cluster's nodes",
    "cannot connect to Ray at '{address or 'a new local": UNREACHABLE + "the cluster",
    "cannot reach the Ray cluster at 'ray.address' = '{": UNREACHABLE + "the cluster",
    "cannot write the checkpoint folder 'state.checkpoi": UNREACHABLE + "the cluster's file systems",
    "execution.target = 'ray' needs Ray, which is not i": UNREACHABLE + "the installation",
    "the job needs {needed:g} CPUs on Ray (parallelism ": UNREACHABLE + "the cluster's CPUs",
    "this process already runs jobs on the Ray cluster ": UNREACHABLE + "the cluster",
    # checkpoints, jobs, restarts: about files, job state and other instances, not the plan
    "cannot restore from {folder}: it was written by a ": UNREACHABLE + "a checkpoint on disk",
    "cannot restore from {folder}: the state of {self.p": UNREACHABLE + "a checkpoint on disk",
    "the final checkpoint failed {FINAL_ATTEMPTS} times": UNREACHABLE + "a run-time failure",
    "the job's input has ended and its final checkpoint": UNREACHABLE + "job state",
    "unexpected acknowledgement from node {key[0]} subt": UNREACHABLE + "an internal check",
    "checkpoint metadata {where} is not valid JSON: {e}": UNREACHABLE + "a file on disk",
    "checkpoint metadata {where} was written by another": UNREACHABLE + "a file on disk",
    "cannot create checkpoint folder {path}: {e.strerro": UNREACHABLE + "the file system",
    "'state.checkpoints.dir' = '{location}': checkpoint": UNREACHABLE + "a configuration value",
    "the checkpoint store at {location} failed: {text.s": UNREACHABLE + "the object store",
    "'{S3_ACCESS_KEY.name}' and '{S3_SECRET_KEY.name}' ": UNREACHABLE + "a configuration value",
    "{folder} is not a complete checkpoint or savepoint": UNREACHABLE + "a path the user names",
    "job {self.id} was already started": UNREACHABLE + "API misuse",
    # user functions: CREATE FUNCTION imports the module first, so a plan names only
    # functions that were found (these fire when a module changed since, or in another process)
    "the Python function registered from another proces": UNREACHABLE + "another process",
    "'{target}' does not name a Python function": UNREACHABLE + "checked at CREATE FUNCTION",
    "cannot import module '{module_name}' for '{target}": UNREACHABLE + "checked at CREATE FUNCTION",
    "importing module '{module_name}' failed: {type(e).": UNREACHABLE + "checked at CREATE FUNCTION",
    "module '{module_name}' has no attribute '{attr}'": UNREACHABLE + "checked at CREATE FUNCTION",
    "job {self.id} was not started": UNREACHABLE + "API misuse",
    "this job has no collect node: its results go to it": UNREACHABLE + "API misuse",
    "job {self.id} cannot take a savepoint: ": UNREACHABLE + "job state",
    "job '{job.plan.name}' failed ({error}), and anothe": UNREACHABLE + "another instance",
    # MATCH_RECOGNIZE: where a match would restart, an integer division, depend on the rows
    "AFTER MATCH SKIP TO {self.skip[3:].upper()} {self.": UNREACHABLE
    + "a match of the data (Flink fails the job the same way)",
    "division by zero in MATCH_RECOGNIZE": UNREACHABLE + "a value in the data, not the plan",
    # ENCODE/DECODE's character set and SHA2's length: a value of the data, or a constant
    # whose call fails Flink's job the same way (UnsupportedEncodingException, NoSuchAlgorithm)
    "unsupported character set '{charset}'": UNREACHABLE + "Flink fails the job the same way",
    "SHA2: no SHA-2 digest of {bits} bits (224, 256, 38": UNREACHABLE + "Flink fails the job the same way",
    # CAST of hexadecimal text AS DOUBLE: the planner matched the text against Java's grammar
    "not hexadecimal floating-point text: {text!r}": UNREACHABLE + "the planner checks the text first",
    # JSON_QUERY ... RETURNING ARRAY<STRING> ERROR ON ERROR of an object: a value in the data
    "JSON_QUERY: the value is not an array (RETURNING A": UNREACHABLE + "Flink fails the job the same way",
    # data: a NULL bound for a NOT NULL sink column (table.exec.sink.not-null-enforcer)
    "column '{name}' is NOT NULL, however, a null value": UNREACHABLE + "a value in the data, not the plan",
    # reading a checkpoint's state back (sqlstream state): files and names the user gives
    "job '{job_name}' has no complete checkpoint or sav": UNREACHABLE + "a path the user names",
    "{self.folder} is missing the state file {name}": UNREACHABLE + "a file in the checkpoint's folder",
    "{what} named '{operator}' in checkpoint {self.meta": UNREACHABLE + "a name the user gives",
    "state query failed: {e}": UNREACHABLE + "a state query is DuckDB SQL over the state's views, no plan",
}


@pytest.fixture
def catalog() -> Catalog:
    return catalog_of(DDL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_planner_refuses_with_the_construct_and_its_position(catalog: Catalog, case: str) -> None:
    sql, message, where = CASES[case]
    with pytest.raises(UnsupportedError) as e:
        planner.plan(sql, catalog)
    assert message in e.value.message
    assert "support" in e.value.message, "a refusal must say that the construct is not supported"
    assert (e.value.line, e.value.col) == where
    with pytest.raises(UnsupportedError) as again:
        planner.explain(sql, catalog)
    assert again.value.message == e.value.message


def test_a_refusal_in_a_script_points_into_the_script(catalog: Catalog) -> None:
    sql, _, (line, col) = CASES["session-tvf-without-aggregation"]
    [statement] = planner.parse("\n\n" + sql)
    with pytest.raises(UnsupportedError) as e:
        planner.plan(statement, catalog)
    assert (e.value.line, e.value.col) == (line + 2, col)


def test_every_case_is_a_runtime_refusal_and_no_runtime_refusal_is_missed() -> None:
    sites = _runtime_refusals()
    assert set(sites) == set(RUNTIME_REFUSALS), "a raise in runtime/ is not accounted for here"
    for reason in RUNTIME_REFUSALS.values():
        assert reason.startswith(UNREACHABLE) or reason in CASES
    runtime_cases = {r for r in RUNTIME_REFUSALS.values() if r in CASES}
    assert runtime_cases <= set(CASES)


def _runtime_refusals() -> list[str]:
    found = []
    pattern = re.compile(r'raise (\w+)\(\s*f?"([^"]*)"', re.S)
    for path in sorted((ROOT / "runtime").rglob("*.py")):
        if "connectors" in path.parts or "formats" in path.parts:
            continue
        found += [m.group(2)[:50] for m in pattern.finditer(path.read_text())]
    return found


def test_no_duckdb_error_text_reaches_a_user_for_a_planned_query(catalog: Catalog) -> None:
    """Each refusal is our typed error, whose message never carries DuckDB's wording."""
    for sql, _, _ in CASES.values():
        with pytest.raises(SqlStreamError) as e:
            planner.plan(sql, catalog)
        assert not re.search(r"(Binder|Parser|Catalog|Conversion)(Exception|Error)", str(e.value))


def test_min_max_and_distinct_over_retractions_are_planned(catalog: Catalog) -> None:
    """Refused once; now kept as value counts in the group aggregate's state (issue 13)."""
    sql = f"INSERT INTO out_print\nSELECT a, MIN(b) + MAX(b) + COUNT(DISTINCT b) FROM {UPDATING} GROUP BY a"
    assert "GroupAggregate" in planner.explain(sql, catalog)
