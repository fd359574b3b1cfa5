"""The sqlstream command: exit codes, output streams, errors without tracebacks."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def run(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlstream", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_quickstart_runs_to_completion_and_prints_windows() -> None:
    out = run("run", "examples/quickstart.sql")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("revenue>")]
    # 200,000 orders over 1,000 s of event time: 10 windows of 100 s, 3 products each.
    assert len(lines) == 30
    assert all("+I[" in line for line in lines)
    assert "Traceback" not in out.stderr


def test_syntax_error_runs_nothing_and_points_at_the_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.sql"
    script.write_text("CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nSELEC a FROM t;\n")
    out = run("run", str(script))
    assert out.returncode == 1
    assert "line 2" in out.stderr
    assert "Traceback" not in out.stderr
    assert "created" not in out.stderr  # nothing ran


def test_unknown_option_error_suggests_the_right_key() -> None:
    out = run("-e", "CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'rows-per-secnd' = '5');")
    assert out.returncode == 1
    assert "unknown option 'rows-per-secnd'" in out.stderr
    assert "rows-per-second" in out.stderr
    assert "Traceback" not in out.stderr


def test_script_on_stdin_runs_when_not_a_terminal() -> None:
    out = run(stdin="CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');\nSHOW TABLES;\n")
    assert out.returncode == 0, out.stderr
    assert "| t" in out.stdout


def test_explain_plans_every_example() -> None:
    for example in sorted((ROOT / "examples").glob("*.sql")):
        out = run("explain", str(example.relative_to(ROOT)))
        assert out.returncode == 0, f"{example.name}: {out.stderr}"
        assert "== Physical Plan ==" in out.stdout or example.name == "ddl.sql"


def test_missing_file_is_a_clear_error() -> None:
    out = run("run", "no/such/file.sql")
    assert out.returncode == 1
    assert "cannot read no/such/file.sql" in out.stderr


def test_unbounded_job_runs_until_sigterm_and_stops_cleanly(tmp_path: Path) -> None:
    import signal
    import time

    script = tmp_path / "forever.sql"
    script.write_text(
        "CREATE TABLE src (a INT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000');\n"
        "CREATE TABLE out (a INT) WITH ('connector' = 'print');\n"
        "INSERT INTO out SELECT a FROM src;\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlstream", "run", str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the job is producing rows
        assert first.startswith("+I[")
        time.sleep(0.5)
        assert proc.poll() is None  # still running: the source never ends
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Stopping" in err
    assert "Traceback" not in err


def test_catalog_file_keeps_tables_between_runs(tmp_path: Path) -> None:
    catalog = str(tmp_path / "cat.duckdb")
    first = run("--catalog", catalog, "-e", "CREATE TABLE kept (a INT) WITH ('connector' = 'blackhole');")
    assert first.returncode == 0, first.stderr
    second = run("--catalog", catalog, "-e", "SHOW TABLES; SHOW CREATE TABLE kept;")
    assert second.returncode == 0, second.stderr
    assert "| kept" in second.stdout
    assert "'connector' = 'blackhole'" in second.stdout


def test_dash_f_then_dash_e_runs_the_file_then_the_statements(tmp_path: Path) -> None:
    script = tmp_path / "tables.sql"
    script.write_text("CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3', "
                      "'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '3');")
    out = run("-f", str(script), "-e", "SELECT a * 10 AS b FROM t;")
    assert out.returncode == 0, out.stderr
    assert "Table 't' created" in out.stderr
    assert [line.split("|")[1].strip() for line in out.stdout.splitlines() if line.startswith("| ")][1:] == \
        ["10", "20", "30"]


def test_dash_f_is_the_same_as_run(tmp_path: Path) -> None:
    script = tmp_path / "s.sql"
    script.write_text(
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3', "
        "'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '3');\n"
        "CREATE TABLE o (a INT) WITH ('connector' = 'print');\n"
        "INSERT INTO o SELECT a * 10 FROM t;\n"
    )
    out = run("-f", str(script))
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split()) == ["+I[10]", "+I[20]", "+I[30]"]


def test_web_serves_the_dashboard_and_says_where() -> None:
    out = run("--web", "0", "-e", "SET 'rest.bind-address' = '127.0.0.1'; SHOW JOBS;")
    assert out.returncode == 0, out.stderr
    first = out.stderr.splitlines()[0]
    assert first.startswith("[INFO] Dashboard at http://127.0.0.1:") and first.endswith("/")
    assert "| dashboard" in out.stdout  # SHOW JOBS gives each job's page


def test_a_taken_dashboard_port_is_a_clear_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run("-D", f"rest.port={port}", "-e", "SHOW JOBS;")
    assert out.returncode == 1
    assert f"cannot serve the dashboard on 127.0.0.1:{port}" in out.stderr
    assert "rest.port" in out.stderr and "Traceback" not in out.stderr


def test_timestamp_ltz_prints_in_the_session_time_zone(tmp_path: Path) -> None:
    """As Flink's SQL client: a TIMESTAMP_LTZ shows as the wall time of 'table.local-time-zone'
    (epoch 0 is 16:00 on New Year's Eve in Los Angeles), a TIMESTAMP as it is."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.json").write_text('{"k": 1}\n')
    script = tmp_path / "ltz.sql"
    script.write_text(
        "SET 'table.local-time-zone' = 'America/Los_Angeles';\n"
        f"CREATE TABLE src (k INT) WITH ('connector' = 'filesystem', 'path' = '{tmp_path / 'in'}', "
        "'format' = 'json');\n"
        "SELECT TO_TIMESTAMP_LTZ(0, 3) AS ltz, TIMESTAMP '1970-01-01 00:00:00' AS ts FROM src;\n"
    )
    out = run("run", str(script))
    assert out.returncode == 0, out.stderr
    assert "1969-12-31 16:00:00.000" in out.stdout and "1970-01-01 00:00:00.000" in out.stdout
