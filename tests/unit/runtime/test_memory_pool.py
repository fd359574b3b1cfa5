"""A process that runs a job allocates Arrow's buffers from jemalloc, which keeps freed pages
for the next batch (``runtime/memory.py``), unless the user chose a pool.

Each case runs ``sqlstream run`` in a fresh interpreter: the pool is the process's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]

PROBE = """
import json, sys
import pyarrow as pa
from sqlstream.entry import main
sys.argv = ["sqlstream", "run", sys.argv[1]]
before = pa.default_memory_pool().backend_name
code = main()
print(json.dumps({"code": code, "before": before, "after": pa.default_memory_pool().backend_name}))
"""

JOB = (
    "CREATE TABLE src (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1000');\n"
    "CREATE TABLE out1 (x BIGINT, n BIGINT) WITH ('connector' = 'blackhole');\n"
    "INSERT INTO out1 SELECT x % 7, COUNT(*) FROM src GROUP BY x % 7;\n"
)


def run_probe(tmp_path: Path, env: dict[str, str]) -> tuple[dict[str, object], str]:
    script = tmp_path / "job.sql"
    script.write_text(JOB)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(script)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1]), out.stderr


def test_a_job_allocates_from_jemalloc(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    found, err = run_probe(tmp_path, env)
    assert found["code"] == 0
    assert found["after"] == "jemalloc"  # pyarrow's own default on Linux is mimalloc
    assert "finished" in err


def test_the_pool_the_user_chose_is_kept(tmp_path: Path) -> None:
    found, err = run_probe(tmp_path, {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"})
    assert found == {"code": 0, "before": "system", "after": "system"}
    assert "finished" in err
