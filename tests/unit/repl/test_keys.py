"""Keys of the prompt, typed through prompt-toolkit's pipe input."""

from __future__ import annotations

import threading
import time
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from sqlstream.repl.keybindings import build_key_bindings
from sqlstream.repl.submit import should_submit
from tests.unit.repl.conftest import drive


def prompt_once(*chunks: str, **kw: Any) -> str:
    """What one prompt returns when the chunks are typed with pauses between them."""
    with create_pipe_input() as inp:
        session: PromptSession[str] = PromptSession(
            input=inp,
            output=DummyOutput(),
            multiline=True,
            key_bindings=build_key_bindings(should_submit),
            **kw,
        )

        def typing() -> None:
            for c in chunks:
                inp.send_text(c)
                time.sleep(0.2)

        threading.Thread(target=typing, daemon=True).start()
        return session.prompt()


def test_enter_inserts_a_newline_inside_an_unterminated_statement_and_submits_after_the_semicolon() -> None:
    assert prompt_once("SELECT *\rFROM t\rWHERE a = 1;\r") == "SELECT *\nFROM t\nWHERE a = 1;"


def test_enter_inside_a_string_or_statement_set_keeps_editing() -> None:
    assert prompt_once("SELECT 'a;\rb';\r") == "SELECT 'a;\nb';"
    got = prompt_once("BEGIN STATEMENT SET;\rINSERT INTO a SELECT * FROM b;\rEND;\r")
    assert got == "BEGIN STATEMENT SET;\nINSERT INTO a SELECT * FROM b;\nEND;"


def test_meta_commands_run_without_a_semicolon() -> None:
    assert prompt_once("\\dt\r") == "\\dt"


def test_alt_enter_always_inserts_a_newline() -> None:
    assert prompt_once("SELECT 1;\x1b\r", "SELECT 2;\r") == "SELECT 1;\nSELECT 2;"


def test_f4_opens_the_editor_on_the_buffer(tmp_path: Any, monkeypatch: Any) -> None:
    editor = tmp_path / "ed.sh"
    editor.write_text('#!/bin/sh\nprintf "SELECT 42;\\n" > "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    assert prompt_once("SELECT 1", "\x1bOS", "\r", enable_open_in_editor=True) == "SELECT 42;"


def test_ctrl_c_at_the_prompt_clears_the_line_and_the_shell_goes_on(session: Any) -> None:
    out, code = drive(session, ["SELECT * FROM bids", "\x03", "SHOW TABLES;\r\\q\r"])
    assert code == 0
    assert "| bids " in out  # the shell kept running and ran the next statement
    assert "Goodbye!" in out


def test_ctrl_d_leaves_the_shell(session: Any) -> None:
    out, code = drive(session, "\x04")
    assert code == 0 and "Goodbye!" in out


def test_history_is_kept_in_the_file_named_by_sqlstream_history(
    session: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    path = tmp_path / "hist"
    monkeypatch.setenv("SQLSTREAM_HISTORY", str(path))
    drive(session, "SHOW TABLES;\r\x04", history="default")
    assert "SHOW TABLES;" in path.read_text()
    # the next shell recalls it with the Up key
    out, _ = drive(session, ["\x1b[A", "\r\x04"], history="default")
    assert "| bids " in out


def test_ctrl_r_searches_history(session: Any, tmp_path: Any) -> None:
    from prompt_toolkit.history import InMemoryHistory

    history = InMemoryHistory()
    for entry in ("DESCRIBE orders;", "SHOW VIEWS;"):
        history.append_string(entry)
    out, _ = drive(session, ["\x12", "DESCR", "\r", "\r\\q\r"], history=history)
    assert "| order_id " in out


def test_right_arrow_accepts_the_suggestion_from_history(session: Any) -> None:
    from prompt_toolkit.history import InMemoryHistory

    history = InMemoryHistory()
    history.append_string("DESCRIBE orders;")
    out, _ = drive(session, ["DESCRIBE o", "\x1b[C", "\r\\q\r"], history=history)
    assert "| order_id " in out
