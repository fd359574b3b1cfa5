"""The shell as a whole: statements, their answers, errors, narrow terminals."""

from __future__ import annotations

from typing import Any

from sqlstream.repl.lexer import FlinkSqlLexer
from tests.unit.repl.conftest import drive


def test_ddl_set_show_describe_explain_print_their_answers(session: Any) -> None:
    keys = (
        "CREATE TABLE sink (item STRING, price DECIMAL(10, 2))\r"
        "  WITH ('connector' = 'print');\r"
        "SET 'parallelism.default' = '2';\r"
        "SHOW TABLES;\r"
        "DESCRIBE orders;\r"
        "EXPLAIN INSERT INTO sink SELECT item, price FROM bids;\r"
        "RESET 'parallelism.default';\r"
        "\\q\r"
    )
    out, code = drive(session, keys)
    assert code == 0
    assert "[INFO] Table 'sink' created." in out
    assert "[INFO] Configuration set." in out
    assert "| sink " in out and "| order_id " in out
    assert "'parallelism.default' reset." in out
    assert "== Sources ==" in out and "bids: unbounded" in out


def test_several_statements_on_one_line_run_in_order(session: Any) -> None:
    out, _ = drive(session, "CREATE VIEW v AS SELECT item FROM bids; SHOW VIEWS; DROP VIEW v;\r\\q\r")
    assert out.index("View 'v' created.") < out.index("| v ") < out.index("View 'v' dropped.")


def test_an_error_shows_message_caret_and_hint_and_the_rest_is_not_run(session: Any) -> None:
    out, code = drive(session, "SHOW TABLES; SELECT prce\r  FROM bids; SHOW VIEWS;\r\\q\r")
    assert "Error: " in out and "prce" in out
    assert "Hint: did you mean 'price'?" in out
    assert "  | SHOW TABLES; SELECT prce" in out
    assert "  |                     ^" in out  # under 'prce', in the line as typed
    assert "[INFO] 1 more statement not run." in out
    assert "view name" not in out
    assert "Traceback" not in out and code == 0


def test_a_mistyped_option_suggests_the_closest(session: Any) -> None:
    out, _ = drive(session, "CREATE TABLE k (a INT) WITH ('connector' = 'kafka', 'topc' = 'x',\r"
                            " 'properties.bootstrap.servers' = 'h:1');\r\\q\r")  # fmt: skip
    assert "unknown option 'topc'" in out and "did you mean 'topic'?" in out


def test_an_internal_error_has_no_traceback_unless_debug(session: Any) -> None:
    class Broken:
        catalog, config, jobs = session.catalog, session.config, session.jobs

        def execute_statement(self, statement: Any) -> Any:
            raise RuntimeError("boom")

    out, _ = drive(Broken(), "SHOW TABLES;\r\\q\r")
    assert "Internal error: RuntimeError: boom" in out and "Traceback" not in out
    import io

    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from sqlstream.repl.app import Shell

    buf = io.StringIO()
    with create_pipe_input() as inp:
        inp.send_text("SHOW TABLES;\r\\q\r")
        Shell(
            Broken(), debug=True, input=inp, output=DummyOutput(), stdout=buf, history=InMemoryHistory()
        ).run()
    assert "Traceback" in buf.getvalue()


def test_narrow_terminal_truncates_long_rows(session: Any) -> None:
    out, _ = drive(session, "DESCRIBE bids;\r\\q\r", width=40)
    table = [line for line in out.splitlines() if line.startswith(("|", "+"))]
    assert table and all(len(line) <= 40 for line in table)
    assert any(line.endswith(">") for line in table)


def test_unknown_set_key_warns_with_the_closest_key(session: Any) -> None:
    out, _ = drive(session, "SET 'parallelism.defualt' = '2';\r\\q\r")
    assert "[WARNING]" in out and "did you mean 'parallelism.default'?" in out


def test_statement_set_spanning_lines_is_sent_as_one_statement(session: Any) -> None:
    seen: list[Any] = []

    class Recording:
        catalog, config, jobs = session.catalog, session.config, session.jobs

        def execute_statement(self, statement: Any) -> Any:
            seen.append(statement)
            from sqlstream.results import Result

            return Result.ok("recorded")

    keys = ("BEGIN STATEMENT SET;\r"
            "INSERT INTO orders SELECT order_id, amount FROM orders;\r"
            "INSERT INTO orders SELECT order_id, amount FROM orders;\r"
            "END;\r\\q\r")  # fmt: skip
    drive(Recording(), keys)
    from planner import statements as st

    assert len(seen) == 1 and isinstance(seen[0], st.StatementSet) and len(seen[0].inserts) == 2


def test_flink_words_are_highlighted_as_keywords() -> None:
    from pygments.token import Keyword, Name

    tokens = list(FlinkSqlLexer().get_tokens("SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), x))"))
    assert (Name.Builtin, "TUMBLE") in tokens
    assert (Keyword, "DESCRIPTOR") in tokens
    for word in ("WATERMARK", "METADATA", "HOP", "CUMULATE", "SESSION"):
        kinds = {k for k, v in FlinkSqlLexer().get_tokens(word) if v == word}
        assert kinds & {Keyword, Name.Builtin}, word


def test_cli_without_a_terminal_still_runs_stdin_as_a_script(monkeypatch: Any, capsys: Any) -> None:
    import io

    from sqlstream import cli

    monkeypatch.setattr("sys.stdin", io.StringIO("SHOW TABLES;"))
    assert cli.main([]) == 0
    assert "table name" in capsys.readouterr().out


def test_history_that_cannot_be_written_warns_and_the_shell_still_works(
    session: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SQLSTREAM_HISTORY", str(tmp_path / "no" / "such" / "dir" / "history"))
    out, code = drive(session, "SHOW TABLES;\r\\q\r", history="default")
    assert "[WARNING] history is not saved: cannot write" in out
    assert "| bids " in out and code == 0


def test_toolbar_shows_mode_running_jobs_timing_output_and_an_open_statement_set() -> None:
    from sqlstream.repl.app import buffer_hint
    from sqlstream.repl.toolbar import ShellState, prompt_toolbar

    def text(state: ShellState) -> str:
        return "".join(part[1] for part in prompt_toolbar(state))

    assert "mode: changelog" in text(ShellState("changelog", 0, False))
    assert "2 jobs running" in text(ShellState("table", 2, False))
    assert "1 job running" in text(ShellState("table", 1, False))
    assert "jobs running" not in text(ShellState("table", 0, False))
    assert "timing on" in text(ShellState("table", 0, True))
    assert "output: out.txt" in text(ShellState("table", 0, False, "out.txt"))
    hint = buffer_hint("BEGIN STATEMENT SET;\nINSERT INTO orders SELECT * FROM orders;\n")
    assert "statement set: END; runs it" in text(ShellState("table", 0, False, hint=hint))
    assert buffer_hint("BEGIN STATEMENT SET;\nINSERT INTO o SELECT * FROM o;\nEND;") is None
    assert buffer_hint("SELECT 1") is None
