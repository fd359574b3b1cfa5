"""Start-up: ``sqlstream run`` loads only what the job runs, and a program that imports
sqlstream keeps its garbage collector as it had it.

Each case runs in a fresh interpreter, since which modules a run imports is the thing
under test (pytest's own process has imported everything long before).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]

# Loaded by a job only when it needs them: DuckDB computes expressions and keeps state,
# aiokafka and psycopg are the Kafka and PostgreSQL connectors' clients, prompt_toolkit
# is the shell's, Ray the ray target's, the web server the dashboard's; pyarrow.compute
# (~25 ms of a one-row job's ~0.3 s) the operators' that compute in Arrow; fastavro and
# pyarrow.parquet the filesystem connector's for Avro and Parquet files.
HEAVY = [
    "duckdb",
    "aiokafka",
    "psycopg",
    "prompt_toolkit",
    "ray",
    "sqlstream.web.server",
    "pyarrow.compute",
    "fastavro",
    "pyarrow.parquet",
]

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


def test_a_job_reading_a_json_file_loads_neither_duckdb_nor_avro_nor_parquet(
    tmp_path: Path,
) -> None:
    """A file source decodes JSON and CSV with pyarrow: DuckDB (~30 ms to import), which
    only the encoders of a file sink query, and the Avro and Parquet libraries (~8 ms)
    loaded at its open, on the event loop, before its first read."""
    (tmp_path / "in.json").write_text('{"x": 1}\n{"x": 2}\n')
    found, err = run_probe(
        tmp_path,
        f"CREATE TABLE src (x BIGINT) WITH ('connector' = 'filesystem', 'path' = '{tmp_path / 'in.json'}', "
        "'format' = 'json');\n"
        "CREATE TABLE out1 (x BIGINT) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO out1 SELECT x FROM src;\n",
    )
    assert found == {"code": 0, "loaded": ["pyarrow.compute"]}
    assert "finished: 2 rows written" in err


def test_a_projection_of_columns_with_a_watermark_loads_no_duckdb(tmp_path: Path) -> None:
    """Selecting some columns of a table with a watermark (Nexmark's q0) is a Calc that
    runs no query: DuckDB (~35 ms) is not imported for it."""
    (tmp_path / "in.json").write_text('{"x": 1, "s": "a", "ts": "2024-01-01 00:00:00"}\n')
    found, err = run_probe(
        tmp_path,
        "CREATE TABLE src (x BIGINT, s STRING, ts TIMESTAMP(3), "
        "WATERMARK FOR ts AS ts - INTERVAL '4' SECOND) "
        f"WITH ('connector' = 'filesystem', 'path' = '{tmp_path / 'in.json'}', 'format' = 'json');\n"
        "CREATE TABLE out1 (ts TIMESTAMP(3), x BIGINT) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO out1 SELECT ts, x FROM src;\n",
    )
    assert "duckdb" not in found["loaded"]  # type: ignore[operator]
    assert "finished: 1 rows written" in err


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
# DuckDB's module-level functions run on its default connection, opened at the first call:
# a database like any other, counted once
def on_default(f):
    def call(*a, **k):
        if "default" not in opened:
            opened.append("default")
        return f(*a, **k)
    return call
for name in ("sqltype", "list_type", "struct_type", "map_type", "sql", "query", "execute", "from_arrow"):
    setattr(duckdb, name, on_default(getattr(duckdb, name)))
from sqlstream.entry import main
sys.argv = ["sqlstream", "run", sys.argv[1]]
code = main()
print(json.dumps({"code": code, "connections": len(opened)}))
"""


def test_only_operators_that_query_or_keep_state_open_a_duckdb_connection(tmp_path: Path) -> None:
    """Opening a DuckDB database costs ~12 ms of CPU, a short job pays it per operator: the
    watermark assigner of a fixed delay and a Calc that only renames columns open none,
    the window aggregate its state's one (and DuckDB's default connection is not opened to
    parse the types of the functions installed there)."""
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


# Threads a library started without naming them carry the process's name (pyarrow's
# jemalloc names its background thread).
THREADS = """
import json, os
def unnamed():
    names = [open(f"/proc/self/task/{t}/comm").read() for t in os.listdir("/proc/self/task")]
    return names.count(open("/proc/self/comm").read())
from sqlstream import entry
before = unnamed()
entry.load()
print(json.dumps({"threads": [before, unnamed()], "blas": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def _in_fresh_process(script: str, env: dict[str, str]) -> dict[str, object]:
    """What ``script`` prints last, as JSON, run in a new interpreter with ``env``."""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_the_command_loads_the_engine_without_starting_threads() -> None:
    """numpy's OpenBLAS would start a thread per core that spins ~0.1 s of CPU for matrix
    work the engine never gives it; the variable that stops it is the user's again after."""
    blas = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in blas}
    assert _in_fresh_process(THREADS, env) == {"threads": [1, 1], "blas": None}
    assert _in_fresh_process(THREADS, {**env, "OPENBLAS_NUM_THREADS": "2"})["blas"] == "2"
    # the user's choice, in any variable OpenBLAS reads, is theirs (on a machine of 2+ cores)
    assert _in_fresh_process(THREADS, {**env, "OMP_NUM_THREADS": "2"}) == {"threads": [1, 2], "blas": None}


# Minor page faults of filling 20 buffers of 16 MB from Arrow's jemalloc, each allocated
# after the one before was freed (every page of every buffer: 81,920).
PAGES = """
import json, os, resource
import numpy as np
from sqlstream import entry
entry.load()
import pyarrow as pa
pool = pa.jemalloc_memory_pool()
def fill():
    buffer = pa.allocate_buffer(16 << 20, memory_pool=pool)
    np.frombuffer(buffer, dtype=np.uint8)[::4096] = 1
fill()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    fill()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"faults": faults, "conf": os.environ.get("JE_ARROW_MALLOC_CONF")}))
"""


def test_the_command_reuses_the_pages_of_freed_arrow_buffers() -> None:
    """A batch's buffers of tens of MB are allocated anew for every batch: the command's
    jemalloc keeps a freed buffer's pages for the next one instead of handing them back to
    the kernel, to be faulted in and zeroed again (a Nexmark q18 process: ~0.2 CPU s); the
    variable that says so is the user's again after, and their own setting is kept."""
    env = {k: v for k, v in os.environ.items() if k != "JE_ARROW_MALLOC_CONF"}
    found = _in_fresh_process(PAGES, env)
    assert found["conf"] is None
    assert isinstance(found["faults"], int) and found["faults"] < 4096 * 2  # at most one buffer's pages
    theirs = _in_fresh_process(PAGES, {**env, "JE_ARROW_MALLOC_CONF": "muzzy_decay_ms:1000"})
    assert theirs["conf"] == "muzzy_decay_ms:1000"
    assert isinstance(theirs["faults"], int) and theirs["faults"] >= 4096 * 15  # pages handed back


# Transparent huge pages of a 64 MB numpy array, filled: numpy asks for them (madvise) for
# arrays of 4 MB or more unless NUMPY_MADVISE_HUGEPAGE is 0.
HUGE = """
import json, os, re
from sqlstream import entry
entry.load()
import numpy as np
def huge_kb():
    return int(re.search(r"AnonHugePages:\\s+(\\d+)", open("/proc/self/smaps_rollup").read()).group(1))
before = huge_kb()
buffer = np.empty(64 << 20, dtype=np.uint8)
buffer[::4096] = 1
print(json.dumps({"huge_kb": huge_kb() - before, "var": os.environ.get("NUMPY_MADVISE_HUGEPAGE")}))
"""


def test_the_command_has_numpy_ask_for_no_huge_pages() -> None:
    """A huge page the kernel has no free 2 MB for is made by compacting memory at the
    fault: the first read of a short job's file took up to 0.26 s of system CPU instead of
    ~0.02 s. The command's numpy asks for none; the variable is the user's again after, and
    their own setting is kept. (Only where the kernel gives huge pages on request, its
    ``madvise`` mode, does asking make the difference: under ``always`` every big mapping
    gets them, under ``never`` none does.)"""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    mode = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    ours = _in_fresh_process(HUGE, env)
    theirs = _in_fresh_process(HUGE, {**env, "NUMPY_MADVISE_HUGEPAGE": "1"})
    assert ours["var"] is None and theirs["var"] == "1"
    if "[madvise]" in mode:
        assert ours["huge_kb"] == 0
        assert isinstance(theirs["huge_kb"], int) and theirs["huge_kb"] > 0


# The docstrings pyarrow.compute writes for its functions, and how often it parsed the
# docstring of an options class for them (and how many different ones it parsed).
DOCS = """
import hashlib, json, sys
from pyarrow.vendored import docscrape
parsed = []
class Counted(docscrape.NumpyDocString):
    def __init__(self, docstring, *args, **kwargs):
        parsed.append(docstring)
        super().__init__(docstring, *args, **kwargs)
docscrape.NumpyDocString = Counted
if sys.argv[1] == "command":
    from sqlstream import entry
    entry.load()
import pyarrow.compute as pc
docs = sorted((n, f.__doc__) for n, f in vars(pc).items() if hasattr(f, "__arrow_compute_function__"))
print(json.dumps({"docs": hashlib.sha256(repr(docs).encode()).hexdigest(), "count": len(docs),
                  "parsed": len(parsed), "distinct": len(set(parsed))}))
"""


def test_the_command_loads_pyarrow_compute_with_its_docs_as_they_were() -> None:
    """pyarrow.compute parses an options class's docstring for each function that takes
    it (~13 ms of its ~38 ms load in every job that computes in Arrow); the command has
    each parsed once, and ``help(pyarrow.compute.cast)`` reads as it did."""
    ours = subprocess.run([sys.executable, "-c", DOCS, "command"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)  # fmt: skip
    plain = subprocess.run([sys.executable, "-c", DOCS, "plain"], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)  # fmt: skip
    assert ours.returncode == 0 and plain.returncode == 0, ours.stderr + plain.stderr
    found, before = json.loads(ours.stdout.splitlines()[-1]), json.loads(plain.stdout.splitlines()[-1])
    assert found["docs"] == before["docs"] and found["count"] == before["count"] > 200
    assert found["parsed"] == found["distinct"] == before["distinct"] < before["parsed"]


UDF_MODULE = """
import atexit, sys


class Noisy:
    def __del__(self):
        print("torn down", file=sys.stderr)


NOISY = Noisy()
atexit.register(lambda: print("atexit handler ran", flush=False))


def plus_one(x: int) -> int:
    return x + 1
"""


def test_the_command_exits_after_every_handler_without_tearing_the_interpreter_down(tmp_path: Path) -> None:
    """The exit status, the output still buffered and the ``atexit`` handlers of what the
    job loaded are all kept; only the interpreter's teardown (freeing every object, ~40 ms)
    is skipped, so a module object's ``__del__`` does not run at exit."""
    (tmp_path / "exit_udf.py").write_text(UDF_MODULE)
    script = tmp_path / "job.sql"
    script.write_text(
        "CREATE FUNCTION plus_one AS 'exit_udf.plus_one' LANGUAGE PYTHON;\n"
        "CREATE TABLE src (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3', "
        "'fields.x.kind' = 'sequence', 'fields.x.start' = '1', 'fields.x.end' = '3');\n"
        "CREATE TABLE out1 (y BIGINT) WITH ('connector' = 'print');\n"
        "INSERT INTO out1 SELECT plus_one(x) FROM src;\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "sqlstream", "run", str(script)], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.splitlines()) == ["+I[2]", "+I[3]", "+I[4]", "atexit handler ran"]
    assert "finished: 3 rows written" in out.stderr
    assert "torn down" not in out.stderr
    failed = subprocess.run([sys.executable, "-m", "sqlstream", "run", str(tmp_path / "missing.sql")],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert failed.returncode == 1 and "cannot read" in failed.stderr


# DuckDB made slow to open (0.5 s a database), and the time of each open's end and of the
# file source's first read, from one clock
SLOW_DATABASES = """
import json, sys, time
import duckdb
from runtime.connectors.filesystem.source import FileSystemSource
marks = {"opened": [], "read": []}
connect = duckdb.connect
def slow_connect(*a, **k):
    time.sleep(0.5)
    con = connect(*a, **k)
    marks["opened"].append(time.monotonic())
    return con
duckdb.connect = slow_connect
read = FileSystemSource._read
def first_read(self, *a):
    marks["read"].append(time.monotonic())
    return read(self, *a)
FileSystemSource._read = first_read
from sqlstream.entry import main
sys.argv = ["sqlstream", "run", sys.argv[1]]
code = main()
print(json.dumps({"code": code, **marks}))
"""


def test_the_sources_read_while_the_operators_open_their_duckdb_databases(tmp_path: Path) -> None:
    """An operator opens its DuckDB database (~10 ms, the job's first ~40 ms with DuckDB's
    import) on the job's thread pool: on the event loop it held back every source's first
    read, which waits for that loop, until all the operators had opened."""
    (tmp_path / "in.json").write_text("".join(f'{{"x": {i}}}\n' for i in range(10)))
    script = tmp_path / "job.sql"
    script.write_text(
        f"CREATE TABLE src (x BIGINT) WITH ('connector' = 'filesystem', 'path' = '{tmp_path / 'in.json'}', "
        "'format' = 'json');\n"
        "CREATE TABLE out1 (y BIGINT) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO out1 SELECT x * 2 FROM src WHERE x > 4;\n"
    )
    probe = [sys.executable, "-c", SLOW_DATABASES, str(script)]
    out = subprocess.run(probe, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    assert found["code"] == 0 and len(found["opened"]) == 1 and found["read"]
    assert min(found["read"]) < found["opened"][0]
    assert "finished: 5 rows written" in out.stderr
