"""CREATE FUNCTION, DROP FUNCTION and DESCRIBE FUNCTION, read from their words.

Flink's grammar: ``CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS] [[catalog.]db.]name
AS 'identifier' [LANGUAGE JAVA|SCALA|PYTHON] [USING JAR '...']``. Only Python functions
run here; Flink reads an identifier without LANGUAGE as a Java class, so do we (refused).
"""

from __future__ import annotations

from sqlglot.tokens import TokenType

from planner import statements as st
from planner.read.base import ReaderBase


class FunctionReader(ReaderBase):
    """Reads the statements about user-defined functions."""

    def is_function_ddl(self) -> bool:
        i = 1
        while i < len(self.words) and self.words[i] in ("TEMPORARY", "SYSTEM"):
            i += 1
        return self.words[0] in ("CREATE", "DROP") and i < len(self.words) and self.words[i] == "FUNCTION"

    def _flags(self) -> tuple[int, bool, bool]:
        i, temporary, system = 1, False, False
        while self.words[i] in ("TEMPORARY", "SYSTEM"):
            temporary |= self.words[i] == "TEMPORARY"
            system |= self.words[i] == "SYSTEM"
            i += 1
        return i + 1, temporary, system  # past FUNCTION

    def _name(self, i: int, what: str) -> tuple[str, int]:
        """A possibly qualified name at token i: its last part (functions live in the one
        database), and the index after it."""
        if i >= len(self.tokens) or self.tokens[i].token_type == TokenType.STRING:
            raise self.parse_error(f"{what} needs a function name", self.tokens[min(i, len(self.tokens) - 1)])
        name = self.tokens[i].text
        i += 1
        while i + 1 < len(self.tokens) and self.tokens[i].token_type == TokenType.DOT:
            name = self.tokens[i + 1].text
            i += 2
        return name, i

    def create_function(self) -> st.CreateFunction:
        i, temporary, system = self._flags()
        if_not_exists = self.words[i : i + 3] == ["IF", "NOT", "EXISTS"]
        i += 3 if if_not_exists else 0
        name, i = self._name(i, "CREATE FUNCTION")
        if (
            self.words[i : i + 1] != ["AS"]
            or i + 1 >= len(self.tokens)
            or self.tokens[i + 1].token_type != TokenType.STRING
        ):
            raise self.parse_error(
                "CREATE FUNCTION needs AS 'module.function'",
                self.tokens[min(i, len(self.tokens) - 1)],
                hint=f"CREATE FUNCTION {name} AS 'package.module.function' LANGUAGE PYTHON",
            )
        target = self.tokens[i + 1].text
        i += 2
        language = "JAVA"  # Flink's default
        if self.words[i : i + 1] == ["LANGUAGE"] and i + 1 < len(self.tokens):
            language = self.words[i + 1]
            i += 2
        if "USING" in self.words[i:]:
            raise self.unsupported(
                "USING JAR",
                self.tokens[i + self.words[i:].index("USING")],
                hint="sqlstream runs Python functions: LANGUAGE PYTHON",
            )
        if language != "PYTHON":
            at = self.tokens[i - 1] if language != "JAVA" or "LANGUAGE" in self.words else self.tokens[0]
            raise self.unsupported(
                f"CREATE FUNCTION ... LANGUAGE {language}",
                at,
                hint="sqlstream runs Python functions only: add LANGUAGE PYTHON "
                "(without it Flink reads the identifier as a Java class)",
            )
        if i < len(self.tokens):
            raise self.parse_error(
                f"unexpected '{self.tokens[i].text}' after CREATE FUNCTION", self.tokens[i]
            )
        return st.CreateFunction(
            name=name,
            target=target,
            temporary=temporary,
            system=system,
            if_not_exists=if_not_exists,
            **self.pos,
        )

    def drop_function(self) -> st.DropFunction:
        i, temporary, system = self._flags()
        if_exists = self.words[i : i + 2] == ["IF", "EXISTS"]
        i += 2 if if_exists else 0
        name, i = self._name(i, "DROP FUNCTION")
        if i < len(self.tokens):
            raise self.parse_error(f"unexpected '{self.tokens[i].text}' after the name", self.tokens[i])
        return st.DropFunction(name=name, temporary=temporary, system=system, if_exists=if_exists, **self.pos)

    def describe_function(self) -> st.DescribeFunction:
        i = 3 if self.words[2:3] == ["EXTENDED"] else 2
        name, i = self._name(i, "DESCRIBE FUNCTION")
        if i < len(self.tokens):
            raise self.parse_error(f"unexpected '{self.tokens[i].text}' after the name", self.tokens[i])
        return st.DescribeFunction(name=name, **self.pos)
