"""CREATE / DROP / ALTER DATABASE and CREATE / DROP CATALOG, read from their words as
Flink's grammar writes them (sqlglot has no tree for them). Names are only read here: which
catalog or database exists is the catalog's to say when the statement runs.
"""

from __future__ import annotations

from sqlglot.tokens import TokenType

from planner import statements as st
from planner.read.base import ReaderBase

_CREATE_DATABASE = (
    "CREATE DATABASE [IF NOT EXISTS] [catalog.]name [COMMENT '...'] [WITH ('key' = 'value', ...)]"
)
_DROP_DATABASE = "DROP DATABASE [IF EXISTS] [catalog.]name [RESTRICT | CASCADE]"
_ALTER_DATABASE = "ALTER DATABASE [catalog.]name SET ('key' = 'value', ...)"
_DESCRIBE_CATALOG = "DESCRIBE CATALOG [EXTENDED] name"
_CREATE_CATALOG = "CREATE CATALOG [IF NOT EXISTS] name [COMMENT '...'] WITH ('type' = 'generic_in_memory')"
_DROP_CATALOG = "DROP CATALOG [IF EXISTS] name"


class DatabaseReader(ReaderBase):
    """Reads the statements on databases and catalogs."""

    def is_database_ddl(self) -> bool:
        return self.words[0] in ("CREATE", "DROP", "ALTER") and self.words[1:2] in (["DATABASE"], ["CATALOG"])

    def database_ddl(self) -> st.Statement:
        verb, kind = self.words[0], self.words[1]
        if kind == "CATALOG":
            if verb == "ALTER":
                raise self.unsupported("ALTER CATALOG", self.tokens[1])
            return self.create_catalog() if verb == "CREATE" else self.drop_catalog()
        if verb == "CREATE":
            return self.create_database()
        return self.drop_database() if verb == "DROP" else self.alter_database()

    # ---- pieces ----------------------------------------------------------------------
    def flag(self, i: int, *words: str) -> tuple[bool, int]:
        """Whether ``words`` (IF NOT EXISTS, IF EXISTS) come at i, and where reading goes on."""
        if self.words[i : i + len(words)] == list(words):
            return True, i + len(words)
        return False, i

    def dotted(self, i: int, most: int, usage: str) -> tuple[list[str], int]:
        """A name of at most ``most`` dotted parts at token i, and the token after it."""
        parts: list[str] = []
        while True:
            if i >= len(self.tokens) or self.tokens[i].token_type in (TokenType.STRING, TokenType.L_PAREN):
                at = self.tokens[min(i, len(self.tokens) - 1)]
                raise self.parse_error("expected a name here", at, hint=usage)
            parts.append(self.tokens[i].text)
            i += 1
            if i < len(self.tokens) and self.tokens[i].token_type == TokenType.DOT:
                i += 1
                continue
            break
        if len(parts) > most:
            raise self.parse_error(
                f"'{'.'.join(parts)}' has {len(parts)} parts; {most} at most here",
                self.tokens[i - 1],
                hint=usage,
            )
        return parts, i

    def comment_at(self, i: int, usage: str) -> tuple[str | None, int]:
        if self.words[i : i + 1] != ["COMMENT"]:
            return None, i
        if i + 1 >= len(self.tokens) or self.tokens[i + 1].token_type != TokenType.STRING:
            at = self.tokens[min(i + 1, len(self.tokens) - 1)]
            raise self.parse_error("COMMENT needs a string", at, usage)
        return self.tokens[i + 1].text, i + 2

    def properties_at(self, i: int, usage: str) -> tuple[dict[str, str], int]:
        """``('key' = 'value', ...)`` at token i (the opening parenthesis)."""
        if i >= len(self.tokens) or self.tokens[i].token_type != TokenType.L_PAREN:
            raise self.parse_error("expected ( here", self.tokens[min(i, len(self.tokens) - 1)], usage)
        out: dict[str, str] = {}
        i += 1
        while i < len(self.tokens) and self.tokens[i].token_type != TokenType.R_PAREN:
            key, eq, value = (self.tokens[j] if j < len(self.tokens) else None for j in (i, i + 1, i + 2))
            if (
                key is None
                or eq is None
                or value is None
                or key.token_type != TokenType.STRING
                or eq.token_type != TokenType.EQ
                or value.token_type != TokenType.STRING
            ):
                raise self.parse_error(
                    "an option must be written as 'key' = 'value'",
                    key or self.tokens[-1],
                    hint="quote both the key and the value with single quotes",
                )
            out[key.text] = value.text
            i += 3
            if i < len(self.tokens) and self.tokens[i].token_type == TokenType.COMMA:
                i += 1
        if i >= len(self.tokens):
            raise self.parse_error("expected ) to close the options", self.tokens[-1], usage)
        return out, i + 1

    def end_at(self, i: int, usage: str) -> None:
        if i < len(self.tokens):
            raise self.parse_error(f"unexpected '{self.tokens[i].text}'", self.tokens[i], hint=usage)

    # ---- statements ------------------------------------------------------------------
    def create_database(self) -> st.CreateDatabase:
        if_not_exists, i = self.flag(2, "IF", "NOT", "EXISTS")
        parts, i = self.dotted(i, 2, _CREATE_DATABASE)
        comment, i = self.comment_at(i, _CREATE_DATABASE)
        properties: dict[str, str] = {}
        if self.words[i : i + 1] == ["WITH"]:
            properties, i = self.properties_at(i + 1, _CREATE_DATABASE)
        self.end_at(i, _CREATE_DATABASE)
        return st.CreateDatabase(
            name=parts[-1],
            catalog=parts[0] if len(parts) == 2 else None,
            if_not_exists=if_not_exists,
            comment=comment,
            properties=properties,
            **self.pos,
        )

    def drop_database(self) -> st.DropDatabase:
        if_exists, i = self.flag(2, "IF", "EXISTS")
        parts, i = self.dotted(i, 2, _DROP_DATABASE)
        cascade = self.words[i : i + 1] == ["CASCADE"]
        if self.words[i : i + 1] in (["CASCADE"], ["RESTRICT"]):
            i += 1
        self.end_at(i, _DROP_DATABASE)
        return st.DropDatabase(
            name=parts[-1],
            catalog=parts[0] if len(parts) == 2 else None,
            if_exists=if_exists,
            cascade=cascade,
            **self.pos,
        )

    def alter_database(self) -> st.AlterDatabase:
        parts, i = self.dotted(2, 2, _ALTER_DATABASE)
        if self.words[i : i + 1] != ["SET"]:
            at = self.tokens[min(i, len(self.tokens) - 1)]
            raise self.unsupported(f"ALTER DATABASE ... {at.text.upper()}", at, hint=_ALTER_DATABASE)
        properties, i = self.properties_at(i + 1, _ALTER_DATABASE)
        self.end_at(i, _ALTER_DATABASE)
        return st.AlterDatabase(
            name=parts[-1], catalog=parts[0] if len(parts) == 2 else None, properties=properties, **self.pos
        )

    def create_catalog(self) -> st.CreateCatalog:
        if_not_exists, i = self.flag(2, "IF", "NOT", "EXISTS")
        parts, i = self.dotted(i, 1, _CREATE_CATALOG)
        comment, i = self.comment_at(i, _CREATE_CATALOG)
        if self.words[i : i + 1] != ["WITH"]:
            at = self.tokens[min(i, len(self.tokens) - 1)]
            raise self.parse_error("CREATE CATALOG needs WITH ('type' = ...)", at, _CREATE_CATALOG)
        options, i = self.properties_at(i + 1, _CREATE_CATALOG)
        self.end_at(i, _CREATE_CATALOG)
        return st.CreateCatalog(
            name=parts[0], if_not_exists=if_not_exists, options=options, comment=comment, **self.pos
        )

    def describe_catalog(self) -> st.DescribeCatalog:
        extended, i = self.flag(2, "EXTENDED")
        parts, i = self.dotted(i, 1, _DESCRIBE_CATALOG)
        self.end_at(i, _DESCRIBE_CATALOG)
        return st.DescribeCatalog(name=parts[0], extended=extended, **self.pos)

    def drop_catalog(self) -> st.DropCatalog:
        if_exists, i = self.flag(2, "IF", "EXISTS")
        parts, i = self.dotted(i, 1, _DROP_CATALOG)
        self.end_at(i, _DROP_CATALOG)
        return st.DropCatalog(name=parts[0], if_exists=if_exists, **self.pos)
