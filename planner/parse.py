"""Flink SQL text to statements, each knowing where it starts in the script.

The script is tokenized once with the Flink dialect's tokenizer, split on ``;`` (keeping
``BEGIN STATEMENT SET; ... END`` together), and every statement is read either by a small
front function (SET, RESET, SHOW, DESCRIBE, STOP JOB, EXPLAIN, statement sets: plain
words, no expression grammar) or by sqlglot's parser with ``planner.dialect.Flink``.
Errors are :class:`planner.errors.ParseError` / :class:`UnsupportedError` with the line
and column in the whole script.

>>> [type(s).__name__ for s in parse("SET 'pipeline.name' = 'x';\\nSELECT 1")]
['Set', 'Query']
>>> parse("SELECT 1;\\n  SHOW TABLES")[1].line, parse("SELECT 1;\\n  SHOW TABLES")[1].col
(2, 3)
>>> split_statements("SELECT ';';  -- done\\nSELECT 2")
[("SELECT ';'", 1, 1), ('SELECT 2', 2, 1)]

Where each statement starts and ends is ``planner.split``'s job (the REPL's too), the
tokens and positions are ``planner.script``'s, reading one statement is ``planner.read``'s;
this module is the entry point and picks the reading for a statement.
"""

from __future__ import annotations

import difflib
from contextlib import nullcontext
from typing import cast

from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError

from planner import statements as st
from planner.dialect import Flink, navigating  # noqa: F401  (the doctests use Flink)
from planner.errors import ParseError
from planner.read.databases import DatabaseReader
from planner.read.functions import FunctionReader
from planner.read.words import WordReader
from planner.script import DIALECT, FRONT_STARTS, SQL_STARTS, Script

# Flink statements that we recognise but do not run.
_FLINK_ONLY_STARTS = (
    "LOAD", "UNLOAD", "ANALYZE", "ADD", "REMOVE", "UPDATE", "DELETE", "TRUNCATE",
    "CALL", "COMPILE", "MERGE", "REPLACE",
)  # fmt: skip
_STATEMENT_HINT = (
    "statements start with SELECT, INSERT, CREATE, DROP, ALTER, SET, RESET, SHOW, DESCRIBE, "
    "EXPLAIN or STOP JOB"
)


# ---- public API -------------------------------------------------------------------------


def parse(sql: str) -> list[st.Statement]:
    """Parse a script of ``;``-separated Flink SQL statements.

    >>> t = parse("CREATE TABLE t (a INT, ts TIMESTAMP(3),"
    ...           " WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'datagen')")[0]
    >>> t.name, t.schema.watermark.expr, t.options
    ('t', "ts - INTERVAL '1' SECOND", {'connector': 'datagen'})
    """
    script = Script(sql)
    return [Reader(script, piece).statement() for piece in script.pieces()]


def parse_expression(sql: str, navigation: bool = False) -> exp.Expression:
    """Parse one Flink SQL expression (a computed column's or a watermark's); with
    ``navigation``, one of MATCH_RECOGNIZE's, where FIRST/LAST/PREV/NEXT navigate rows.

    >>> parse_expression("ts - INTERVAL '5' SECOND").sql(dialect=Flink)
    "ts - INTERVAL '5' SECOND"
    >>> parse_expression("LAST(A.price, 1)", navigation=True).sql(dialect=Flink)
    'LAST(A.price, 1)'
    """
    script = Script(sql)
    if not script.tokens:
        raise ParseError("expected an expression, got nothing", line=1, col=1)
    parser = DIALECT.parser()
    try:
        with navigating(parser) if navigation else nullcontext():
            nodes = parser.parse_into(exp.Condition, script.tokens, sql)
    except SqlglotParseError as e:
        raise script.translate(e) from None
    if len(nodes) != 1 or nodes[0] is None:
        raise ParseError("expected one expression", line=1, col=1)
    node = cast(exp.Expression, nodes[0])
    script.locate(node)
    return node


def split_statements(sql: str) -> list[tuple[str, int, int]]:
    """The statements of a script as (text without ';', line, column of its first token).

    A ``;`` inside quotes or comments does not split, nor do those inside
    ``BEGIN STATEMENT SET; ... END;`` and ``EXECUTE STATEMENT SET BEGIN ... END;``. The
    last statement needs no ``;``. Raises :class:`ParseError` for an unterminated string,
    quoted identifier or comment.
    """
    script = Script(sql)
    out = []
    for piece in script.pieces():
        line, col = script.position(piece.start)
        out.append((piece.text, line, col))
    return out


class Reader(WordReader, FunctionReader, DatabaseReader):
    """Reads one statement, picking the reading by its first words."""

    # -- dispatch --
    def statement(self) -> st.Statement:
        first = (self.words[0].split() or [""])[0]  # "ADD JAR" is one token
        if first in ("SET", "RESET"):
            return self.set_or_reset()
        if first == "SHOW":
            return self.show()
        if first == "USE":
            return self.use()
        if first in ("DESCRIBE", "DESC") and self.words[1:2] == ["FUNCTION"]:
            return self.describe_function()
        if first in ("DESCRIBE", "DESC") and self.words[1:2] == ["CATALOG"]:
            return self.describe_catalog()
        if first in ("DESCRIBE", "DESC"):
            return st.Describe(name=self.name_at(1, "DESCRIBE"), **self.pos)
        if self.starts("STOP", "JOB"):
            return self.stop_job()
        if first == "EXPLAIN":
            return self.explain()
        if self.starts("BEGIN", "STATEMENT", "SET") or self.starts("EXECUTE", "STATEMENT", "SET"):
            return self.statement_set()
        if self.starts("EXECUTE", "INSERT"):
            return self.sub(1).statement()
        if self.is_function_ddl():
            return self.create_function() if first == "CREATE" else self.drop_function()
        if self.is_database_ddl():
            return self.database_ddl()
        if first in ("CREATE", "DROP", "ALTER"):
            self.check_ddl_kind()
        if first in SQL_STARTS:
            return self.sqlglot_statement()
        if first in _FLINK_ONLY_STARTS or first in FRONT_STARTS:
            raise self.unsupported(" ".join(w for w in self.words[:2] if w.replace(" ", "").isidentifier()))
        close = difflib.get_close_matches(first, (*SQL_STARTS, *FRONT_STARTS), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else _STATEMENT_HINT
        raise self.parse_error(f"unknown statement '{self.tokens[0].text}'", hint=hint)

    def check_name_after(self, i: int, kind: str) -> None:
        """A name with an operator in it (``CREATE TABLE my-table``) is SQL's syntax error,
        said at the operator, with the fix: quote the name in backticks, as Flink's users do
        (unquoted, sqlglot reads no statement and it would be refused as unsupported)."""
        for words in (["IF", "NOT", "EXISTS"], ["IF", "EXISTS"]):
            if self.words[i : i + len(words)] == words:
                i += len(words)
        start = i
        i += 1
        while i + 1 < len(self.tokens) and self.tokens[i].text == ".":
            i += 2
        if i + 1 < len(self.tokens) and self.tokens[i].text in ("-", "+", "/", ":", "@", "#", "$", "%"):
            prefix = "".join(t.text for t in self.tokens[start : i - 1])  # a database's "db."
            last = "".join(t.text for t in self.tokens[i - 1 : i + 2])
            raise self.parse_error(
                f"unexpected '{self.tokens[i].text}' in the {kind} name {prefix}{last}",
                self.tokens[i],
                hint="quote a name that has characters other than letters, digits and _ in "
                f"backticks: {prefix}`{last}`",
            )

    def check_ddl_kind(self) -> None:
        i = 1
        if self.words[1:3] == ["OR", "REPLACE"]:
            raise self.unsupported(f"{self.words[0]} OR REPLACE", self.tokens[1])
        while i < len(self.words) and self.words[i] in ("TEMPORARY", "SYSTEM"):
            i += 1
        kind = self.words[i] if i < len(self.words) else ""
        if kind in ("TABLE", "VIEW"):
            if self.words[0] == "ALTER" and kind == "VIEW":
                raise self.unsupported("ALTER VIEW")
            self.check_name_after(i + 1, kind.lower())
            return
        if not kind:
            raise self.parse_error(f"{self.words[0]} what? expected TABLE or VIEW after it", self.tokens[-1])
        raise self.unsupported(
            f"{self.words[0]} {kind}",
            self.tokens[0],
            hint=f"sqlstream supports {self.words[0]} TABLE and {self.words[0]} VIEW"
            if self.words[0] != "ALTER"
            else "sqlstream supports ALTER TABLE",
        )
