"""Start-up: ``sqlstream run`` loads only what the job runs, and a program that imports
sqlstream keeps its garbage collector as it had it.

Each case runs in a fresh interpreter, since which modules a run imports is the thing
under test (pytest's own process has imported everything long before).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]

# Loaded by a job only when it needs them: DuckDB computes expressions and keeps state,
# aiokafka and psycopg are the Kafka and PostgreSQL connectors' clients, prompt_toolkit
# is the shell's, Ray the ray target's, the web server the dashboard's; pyarrow.compute
# (~25 ms of a one-row job's ~0.3 s) the operators' that compute in Arrow.
HEAVY = ["duckdb", "aiokafka", "psycopg", "prompt_toolkit", "ray", "sqlstream.web.server", "pyarrow.compute"]

PROBE = f"""
import json, sys
from sqlstream.entry import main
sys.argv = ["sqlstream", "run", sys.argv[1]]
code = main()
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def run_probe(tmp_path: Path, sql: str) -> tuple[dict[str, object], str]:
    script = tmp_path / "job.sql"
    script.write_text(sql)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1]), out.stderr


SOURCE = "CREATE TABLE src (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');\n"


def test_a_source_into_a_sink_loads_no_engine_it_does_not_use(tmp_path: Path) -> None:
    found, err = run_probe(
        tmp_path,
        SOURCE + "CREATE TABLE out1 (x BIGINT) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO out1 SELECT x FROM src;\n",
    )
    assert found == {"code": 0, "loaded": []}
    assert "finished: 3 rows written" in err


def test_a_job_with_state_loads_duckdb_and_still_no_client_it_does_not_use(tmp_path: Path) -> None:
    found, err = run_probe(
        tmp_path,
        SOURCE + "CREATE TABLE out1 (c BIGINT) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO out1 SELECT COUNT(*) FROM src;\n",
    )
    assert found == {"code": 0, "loaded": ["duckdb", "pyarrow.compute"]}
    assert "finished" in err


def test_importing_sqlstream_leaves_the_garbage_collector_alone() -> None:
    probe = (
        "import gc, sqlstream\n"
        "s = sqlstream.connect(); s.execute('SET \\'parallelism.default\\' = \\'1\\''); s.close()\n"
        "print(gc.isenabled(), gc.get_freeze_count())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "0"]


CONNECTIONS = """
import json, sys
import duckdb
opened = []
connect = duckdb.connect
duckdb.connect = lambda *a, **k: opened.append(1) or connect(*a, **k)
from sqlstream.entry import main
sys.argv = ["sqlstream", "run", sys.argv[1]]
code = main()
print(json.dumps({"code": code, "connections": len(opened)}))
"""


def test_only_operators_that_query_or_keep_state_open_a_duckdb_connection(tmp_path: Path) -> None:
    """Opening a DuckDB database costs ~12 ms of CPU, a short job pays it per operator: the
    watermark assigner of a fixed delay and a Calc that only renames columns open none,
    the window aggregate its state's one."""
    script = tmp_path / "job.sql"
    script.write_text(
        "CREATE TABLE src (x BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) "
        "WITH ('connector' = 'datagen', 'number-of-rows' = '3');\n"
        "CREATE TABLE out1 (k BIGINT, c BIGINT, s TIMESTAMP(3)) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO out1 SELECT x AS k, COUNT(*) AS c, window_start AS s FROM TABLE(TUMBLE("
        "TABLE src, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY x, window_start, window_end;\n"
    )
    probe = [sys.executable, "-c", CONNECTIONS, str(script)]
    out = subprocess.run(probe, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == {"code": 0, "connections": 1}
    assert "finished: 3 rows written" in out.stderr
