"""Reading a job's state when its checkpoints are in an object store (SeaweedFS, from
``scripts/services up s3``): ``sqlstream state`` takes the same ``state.checkpoints.dir``
and ``s3.*`` settings (``-D``) as the job, or an ``s3://`` checkpoint folder; the session's
``SHOW STATE FOR JOB`` and ``STATE(...)`` read a running job's newest checkpoint there.
Each bad case (no checkpoint, wrong keys, a state file gone) is an error saying so."""

from __future__ import annotations

import time
import uuid

import pytest

import sqlstream
from runtime.checkpoint.storage import METADATA
from tests.integration.s3 import s3_options, s3_root, s3_store
from tests.unit.sqlstream.test_cli import run

pytestmark = pytest.mark.s3

JOB = """
CREATE TABLE clicks (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
    'fields.k.min' = '1', 'fields.k.max' = '5', 'fields.v.min' = '1', 'fields.v.max' = '9');
CREATE TABLE totals (k INT, n BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
"""
INSERT = "INSERT INTO totals SELECT k, COUNT(*) AS n, SUM(v) AS total FROM clicks GROUP BY k"


def table(stdout: str) -> list[list[str]]:
    """The cells of the table ``sqlstream state`` printed, its header first."""
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in stdout.splitlines()
        if line.startswith("| ")
    ]


def test_the_state_of_a_job_checkpointing_to_s3_reads_from_the_cli_and_the_session() -> None:
    root = s3_root()
    name = f"state-s3-{uuid.uuid4().hex[:8]}"
    config = {
        "execution.checkpointing.interval": "200 ms",
        "state.checkpoints.dir": root,
        "pipeline.name": name,
        **s3_options(),
    }
    with sqlstream.connect(config=config) as s:
        s.execute_script(JOB)
        job = s.execute(INSERT).job
        assert job is not None
        deadline = time.monotonic() + 60
        while job.metrics().get("checkpoints", {}).get("completed", 0) < 2:
            assert time.monotonic() < deadline and not job.done, job.error
            time.sleep(0.1)
        shown = s.execute(f"SHOW STATE FOR JOB '{job.id}'")
        assert [r[1] for r in shown.rows] == ["GroupAggregate"] and shown.rows[0][4] == 5
        view = shown.rows[0][2]
        keys = s.execute(f"SELECT k FROM STATE('{name}', 'GroupAggregate') ORDER BY k")
        assert [r[0] for r in keys.rows] == [1, 2, 3, 4, 5]
        (savepoint,) = s.execute(f"STOP JOB '{job.id}' WITH SAVEPOINT").rows[0]
    assert savepoint.startswith(root)
    defines = [x for k, v in s3_options().items() for x in ("-D", f"{k}={v}")]
    query = f"SELECT k, n, total FROM {view} ORDER BY k"

    # by the job's pipeline.name under state.checkpoints.dir: its newest, the savepoint
    out = run("state", *defines, "-D", f"state.checkpoints.dir={root}", name, query)
    assert out.returncode == 0, out.stderr
    cells = table(out.stdout)
    assert cells[0] == ["k", "n", "total"] and [c[0] for c in cells[1:]] == ["1", "2", "3", "4", "5"]
    counts = [int(c[1]) for c in cells[1:]]
    # a consistent cut: the aggregate counted exactly the rows the source had read
    position = run("state", *defines, savepoint, "SELECT position FROM source_positions")
    assert position.returncode == 0, position.stderr
    (read,) = [c[0] for c in table(position.stdout)[1:]]
    assert sum(counts) == int(read.split(":")[1].strip(" }"))
    # the savepoint's own folder, and its _metadata, name the same checkpoint
    for target in (savepoint, f"{savepoint}/{METADATA}", f"{root}/{name}"):
        again = run("state", *defines, target, query)
        assert again.returncode == 0, again.stderr
        assert table(again.stdout) == cells

    # a folder in the store that holds no checkpoint, and a store refusing the keys
    empty = run("state", *defines, f"{root}/no-such-job", "SELECT 1")
    assert empty.returncode == 1 and "no complete checkpoint" in empty.stderr
    wrong = {**s3_options(), "s3.secret-key": "not-the-key"}
    refused = run("state", *[x for k, v in wrong.items() for x in ("-D", f"{k}={v}")], savepoint, query)
    assert refused.returncode == 1 and "the checkpoint store at" in refused.stderr
    # a checkpoint whose state file is gone from the store says which
    store = s3_store(root)
    (state_file,) = [n for n in store.children(savepoint) if n.endswith(".duckdb")]
    store.delete(store.join(savepoint, state_file))
    gone = run("state", *defines, savepoint, query)
    assert gone.returncode == 1 and f"is missing the state file {state_file}" in gone.stderr
    assert "Traceback" not in empty.stderr + refused.stderr + gone.stderr
    store.delete_tree(root)
