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
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict, cast

from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from catalog.errors import SqlStreamError
from catalog.schema import Column, ColumnKind, Schema, Watermark
from catalog.types import DataType, parse_type
from planner import statements as st
from planner.dialect import Flink
from planner.errors import ParseError, UnsupportedError
from planner.expressions import AlterTableOptions, AlterTableResetOptions, MetadataColumnConstraint

_DIALECT = Flink()

# Type of a computed column before the planner infers it (see planner.api.create_table).
UNKNOWN_TYPE = DataType("NULL")
PROCTIME_TYPE = DataType("TIMESTAMP_LTZ", 3, nullable=False)

_SHOW_KINDS = ("TABLES", "VIEWS", "FUNCTIONS", "JOBS", "CATALOGS", "DATABASES")
_EXPLAIN_DETAILS = ("ESTIMATED_COST", "CHANGELOG_MODE", "PLAN_ADVICE", "JSON_EXECUTION_PLAN")
# First words of statements sqlglot reads for us.
_SQL_STARTS = ("SELECT", "WITH", "VALUES", "(", "INSERT", "CREATE", "DROP", "ALTER")
_FRONT_STARTS = ("SET", "RESET", "SHOW", "DESCRIBE", "DESC", "STOP", "EXPLAIN", "EXECUTE", "BEGIN")
# Flink statements that we recognise but do not run.
_FLINK_ONLY_STARTS = (
    "USE", "LOAD", "UNLOAD", "ANALYZE", "ADD", "REMOVE", "UPDATE", "DELETE", "TRUNCATE",
    "CALL", "COMPILE", "MERGE", "REPLACE",
)  # fmt: skip
_STATEMENT_HINT = (
    "statements start with SELECT, INSERT, CREATE, DROP, ALTER, SET, RESET, SHOW, DESCRIBE, "
    "EXPLAIN or STOP JOB"
)
_KEYWORDS = (
    *_SQL_STARTS[:3], *_SQL_STARTS[4:], *_FRONT_STARTS, "FROM", "WHERE", "GROUP", "BY", "ORDER",
    "HAVING", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "ON", "AS", "AND",
    "OR", "NOT", "NULL", "INTERVAL", "TABLE", "VIEW", "DESCRIPTOR", "WATERMARK", "PRIMARY",
    "KEY", "ENFORCED", "METADATA", "VIRTUAL", "COMMENT", "INTO", "OVERWRITE", "UNION", "ALL",
    "DISTINCT", "CASE", "WHEN", "THEN", "ELSE", "END", "BETWEEN", "LIKE", "IN", "IS", "CAST",
    "TUMBLE", "HOP", "CUMULATE", "SESSION", "TEMPORARY", "EXISTS", "IF", "FILTER", "LIMIT",
    # Flink's type names, for a misspelt column type
    "STRING", "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BOOLEAN", "DOUBLE", "FLOAT",
    "DECIMAL", "VARCHAR", "CHAR", "BYTES", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ", "ROW",
    "ARRAY", "MAP",
)  # fmt: skip


# ---- public API -------------------------------------------------------------------------


def parse(sql: str) -> list[st.Statement]:
    """Parse a script of ``;``-separated Flink SQL statements.

    >>> t = parse("CREATE TABLE t (a INT, ts TIMESTAMP(3),"
    ...           " WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'datagen')")[0]
    >>> t.name, t.schema.watermark.expr, t.options
    ('t', "ts - INTERVAL '1' SECOND", {'connector': 'datagen'})
    """
    script = _Script(sql)
    return [_Reader(script, piece).statement() for piece in script.pieces()]


def parse_expression(sql: str) -> exp.Expression:
    """Parse one Flink SQL expression (a computed column's or a watermark's).

    >>> parse_expression("ts - INTERVAL '5' SECOND").sql(dialect=Flink)
    "ts - INTERVAL '5' SECOND"
    """
    script = _Script(sql)
    if not script.tokens:
        raise ParseError("expected an expression, got nothing", line=1, col=1)
    parser = _DIALECT.parser()
    try:
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
    script = _Script(sql)
    out = []
    for piece in script.pieces():
        line, col = script.position(piece.start)
        out.append((piece.text, line, col))
    return out


# ---- the script: tokens, positions, statement boundaries ---------------------------------


class _Position(TypedDict):
    sql: str
    line: int
    col: int


@dataclass(frozen=True)
class _Piece:
    """One statement's tokens (positions relative to the whole script) and text."""

    tokens: list[Token]
    text: str
    start: int


class _Script:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(sql) if ch == "\n"]
        tokenizer = _DIALECT.tokenizer()
        try:
            self.tokens: list[Token] = tokenizer.tokenize(sql)
        except TokenError:
            raise self._token_error(tokenizer.tokens) from None

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def error(
        self, cls: type[SqlStreamError], message: str, at: Token | int, hint: str | None = None
    ) -> SqlStreamError:
        offset = at if isinstance(at, int) else at.start
        line, col = self.position(offset)
        return cls(message, line=line, col=col, hint=hint)

    def locate(self, node: exp.Expr) -> None:
        """Make the ``line``/``col`` sqlglot keeps in nodes' meta (the end of their token)
        the line and column where the token starts, as in our errors."""
        for sub in node.walk():
            start = sub.meta.get("start") if sub.meta else None
            if isinstance(start, int):
                sub.meta["line"], sub.meta["col"] = self.position(start)

    def _token_error(self, done: Sequence[Token]) -> ParseError:
        offset = done[-1].end + 1 if done else 0
        while offset < len(self.sql) and self.sql[offset].isspace():
            offset += 1
        rest = self.sql[offset:]
        if rest.startswith("'"):
            what, hint = "string", "close it with ' (write '' for a quote inside it)"
        elif rest.startswith("`"):
            what, hint = "quoted identifier", "close it with `"
        elif rest.startswith("/*"):
            what, hint = "comment", "close it with */"
        else:
            what, hint = "text", None
        line, col = self.position(offset)
        return ParseError(f"unterminated {what}", line=line, col=col, hint=hint)

    def translate(self, e: SqlglotParseError) -> ParseError:
        """sqlglot's error (its positions are the script's: we parse the script's tokens)."""
        info = e.errors[0] if e.errors else {}
        description = str(info.get("description") or e).split(". Line ")[0]
        highlight = str(info.get("highlight") or "")
        line = int(info.get("line") or 1)
        end_col = int(info.get("col") or 1)
        col = end_col - len(highlight) + 1 if "\n" not in highlight else end_col
        near = f"'{highlight}'" if highlight else "the end of the statement"
        if description.startswith("Invalid expression / Unexpected token"):
            message = f"unexpected {near}"
        elif description.startswith("Expecting "):
            message = f"expected {description[len('Expecting ') :]} but found {near}"
        elif description.startswith("Expected "):
            message = f"{description[0].lower()}{description[1:]}, at {near}"
        elif description.startswith("Required keyword"):
            message = f"incomplete or malformed SQL at {near}"
        else:
            message = f"{description} (at {near})"
        offset = self._line_starts[min(line, len(self._line_starts)) - 1] + col - 1
        if self._ends_at(offset):
            message = f"the statement ends too early, after {near}"
            if description.startswith("Expecting "):
                message += f": expected {description[len('Expecting ') :]}"
        return ParseError(_short(message), line=line, col=max(col, 1), hint=self._hint(offset))

    def _ends_at(self, offset: int) -> bool:
        """Whether the token at offset is the last of its statement."""
        after = [t for t in self.tokens if t.start > offset]
        return not after or after[0].token_type == TokenType.SEMICOLON

    def _hint(self, offset: int) -> str | None:
        """'did you mean FROM' when the failing token or the one before is a misspelt keyword."""
        if self.sql[offset : offset + 1] == '"':
            return "Flink quotes strings with ' and names with `"
        index = next((i for i, t in enumerate(self.tokens) if t.start >= offset), len(self.tokens))
        for tok in self.tokens[max(index - 1, 0) : index + 1][::-1]:
            if tok.token_type != TokenType.VAR or tok.text.upper() in _KEYWORDS:
                continue
            match = difflib.get_close_matches(tok.text.upper(), _KEYWORDS, n=1, cutoff=0.75)
            if match:
                return f"did you mean {match[0]} instead of '{tok.text}'?"
        return None

    def pieces(self) -> list[_Piece]:
        out: list[_Piece] = []
        current: list[Token] = []
        in_block = False
        case_depth = 0
        for tok in self.tokens:
            if tok.token_type == TokenType.SEMICOLON and not in_block:
                if current:
                    out.append(self.piece(current))
                current = []
                continue
            current.append(tok)
            if not in_block:
                words = [t.text.upper() for t in current[-3:]]
                in_block = words == ["STATEMENT", "SET", "BEGIN"] or (
                    len(current) == 3 and words == ["BEGIN", "STATEMENT", "SET"]
                )
                case_depth = 0
            elif tok.token_type == TokenType.CASE:
                case_depth += 1
            elif tok.token_type == TokenType.END:
                if case_depth:
                    case_depth -= 1
                else:
                    in_block = False
        if current:
            out.append(self.piece(current))
        return out

    def piece(self, tokens: list[Token]) -> _Piece:
        start = tokens[0].start
        return _Piece(tokens, self.sql[start : tokens[-1].end + 1], start)


def _short(message: str) -> str:
    """Keep messages one short line: sqlglot may quote a whole class path."""
    return message.replace("<class 'sqlglot.expressions.", "<").replace("'>", ">")


# ---- one statement ----------------------------------------------------------------------


class _Reader:
    def __init__(self, script: _Script, piece: _Piece) -> None:
        self.script = script
        self.piece = piece
        self.tokens = piece.tokens
        self.words = [t.text.upper() if t.token_type != TokenType.STRING else "" for t in self.tokens]
        self.line, self.col = script.position(piece.start)

    # -- helpers --
    @property
    def pos(self) -> _Position:
        """The statement's text and position, for a statement dataclass's keywords."""
        return {"sql": self.piece.text, "line": self.line, "col": self.col}

    def parse_error(
        self, message: str, at: Token | int | None = None, hint: str | None = None
    ) -> SqlStreamError:
        return self.script.error(ParseError, message, self.tokens[0] if at is None else at, hint)

    def unsupported(
        self, construct: str, at: Token | int | None = None, hint: str | None = None
    ) -> SqlStreamError:
        return self.script.error(
            UnsupportedError, f"{construct} is not supported", self.tokens[0] if at is None else at, hint
        )

    def starts(self, *words: str) -> bool:
        return tuple(self.words[: len(words)]) == words

    def sub(self, first: int, last: int | None = None) -> _Reader:
        tokens = self.tokens[first:last]
        return _Reader(self.script, self.script.piece(tokens))

    # -- dispatch --
    def statement(self) -> st.Statement:
        first = (self.words[0].split() or [""])[0]  # "ADD JAR" is one token
        for i, word in enumerate(self.words):
            if word == "MATCH_RECOGNIZE":
                raise self.unsupported("MATCH_RECOGNIZE", self.tokens[i])
        if first in ("SET", "RESET"):
            return self.set_or_reset()
        if first == "SHOW":
            return self.show()
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
        if first in ("CREATE", "DROP", "ALTER"):
            self.check_ddl_kind()
        if first in _SQL_STARTS:
            return self.sqlglot_statement()
        if first in _FLINK_ONLY_STARTS or first in _FRONT_STARTS:
            raise self.unsupported(" ".join(w for w in self.words[:2] if w.replace(" ", "").isidentifier()))
        close = difflib.get_close_matches(first, (*_SQL_STARTS, *_FRONT_STARTS), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else _STATEMENT_HINT
        raise self.parse_error(f"unknown statement '{self.tokens[0].text}'", hint=hint)

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

    # -- statements read from words --
    def name_at(self, i: int, after: str) -> str:
        """A (possibly dotted) name starting at token i, which must end the statement."""
        parts: list[str] = []
        while i < len(self.tokens):
            tok = self.tokens[i]
            if tok.token_type == TokenType.STRING:
                break
            parts.append(tok.text)
            i += 1
            if i < len(self.tokens):
                if self.tokens[i].token_type != TokenType.DOT:
                    raise self.parse_error(
                        f"unexpected '{self.tokens[i].text}' after the name", self.tokens[i]
                    )
                i += 1
        if not parts:
            raise self.parse_error(f"{after} needs a table name", self.tokens[-1])
        return ".".join(parts)

    def literal_or_text(self, first: int, last: int) -> str:
        tokens = self.tokens[first:last]
        if len(tokens) == 1 and tokens[0].token_type in (TokenType.STRING, TokenType.IDENTIFIER):
            return tokens[0].text
        return self.script.sql[tokens[0].start : tokens[-1].end + 1]

    def set_or_reset(self) -> st.Statement:
        verb = self.words[0]
        if len(self.tokens) == 1:
            return st.Set(**self.pos) if verb == "SET" else st.Reset(**self.pos)
        if verb == "RESET":
            return st.Reset(key=self.literal_or_text(1, len(self.tokens)), **self.pos)
        eq = next((i for i, t in enumerate(self.tokens) if t.token_type == TokenType.EQ), None)
        if eq is None or eq == 1 or eq == len(self.tokens) - 1:
            raise self.parse_error(
                "SET needs a key and a value", self.tokens[-1], hint="write SET 'key' = 'value'"
            )
        key = self.literal_or_text(1, eq)
        value = self.literal_or_text(eq + 1, len(self.tokens))
        return st.Set(key=key, value=value, **self.pos)

    def show(self) -> st.Show:
        if len(self.tokens) < 2:
            raise self.parse_error("SHOW what?", self.tokens[0], hint=f"SHOW {' | '.join(_SHOW_KINDS)}")
        what = self.words[1]
        if what in _SHOW_KINDS:
            if len(self.tokens) > 2:
                raise self.unsupported(f"SHOW {what} {self.words[2]}".strip(), self.tokens[2])
            return st.Show(what=what.lower(), **self.pos)
        if what == "CREATE" and len(self.words) > 2 and self.words[2] in ("TABLE", "VIEW"):
            kind = self.words[2]
            name = self.name_at(3, f"SHOW CREATE {kind}")
            return st.Show(what=f"create_{kind.lower()}", name=name, **self.pos)
        if what == "STATE":
            if self.words[2:4] != ["FOR", "JOB"] or len(self.tokens) != 5 or (
                self.tokens[4].token_type != TokenType.STRING
            ):
                raise self.parse_error(
                    "SHOW STATE needs a job in quotes",
                    self.tokens[min(len(self.tokens) - 1, 2)],
                    hint="SHOW STATE FOR JOB '<job id or pipeline.name>'",
                )
            return st.Show(what="state", name=self.tokens[4].text, **self.pos)
        if what == "COLUMNS" and len(self.words) > 2 and self.words[2] in ("FROM", "IN"):
            return st.Show(what="columns", name=self.name_at(3, "SHOW COLUMNS FROM"), **self.pos)
        known = ("MODULES", "FULL", "CURRENT", "USER", "JARS", "PARTITIONS", "PROCEDURES", "CREATE")
        if what in known:
            raise self.unsupported(f"SHOW {what}", self.tokens[1])
        match = difflib.get_close_matches(what, _SHOW_KINDS, n=1, cutoff=0.6)
        raise self.parse_error(
            f"unknown SHOW '{self.tokens[1].text}'",
            self.tokens[1],
            hint=f"did you mean SHOW {match[0]}?" if match else f"SHOW {' | '.join(_SHOW_KINDS)}",
        )

    def stop_job(self) -> st.StopJob:
        if len(self.tokens) < 3 or self.tokens[2].token_type != TokenType.STRING:
            raise self.parse_error(
                "STOP JOB needs the job id in quotes", self.tokens[-1], hint="STOP JOB '<id>'"
            )
        savepoint = drain = False
        i = 3
        while i < len(self.tokens):
            if self.words[i : i + 2] == ["WITH", "SAVEPOINT"]:
                savepoint = True
            elif self.words[i : i + 2] == ["WITH", "DRAIN"]:
                drain = True
            else:
                raise self.parse_error(
                    f"unexpected '{self.tokens[i].text}' in STOP JOB",
                    self.tokens[i],
                    hint="STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN]",
                )
            i += 2
        return st.StopJob(job_id=self.tokens[2].text, savepoint=savepoint, drain=drain, **self.pos)

    def explain(self) -> st.Explain:
        i = 1
        details: list[str] = []
        if self.words[1:3] == ["PLAN", "FOR"]:
            i = 3
        else:
            while i < len(self.words) and self.words[i] in _EXPLAIN_DETAILS:
                details.append(self.words[i].lower())
                i += 1
                if i < len(self.words) and self.tokens[i].token_type == TokenType.COMMA:
                    i += 1
        if i >= len(self.tokens):
            raise self.parse_error("EXPLAIN needs a statement", self.tokens[-1])
        if self.words[i : i + 3] == ["STATEMENT", "SET", "BEGIN"]:
            inner: st.Statement = self.sub(i).statement_set()
        else:
            inner = self.sub(i).statement()
        if not isinstance(inner, st.Query | st.Insert | st.StatementSet):
            raise self.unsupported(f"EXPLAIN of {type(inner).__name__}", self.tokens[i])
        return st.Explain(statement=inner, details=tuple(details), **self.pos)

    def statement_set(self) -> st.StatementSet:
        # BEGIN STATEMENT SET; ... END | [EXECUTE] STATEMENT SET BEGIN ... END
        begin = self.words.index("SET") + 1
        if begin < len(self.tokens) and self.tokens[begin].token_type in (
            TokenType.SEMICOLON,
            TokenType.BEGIN,
        ):
            begin += 1
        end = len(self.tokens) - 1
        if self.tokens[end].token_type != TokenType.END:
            raise self.parse_error("statement set without END", self.tokens[end], hint="close it with END;")
        inserts: list[st.Insert] = []
        start = begin
        for i in range(begin, end + 1):
            if i == end or self.tokens[i].token_type == TokenType.SEMICOLON:
                if i > start:
                    inner = self.sub(start, i)
                    if inner.words[0] != "INSERT":
                        raise inner.parse_error(
                            f"a statement set may only hold INSERT statements, not '{inner.tokens[0].text}'"
                        )
                    statement = inner.statement()
                    assert isinstance(statement, st.Insert)
                    inserts.append(statement)
                start = i + 1
        if not inserts:
            raise self.parse_error("the statement set holds no INSERT statement")
        return st.StatementSet(inserts=tuple(inserts), **self.pos)

    # -- statements read by sqlglot --
    def sqlglot_statement(self) -> st.Statement:
        parser = _DIALECT.parser()
        try:
            nodes = parser.parse(self.tokens, self.script.sql)
        except SqlglotParseError as e:
            raise self.script.translate(e) from None
        if len(nodes) != 1 or nodes[0] is None:
            raise self.parse_error("expected one statement")
        node = nodes[0]
        self.script.locate(node)
        try:
            return self.convert(node)
        except SqlStreamError as e:
            raise e.with_position(self.line, self.col) from None

    def convert(self, node: exp.Expr) -> st.Statement:
        if isinstance(node, exp.Command):
            if self.starts("ALTER", "TABLE") and len(self.tokens) > 3:
                raise self.unsupported(f"ALTER TABLE ... {self.tokens[3].text.upper()}", self.tokens[3])
            raise self.unsupported(" ".join(self.words[:2]))
        for group in node.find_all(exp.Group):
            if not group.expressions and not any(
                group.args.get(k) for k in ("cube", "rollup", "grouping_sets", "all")
            ):
                raise self.parse_error("GROUP BY needs at least one expression", self.tokens[-1])
        if isinstance(node, exp.Query):
            return st.Query(query=node, **self.pos)
        if isinstance(node, exp.Insert):
            return self.insert(node)
        if isinstance(node, exp.Create):
            kind = node.text("kind").upper()
            return self.create_table(node) if kind == "TABLE" else self.create_view(node)
        if isinstance(node, exp.Drop):
            return self.drop(node)
        if isinstance(node, exp.Alter):
            return self.alter(node)
        raise self.unsupported(" ".join(self.words[:2]))

    def node_token(self, node: exp.Expr) -> Token | int:
        """Where a node starts: the smallest offset sqlglot recorded in its subtree."""
        starts = [
            sub.meta["start"] for sub in node.walk() if sub.meta and isinstance(sub.meta.get("start"), int)
        ]
        return min(starts) if starts else self.tokens[0]

    def keyword_before(self, word: str, at: Token | int) -> Token | int:
        offset = at if isinstance(at, int) else at.start
        found: Token | int = at
        for tok in self.tokens:
            if tok.start > offset:
                break
            quoted = tok.token_type in (TokenType.STRING, TokenType.IDENTIFIER)
            if not quoted and tok.text.upper().split(" ")[0] == word:  # "PRIMARY KEY" is one token
                found = tok
        return found

    def insert(self, node: exp.Insert) -> st.Insert:
        target = node.this
        columns: tuple[str, ...] = ()
        if isinstance(target, exp.Schema):
            columns = tuple(c.name for c in target.expressions)
            target = target.this
        if node.args.get("partition") or (isinstance(target, exp.Table) and target.args.get("partition")):
            raise self.unsupported("INSERT ... PARTITION")
        query = node.expression
        if isinstance(query, exp.Values):
            query = exp.select("*").from_(query.copy())
        if not isinstance(query, exp.Query):
            raise self.parse_error("INSERT needs a query: INSERT INTO t SELECT ...")
        return st.Insert(
            table=_table_name(target),
            query=query,
            columns=columns,
            overwrite=bool(node.args.get("overwrite")),
            **self.pos,
        )

    def create_view(self, node: exp.Create) -> st.CreateView:
        target = node.this
        columns: tuple[str, ...] = ()
        if isinstance(target, exp.Schema):
            columns = tuple(c.name for c in target.expressions)
            target = target.this
        query = node.expression
        if not isinstance(query, exp.Query):
            raise self.parse_error("CREATE VIEW needs AS followed by a query")
        depth = 0
        as_token = None
        for tok in self.tokens:
            depth += tok.token_type == TokenType.L_PAREN
            depth -= tok.token_type == TokenType.R_PAREN
            if depth == 0 and tok.token_type == TokenType.ALIAS:
                as_token = tok
                break
        assert as_token is not None
        query_start = self.tokens[self.tokens.index(as_token) + 1].start
        query_sql = self.script.sql[query_start : self.tokens[-1].end + 1]
        props = node.args.get("properties")
        temporary = any(isinstance(p, exp.TemporaryProperty) for p in (props.expressions if props else ()))
        return st.CreateView(
            name=_table_name(target),
            query=query,
            query_sql=query_sql,
            columns=columns,
            temporary=temporary,
            if_not_exists=bool(node.args.get("exists")),
            **self.pos,
        )

    def drop(self, node: exp.Drop) -> st.Statement:
        kind = node.text("kind").upper()
        cls = st.DropTable if kind == "TABLE" else st.DropView
        tables = node.args.get("tables") or [node.this]
        if len(tables) != 1:
            raise self.unsupported(f"DROP {kind} of several {kind.lower()}s at once")
        return cls(
            name=_table_name(tables[0]),
            if_exists=bool(node.args.get("exists")),
            temporary=bool(node.args.get("temporary")),
            **self.pos,
        )

    def alter(self, node: exp.Alter) -> st.Statement:
        actions = node.args.get("actions") or []
        name = _table_name(node.this)
        if len(actions) != 1:
            raise self.unsupported("ALTER TABLE with several actions")
        action = actions[0]
        if isinstance(action, AlterTableOptions):
            return st.AlterTableSet(name=name, options=self.options(action.expressions), **self.pos)
        if isinstance(action, AlterTableResetOptions):
            return st.AlterTableReset(name=name, keys=tuple(k.name for k in action.expressions), **self.pos)
        if isinstance(action, exp.AlterRename):
            return st.AlterTableRename(name=name, new_name=_table_name(action.this), **self.pos)
        words = self.words[3:5] if len(self.words) > 3 else ["..."]
        raise self.unsupported(
            f"ALTER TABLE ... {' '.join(w for w in words if w.isidentifier())}",
            self.tokens[3] if len(self.tokens) > 3 else None,
        )

    def options(self, props: Sequence[exp.Expr]) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in props:
            key, value = p.args.get("this"), p.args.get("value")
            if not (isinstance(key, exp.Literal) and key.is_string) or not (
                isinstance(value, exp.Literal) and value.is_string
            ):
                raise self.parse_error(
                    f"option {p.sql(dialect=_DIALECT)} must be written as 'key' = 'value'",
                    self.node_token(p),
                    hint="quote both the key and the value with single quotes",
                )
            out[key.name] = value.name
        return out

    def create_table(self, node: exp.Create) -> st.CreateTable:
        if node.expression is not None:
            raise self.unsupported("CREATE TABLE ... AS SELECT")
        schema_node = node.this
        if not isinstance(schema_node, exp.Schema):
            like = next((t for t in self.tokens if t.token_type == TokenType.LIKE), None)
            if like is not None:
                raise self.unsupported("CREATE TABLE ... LIKE", like)
            raise self.parse_error("CREATE TABLE needs a column list: CREATE TABLE t (a INT, ...)")
        options: dict[str, str] = {}
        temporary, comment = False, None
        props = node.args.get("properties")
        for p in props.expressions if props else ():
            if isinstance(p, exp.TemporaryProperty):
                temporary = True
            elif isinstance(p, exp.SchemaCommentProperty):
                comment = p.this.name
            elif type(p) is exp.Property:
                options.update(self.options([p]))
            else:
                text = p.sql(dialect=_DIALECT).split("(")[0].strip() or type(p).__name__
                raise self.unsupported(text, self.keyword_before(text.split()[0], self.node_token(p)))
        return st.CreateTable(
            name=_table_name(schema_node.this),
            schema=self.schema(schema_node),
            options=options,
            temporary=temporary,
            if_not_exists=bool(node.args.get("exists")),
            comment=comment,
            **self.pos,
        )

    def schema(self, node: exp.Schema) -> Schema:
        columns: list[Column] = []
        watermark = None
        primary_key: tuple[str, ...] = ()
        for item in node.expressions:
            if isinstance(item, exp.Constraint) and len(item.expressions) == 1:
                item = item.expressions[0]  # CONSTRAINT name PRIMARY KEY (...): the name is dropped
            if isinstance(item, exp.ColumnDef):
                column, in_key = self.column(item)
                columns.append(column)
                if in_key:
                    primary_key = self.set_key(primary_key, (column.name,), item)
            elif isinstance(item, exp.WatermarkColumnConstraint):
                if watermark is not None:
                    where = self.keyword_before("WATERMARK", self.node_token(item))
                    raise self.parse_error("a table may declare only one WATERMARK", where)
                watermark = Watermark(item.this.name, item.expression.sql(dialect=_DIALECT))
            elif isinstance(item, exp.PrimaryKey):
                self.check_enforced(item)
                primary_key = self.set_key(primary_key, tuple(c.name for c in item.expressions), item)
            else:
                text = item.sql(dialect=_DIALECT).split("(")[0].strip()
                raise self.unsupported(f"constraint {text}", self.node_token(item))
        if primary_key:  # Flink makes key columns NOT NULL
            columns = [
                c
                if c.name not in primary_key or c.kind != ColumnKind.PHYSICAL
                else Column(
                    c.name, c.type.with_nullable(False), c.kind, c.expr, c.metadata_key, c.virtual, c.comment
                )
                for c in columns
            ]
        return Schema(tuple(columns), watermark, primary_key)

    def set_key(self, current: tuple[str, ...], new: tuple[str, ...], node: exp.Expr) -> tuple[str, ...]:
        if current:
            raise self.parse_error(
                "a table may declare only one PRIMARY KEY",
                self.keyword_before("PRIMARY", self.node_token(node)),
            )
        return new

    def check_enforced(self, node: exp.Expr) -> None:
        options = [o.sql() if isinstance(o, exp.Expr) else str(o) for o in node.args.get("options") or ()]
        if not any(o.upper() == "NOT ENFORCED" for o in options):
            raise self.parse_error(
                "Flink does not enforce primary keys, so PRIMARY KEY must say NOT ENFORCED",
                self.keyword_before("PRIMARY", self.node_token(node)),
                hint="write PRIMARY KEY (...) NOT ENFORCED",
            )

    def column(self, node: exp.ColumnDef) -> tuple[Column, bool]:
        name = node.name
        kind = node.args.get("kind")
        computed = metadata = None
        not_null = in_key = False
        comment = None
        for c in node.constraints:
            k = c.args.get("kind")
            if isinstance(k, exp.ComputedColumnConstraint):
                computed = k
            elif isinstance(k, MetadataColumnConstraint):
                metadata = k
            elif isinstance(k, exp.NotNullColumnConstraint):
                not_null = not k.args.get("allow_null")
            elif isinstance(k, exp.PrimaryKeyColumnConstraint):
                self.check_enforced(k) if k.args.get("options") else self.check_enforced_at(node)
                in_key = True
            elif isinstance(k, exp.CommentColumnConstraint):
                comment = k.this.name
            else:
                text = c.sql(dialect=_DIALECT).split("(")[0].strip()
                raise self.unsupported(f"column constraint {text}", self.node_token(node))
        if computed is not None:
            expr = computed.this.sql(dialect=_DIALECT)
            is_proctime = expr.replace(" ", "").upper() == "PROCTIME()"
            ctype = PROCTIME_TYPE if is_proctime else UNKNOWN_TYPE
            return Column(name, ctype, ColumnKind.COMPUTED, expr=expr, comment=comment), in_key
        if kind is None:
            raise self.parse_error(f"column '{name}' needs a data type", self.node_token(node))
        dtype = self.data_type(kind, node)
        if not_null:
            dtype = dtype.with_nullable(False)
        if metadata is not None:
            key = metadata.this.name if metadata.this is not None else None
            return Column(
                name,
                dtype,
                ColumnKind.METADATA,
                metadata_key=key,
                virtual=bool(metadata.args.get("virtual")),
                comment=comment,
            ), in_key
        return Column(name, dtype, comment=comment), in_key

    def check_enforced_at(self, node: exp.Expr) -> None:
        raise self.parse_error(
            "Flink does not enforce primary keys, so PRIMARY KEY must say NOT ENFORCED",
            self.keyword_before("PRIMARY", self.next_after(node)),
            hint="write PRIMARY KEY NOT ENFORCED",
        )

    def next_after(self, node: exp.Expr) -> Token | int:
        """The last PRIMARY token of a column definition (its name is where we start)."""
        start = self.node_token(node)
        offset = start if isinstance(start, int) else start.start
        depth = 0
        last: Token | int = start
        for tok in self.tokens:
            if tok.start < offset:
                continue
            depth += tok.token_type == TokenType.L_PAREN
            depth -= tok.token_type == TokenType.R_PAREN
            if depth < 0 or (depth == 0 and tok.token_type == TokenType.COMMA):
                break
            last = tok
        return last

    def data_type(self, kind: exp.Expr, where: exp.Expr) -> DataType:
        text = kind.sql(dialect=_DIALECT)
        try:
            return parse_type(text)
        except SqlStreamError as e:
            raise self.parse_error(e.message, self.node_token(where)) from None


def _table_name(node: exp.Expr | None) -> str:
    if isinstance(node, exp.Table):
        return ".".join(p.name for p in node.parts)
    if node is None:
        return ""
    return node.name
