"""Statements read from their words, with no expression grammar: SET, RESET, SHOW,
DESCRIBE's name, STOP JOB, EXPLAIN and statement sets.
"""

from __future__ import annotations

import difflib

from sqlglot.tokens import TokenType

from catalog.errors import CatalogError
from catalog.store import ObjectPath
from planner import statements as st
from planner.read.sql import SqlReader

_SHOW_KINDS = ("TABLES", "VIEWS", "FUNCTIONS", "JOBS", "CATALOGS", "DATABASES")
_EXPLAIN_DETAILS = ("ESTIMATED_COST", "CHANGELOG_MODE", "PLAN_ADVICE", "JSON_EXECUTION_PLAN")


class WordReader(SqlReader):
    """Reads the statements made of words."""

    # -- statements read from words --
    def name_at(self, i: int, after: str, end: int | None = None) -> str:
        """A (possibly dotted) name starting at token i, which must end the statement (or
        end before token ``end``)."""
        parts: list[str] = []
        first = i
        end = len(self.tokens) if end is None else end
        while i < end:
            tok = self.tokens[i]
            if tok.token_type == TokenType.STRING:
                break
            parts.append(tok.text)
            i += 1
            if i < end:
                if self.tokens[i].token_type != TokenType.DOT:
                    raise self.parse_error(
                        f"unexpected '{self.tokens[i].text}' after the name", self.tokens[i]
                    )
                i += 1
        if not parts:
            raise self.parse_error(f"{after} needs a table name", self.tokens[-1])
        try:
            return ObjectPath(parts, self.script.position(self.tokens[first].start))
        except CatalogError as e:
            raise self.script.error(CatalogError, e.message, self.tokens[first], e.hint) from None

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
        if what in ("TABLES", "VIEWS", "DATABASES", "CATALOGS", "FUNCTIONS") and len(self.tokens) > 2:
            return self.show_listing(what)
        if what == "USER" and self.words[2:3] == ["FUNCTIONS"] and len(self.tokens) > 3:
            return self.show_listing("FUNCTIONS", user=True)
        if what in _SHOW_KINDS:
            if len(self.tokens) > 2:
                raise self.unsupported(f"SHOW {what} {self.words[2]}".strip(), self.tokens[2])
            return st.Show(what=what.lower(), **self.pos)
        if self.words[1:3] == ["CREATE", "CATALOG"]:
            return st.Show(what="create_catalog", name=self.name_at(3, "SHOW CREATE CATALOG"), **self.pos)
        if what == "CREATE" and len(self.words) > 2 and self.words[2] in ("TABLE", "VIEW"):
            kind = self.words[2]
            name = self.name_at(3, f"SHOW CREATE {kind}")
            return st.Show(what=f"create_{kind.lower()}", name=name, **self.pos)
        if what == "STATE":
            if (
                self.words[2:4] != ["FOR", "JOB"]
                or len(self.tokens) != 5
                or (self.tokens[4].token_type != TokenType.STRING)
            ):
                raise self.parse_error(
                    "SHOW STATE needs a job in quotes",
                    self.tokens[min(len(self.tokens) - 1, 2)],
                    hint="SHOW STATE FOR JOB '<job id or pipeline.name>'",
                )
            return st.Show(what="state", name=self.tokens[4].text, **self.pos)
        if what == "CURRENT" and self.words[2:] in (["CATALOG"], ["DATABASE"]):
            return st.Show(what=f"current_{self.words[2].lower()}", **self.pos)
        if what == "USER" and self.words[2:] == ["FUNCTIONS"]:
            return st.Show(what="user_functions", **self.pos)
        if what == "COLUMNS" and len(self.words) > 2 and self.words[2] in ("FROM", "IN"):
            end = next(
                (i for i in range(4, len(self.words)) if self.words[i] in ("NOT", "LIKE", "ILIKE")), None
            )
            name = self.name_at(3, "SHOW COLUMNS FROM", end)
            like = self.like_at(end, "SHOW COLUMNS FROM table [[NOT] LIKE 'pattern']") if end else None
            return st.Show(what="columns", name=name, like=like, **self.pos)
        if self.words[1:] in (["MODULES"], ["FULL", "MODULES"]):  # the one module: Flink's core
            return st.Show(what="_".join(self.words[1:]).lower(), **self.pos)
        known = ("MODULES", "FULL", "CURRENT", "USER", "JARS", "PARTITIONS", "PROCEDURES", "CREATE")
        if what in known:
            raise self.unsupported(f"SHOW {what}", self.tokens[1])
        match = difflib.get_close_matches(what, _SHOW_KINDS, n=1, cutoff=0.6)
        raise self.parse_error(
            f"unknown SHOW '{self.tokens[1].text}'",
            self.tokens[1],
            hint=f"did you mean SHOW {match[0]}?" if match else f"SHOW {' | '.join(_SHOW_KINDS)}",
        )

    def show_listing(self, what: str, user: bool = False) -> st.Show:
        """SHOW TABLES | VIEWS [FROM|IN [catalog.]database] | DATABASES [FROM|IN catalog] |
        CATALOGS | [USER] FUNCTIONS, then [NOT] LIKE | ILIKE 'pattern', as Flink's grammar
        has them (functions are one namespace here: no FROM for them)."""
        most = {"TABLES": 2, "VIEWS": 2, "DATABASES": 1, "CATALOGS": 0, "FUNCTIONS": 0}[what]
        named = ("", "catalog", "[catalog.]database")[most]
        shown = f"USER {what}" if user else what
        usage = f"SHOW {shown}{f' [FROM {named}]' if most else ''} [[NOT] LIKE 'pattern']"
        i, name = 2 + user, None
        if most and self.words[2] in ("FROM", "IN"):
            parts, i = [self.tokens[3].text] if len(self.tokens) > 3 else [], 4
            while (
                self.tokens[i : i + 1]
                and self.tokens[i].token_type == TokenType.DOT
                and i + 1 < len(self.tokens)
            ):
                parts.append(self.tokens[i + 1].text)
                i += 2
            if not parts or len(parts) > most:
                raise self.parse_error(
                    f"SHOW {what} {self.words[2]} needs a {named} name",
                    self.tokens[min(3, len(self.tokens) - 1)],
                    hint=usage,
                )
            name = ObjectPath(parts)
        like = self.like_at(i, usage)
        return st.Show(what="user_functions" if user else what.lower(), name=name, like=like, **self.pos)

    def like_at(self, i: int, usage: str) -> st.Like | None:
        """``[NOT] LIKE | ILIKE 'pattern'`` from token i, which must end the statement."""
        negated = self.words[i : i + 1] == ["NOT"]
        i += negated
        like = None
        if self.words[i : i + 1] in (["LIKE"], ["ILIKE"]):
            if i + 1 >= len(self.tokens) or self.tokens[i + 1].token_type != TokenType.STRING:
                raise self.parse_error(
                    f"{self.words[i]} needs a pattern in quotes",
                    self.tokens[min(i + 1, len(self.tokens) - 1)],
                    hint=usage,
                )
            like = st.Like(self.tokens[i + 1].text, negated, self.words[i] == "ILIKE")
            i += 2
        elif negated:
            raise self.parse_error("NOT needs LIKE or ILIKE after it", self.tokens[i - 1], hint=usage)
        if i < len(self.tokens):
            raise self.parse_error(f"unexpected '{self.tokens[i].text}'", self.tokens[i], hint=usage)
        return like

    def use(self) -> st.Use:
        """USE CATALOG c, or USE [c.]db (Flink's; USE MODULES is not supported)."""
        if self.words[1:2] == ["MODULES"]:
            raise self.unsupported("USE MODULES", self.tokens[1])
        catalog = self.words[1:2] == ["CATALOG"]
        first = 2 if catalog else 1
        names = [t.text for t in self.tokens[first:] if t.token_type != TokenType.DOT]
        dots = [t for t in self.tokens[first:] if t.token_type == TokenType.DOT]
        if not names or len(dots) != len(names) - 1 or len(names) > (1 if catalog else 2):
            raise self.parse_error(
                "USE needs a database name, or USE CATALOG a catalog name",
                self.tokens[min(first, len(self.tokens) - 1)],
                hint="USE [catalog.]database | USE CATALOG catalog",
            )
        if catalog:
            return st.Use(catalog=names[0], **self.pos)
        return st.Use(catalog=names[0] if len(names) == 2 else None, database=names[-1], **self.pos)

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
