"""Meta commands, as a user types them in the shell."""

from __future__ import annotations

from typing import Any

from tests.unit.repl.conftest import drive


def test_help_lists_the_commands(session: Any) -> None:
    for word in ("\\?", "help", ".help"):
        out, _ = drive(session, f"{word}\r\\q\r")
        assert "\\dt" in out and "\\timing" in out and ".mode" in out and "\\i FILE" in out, word


def test_help_fits_an_80_column_terminal() -> None:
    from sqlstream.repl.commands import help_text

    assert max(len(line) for line in help_text().splitlines()) <= 80


def test_quit_and_exit_leave(session: Any) -> None:
    for word in ("\\q", "quit", "exit", "exit;", ".quit"):
        out, code = drive(session, f"{word}\r")
        assert code == 0 and out.rstrip().endswith("Goodbye!"), word


def test_dt_lists_tables_and_d_describes_one(session: Any) -> None:
    out, _ = drive(session, "\\dt\r\\d bids\r\\q\r")
    assert "| table name" in out and "| bids " in out and "| orders " in out
    assert "| bidtime " in out and "TIMESTAMP(3) *ROWTIME*" in out and "| price " in out


def test_d_of_a_mistyped_name_suggests_the_closest(session: Any) -> None:
    out, _ = drive(session, "\\d bid\r\\q\r")
    assert "Error: table or view 'bid' not found" in out
    assert "did you mean 'bids'?" in out


def test_unknown_command_says_so_and_suggests(session: Any) -> None:
    out, code = drive(session, "\\timin\r\\q\r")
    assert "Error: unknown command '\\timin'; did you mean '\\timing'?" in out
    assert code == 0


def test_timing_reports_how_long_statements_take(session: Any) -> None:
    out, _ = drive(session, "SHOW TABLES;\r\\timing\rSHOW TABLES;\r\\timing off\rSHOW TABLES;\r\\q\r")
    assert "Timing is on." in out and "Timing is off." in out
    assert out.count("Time: ") == 1
    before, after = out.split("Timing is on.")
    assert "Time: " not in before and "Time: " in after.split("Timing is off.")[0]


def test_o_sends_results_to_a_file_and_back(session: Any, tmp_path: Any) -> None:
    path = tmp_path / "out.txt"
    out, _ = drive(session, f"\\o {path}\rDESCRIBE orders;\r\\o\rSHOW TABLES;\r\\q\r")
    written = path.read_text()
    assert "| order_id " in written and "| table name" not in written
    assert "| order_id " not in out and "| table name" in out  # back on the terminal
    assert f"Results go to {path}" in out


def test_i_runs_a_file_and_reports_errors_at_the_files_line(session: Any, tmp_path: Any) -> None:
    script = tmp_path / "setup.sql"
    script.write_text(
        "-- setup\nCREATE TABLE from_file (x INT) WITH ('connector' = 'datagen');\n"
        "SHOW TABLES;\n\nSELECT nope\n  FROM from_file;\nSHOW VIEWS;\n"
    )
    out, _ = drive(session, f"\\i {script}\r\\q\r")
    assert "Table 'from_file' created." in out
    assert "| from_file " in out
    assert f"at {script}:line 5, column 8" in out  # where 'nope' is in the file
    assert "  | SELECT nope" in out
    assert "view name" not in out  # stopped at the error


def test_i_of_a_missing_file(session: Any, tmp_path: Any) -> None:
    out, _ = drive(session, f"\\i {tmp_path}/missing.sql\r\\q\r")
    assert "Error: cannot read" in out and "missing.sql" in out


def test_mode_switches_the_result_mode(session: Any) -> None:
    out, _ = drive(session, ".mode changelog\r.mode\r.mode tabel\r\\q\r")
    assert session.config["sql-client.execution.result-mode"] == "changelog"
    assert "Result mode: changelog" in out
    assert "Error: unknown mode 'tabel'; use one of table, changelog, tableau" in out


def test_e_edits_the_last_statement_into_the_next_prompt(
    session: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    editor = tmp_path / "ed.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/orders/bids/" "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    # \dt in between runs SHOW TABLES for the user, but the last statement typed stays DESCRIBE
    out, _ = drive(session, ["DESCRIBE orders;\r", "\\dt\r", "\\e\r", "\r", "\\q\r"])
    assert "| order_id " in out
    assert "| bidtime " in out  # the edited statement ran after Enter


def test_web_serves_the_dashboard_for_the_sessions_jobs_and_stops_it(session: Any) -> None:
    session.execute("CREATE TABLE sink (order_id BIGINT, amount DOUBLE) WITH ('connector' = 'blackhole')")
    job = session.execute("INSERT INTO sink SELECT * FROM orders").job
    out, _ = drive(session, "\\web 0\r\\web\r\\jobs\r\\web off\r\\web x\r\\q\r", width=200)
    assert out.count("Dashboard at http://127.0.0.1:") == 2  # \web again: the same address
    said = [line.split("Dashboard at ")[1].split()[0] for line in out.splitlines() if "Dashboard at" in line]
    first, second = said
    assert first == second
    assert f"{first}#/job/{job.id}" in out  # SHOW JOBS: each job's page
    assert "Dashboard stopped." in out
    assert "Error: \\web takes a port number or off, not 'x'" in out
    assert session.dashboard is None


def test_df_lists_functions_and_shows_a_user_functions_signature(session: Any) -> None:
    session.execute(
        "CREATE TEMPORARY FUNCTION count_char AS 'tests.unit.sqlstream.udf_module.count_char' LANGUAGE PYTHON"
    )
    out, _ = drive(session, "\\df\r\\df count_char\r\\q\r")
    assert "| UPPER " in out and "| count_char " in out
    assert "| count_char(STRING, STRING)" in out and "| PYTHON " in out
