"""A savepoint taken on Ray resumes anywhere: a window query into an exactly-once file
sink runs on the Ray cluster at parallelism 2, is stopped with a savepoint mid-stream,
and resumes from it on the local runtime (the same files, positions and pending
transactions, read by another runtime); the files then hold DuckDB's batch answer, each
window once; its state reads with SHOW STATE FOR JOB while it runs. The query, input
and answer are those of
``tests/unit/runtime/test_sql_oracle.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import sqlstream
from tests.unit.runtime.test_sql_oracle import config, ddl, insert, oracle, published

pytestmark = pytest.mark.ray

QUERY = {
    "kind": "tumble",
    "size": 1000,
    "second": 0,
    "rows": 6000,
    "keys": 5,
    "mult": 3,
    "step": 10,
    "jitter": 200,
    "parallelism": 2,
    "restore": True,
}


def test_savepoint_on_ray_resumes_locally(tmp_path: Path, ray_address: str) -> None:
    out = tmp_path / "out"
    on_ray = config(tmp_path, QUERY, **{"execution.target": "ray", "ray.address": ray_address})
    with sqlstream.connect(config=on_ray) as s:
        s.execute_script(ddl(QUERY, out, 200))  # 30 s of input
        handle = s.execute(insert(QUERY)).job
        assert handle is not None
        deadline = time.monotonic() + 240
        while (handle.metrics().get("checkpoints") or {}).get("completed", 0) < 1:
            assert time.monotonic() < deadline and not handle.done, (handle.status, handle.error)
            time.sleep(0.1)
        # its state reads from its newest checkpoint, as a local job's
        shown = s.execute(f"SHOW STATE FOR JOB '{handle.id}'")
        assert [(r[1], r[3]) for r in shown.rows] == [("WindowAggregate", 2)], shown.rows
        ((path,),) = s.execute(f"STOP JOB '{handle.id}' WITH SAVEPOINT").rows
        assert handle.wait(60) and handle.status == "CANCELED", (handle.status, handle.error)
    assert published(out) != oracle(QUERY), "the savepoint must come before the end of the input"

    local = config(tmp_path, QUERY, **{"execution.savepoint.path": path})
    with sqlstream.connect(config=local) as s:
        s.execute_script(ddl(QUERY, out, None))
        handle = s.execute(insert(QUERY)).job
        assert handle is not None
        handle.wait(120)
        assert handle.error is None, handle.error
        assert handle.metrics()["checkpoints"]["restored_from"] == path
    assert published(out) == oracle(QUERY)
