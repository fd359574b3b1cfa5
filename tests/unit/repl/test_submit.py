"""The "does Enter submit?" rule and how a submitted buffer splits into pieces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from planner.errors import ParseError
from planner.parse import split_statements
from sqlstream.repl.submit import PieceKind, should_submit, split


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1",
        "SELECT * FROM t\nWHERE a = 1",
        "SELECT ';'",  # the ; is inside a string
        "SELECT 'it''s;",  # an escaped quote keeps the string open
        'SELECT "a;b" FROM t',
        "SELECT `weird;name` FROM t",
        "SELECT 1 -- the end;",  # the ; is inside a line comment
        "SELECT 1 /* ; */",
        "SELECT 1; /* a comment that is not closed ;",
        "SELECT 1; SELECT 2",  # the second statement is unfinished
        "BEGIN STATEMENT SET;",
        "BEGIN STATEMENT SET;\nINSERT INTO a SELECT * FROM b;",
        "BEGIN STATEMENT SET;\nINSERT INTO a SELECT CASE WHEN x THEN 1 END FROM b;",
        "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT * FROM b;\nINSERT INTO c SELECT * FROM b;",
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen'",
    ],
)
def test_enter_keeps_editing_an_unfinished_buffer(text: str) -> None:
    assert not should_submit(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "SELECT 1;",
        "SELECT 1;   ",
        "SELECT * FROM t\nWHERE a = ';';",
        "SELECT 1; -- a trailing comment",
        "SELECT 1; -- it's a comment, not a string",
        "/* it's */ SELECT 1;",
        "SELECT 1; SELECT 2;",
        "SELECT 'it''s';",
        "BEGIN STATEMENT SET;\nINSERT INTO a SELECT * FROM b;\nEND;",
        "EXECUTE STATEMENT SET BEGIN\nINSERT INTO a SELECT * FROM b;\nend;",
        "\\dt",
        ".mode changelog",
        "quit",
        "exit;",
        "help",
        "SELECT 1;\n\\timing",
    ],
)
def test_enter_runs_a_finished_buffer(text: str) -> None:
    assert should_submit(text)


def test_several_statements_on_one_line_are_run_in_order_with_their_positions() -> None:
    pieces = split("SELECT 1; SELECT 'a;b';\n  SHOW TABLES;")
    assert [(p.text, p.line, p.col) for p in pieces] == [
        ("SELECT 1", 1, 1),
        ("SELECT 'a;b'", 1, 11),
        ("SHOW TABLES", 2, 3),
    ]


def test_a_statement_set_is_one_piece() -> None:
    text = (
        "BEGIN STATEMENT SET;\nINSERT INTO a SELECT * FROM b;\nINSERT INTO c SELECT * FROM b;\nEND;\n"
        "SHOW JOBS;"
    )
    pieces = split(text)
    assert [p.kind for p in pieces] == [PieceKind.SQL, PieceKind.SQL]
    assert pieces[0].text.startswith("BEGIN STATEMENT SET;")
    assert pieces[0].text.endswith("END")
    assert "INSERT INTO c" in pieces[0].text
    assert pieces[1].text == "SHOW JOBS"


def test_meta_commands_end_at_their_line_and_mix_with_sql() -> None:
    pieces = split("\\timing\nSELECT 1;\n.mode tableau\n\\i my file.sql\nquit")
    assert [(p.kind, p.text) for p in pieces] == [
        (PieceKind.META, "\\timing"),
        (PieceKind.SQL, "SELECT 1"),
        (PieceKind.META, ".mode tableau"),
        (PieceKind.META, "\\i my file.sql"),
        (PieceKind.META, "quit"),
    ]


def test_a_backslash_or_word_inside_a_statement_is_not_a_command() -> None:
    pieces = split("SELECT\nquit FROM t;")
    assert [(p.kind, p.text) for p in pieces] == [(PieceKind.SQL, "SELECT\nquit FROM t")]


def test_comments_before_a_statement_are_not_part_of_its_position() -> None:
    (piece,) = split("-- counts\n/* more */ SELECT 1;")
    assert (piece.text, piece.line, piece.col) == ("SELECT 1", 2, 12)


def test_an_unfinished_tail_is_run_like_psql_runs_the_end_of_a_file() -> None:
    assert [p.text for p in split("SELECT 1; SELECT 2")] == ["SELECT 1", "SELECT 2"]


def test_explain_of_a_statement_set_is_one_piece() -> None:
    text = "EXPLAIN STATEMENT SET BEGIN\nINSERT INTO a SELECT * FROM b;\nINSERT INTO c SELECT * FROM b;\nEND;"
    assert should_submit(text)
    assert [p.text for p in split(text)] == [text.rstrip(";")]


_ATOMS = [
    "SELECT 1", " ", "\n", ";", "'a;b'", "'it''s'", "`x;y`", "-- c;\n", "/* ; */", "/* a /* b */ ; */",
    "BEGIN STATEMENT SET;", "EXECUTE STATEMENT SET BEGIN", "EXPLAIN", "END", "CASE WHEN x THEN 1 END",
    "INSERT INTO t SELECT 2", '"',
]  # fmt: skip


@given(hs.lists(hs.sampled_from(_ATOMS), min_size=1, max_size=12))
def test_the_shell_splits_a_script_as_running_it_as_a_file_does(atoms: list[str]) -> None:
    script = " ".join(atoms)
    try:
        expected = [(text, line, col) for text, line, col in split_statements(script)]
    except ParseError:
        return  # an unterminated string or comment: a file run refuses it whole
    assert [(p.text, p.line, p.col) for p in split(script)] == expected


def test_a_stray_semicolon_runs_nothing() -> None:
    assert split(";") == []
    assert [p.text for p in split("SELECT 1;;\n;")] == ["SELECT 1"]


def test_comments_nest_as_in_a_script_file() -> None:
    text = "/* off: /* SELECT 1; */ SELECT 2; */ SELECT 3;"
    assert [p.text for p in split(text)] == ["SELECT 3"]
    assert not should_submit("/* /* */ SELECT 1;")  # the outer comment is still open
