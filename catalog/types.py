"""Flink's SQL data types, as plain values that print back in Flink's own spelling.

A type is parsed from and rendered to Flink's text form (``DECIMAL(10, 2)``,
``ROW<a INT, b STRING>``), so a physical plan's JSON, EXPLAIN and SHOW CREATE TABLE all
carry the type the user wrote. Mapping to DuckDB's spelling lives here too (pure text);
the mapping to Arrow types needs pyarrow and so lives in ``runtime``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from catalog.errors import TypeParseError

# Canonical roots. Aliases map onto them (Flink accepts INTEGER for INT, etc.).
_ALIASES = {
    "INTEGER": "INT",
    "BOOL": "BOOLEAN",
    "DEC": "DECIMAL",
    "NUMERIC": "DECIMAL",
    "DOUBLE PRECISION": "DOUBLE",
    "REAL": "FLOAT",
    "CHARACTER": "CHAR",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMP WITH LOCAL TIME ZONE": "TIMESTAMP_LTZ",
    "TIME WITHOUT TIME ZONE": "TIME",
}
_SIMPLE = {
    "BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "STRING", "BYTES",
    "DATE", "NULL",
}  # fmt: skip
_PRECISION = {"CHAR", "VARCHAR", "BINARY", "VARBINARY", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ"}
_NUMERIC = ("TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL")
_INTEGRAL = ("TINYINT", "SMALLINT", "INT", "BIGINT")


@dataclass(frozen=True)
class DataType:
    """One Flink type. ``children`` hold element/key/value/field types."""

    name: str
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True
    children: tuple[DataType, ...] = ()
    field_names: tuple[str, ...] = field(default=())

    # ---- rendering -------------------------------------------------------------------
    def sql(self) -> str:
        """Flink's spelling, e.g. ``DECIMAL(10, 2) NOT NULL``."""
        if self.name == "ARRAY" or self.name == "MULTISET":
            text = f"{self.name}<{self.children[0].sql()}>"
        elif self.name == "MAP":
            text = f"MAP<{self.children[0].sql()}, {self.children[1].sql()}>"
        elif self.name == "ROW":
            inner = ", ".join(f"{_quote(n)} {t.sql()}" for n, t in zip(self.field_names, self.children))
            text = f"ROW<{inner}>"
        elif self.name == "DECIMAL":
            text = f"DECIMAL({self.precision}, {self.scale})"
        elif self.name in _PRECISION and self.precision is not None:
            text = f"{self.name}({self.precision})"
        else:
            text = self.name
        return text if self.nullable else f"{text} NOT NULL"

    def __str__(self) -> str:
        return self.sql()

    def duckdb(self) -> str:
        """DuckDB's spelling of the same type, used when operators compute in DuckDB."""
        n = self.name
        if n in ("STRING", "VARCHAR", "CHAR"):
            return "VARCHAR"
        if n in ("BYTES", "BINARY", "VARBINARY"):
            return "BLOB"
        if n == "INT":
            return "INTEGER"
        if n == "DECIMAL":
            return f"DECIMAL({self.precision}, {self.scale})"
        if n == "TIMESTAMP":
            return "TIMESTAMP"
        if n == "TIMESTAMP_LTZ":
            return "TIMESTAMPTZ"
        if n == "ARRAY" or n == "MULTISET":
            return f"{self.children[0].duckdb()}[]"
        if n == "MAP":
            return f"MAP({self.children[0].duckdb()}, {self.children[1].duckdb()})"
        if n == "ROW":
            inner = ", ".join(f'"{name}" {t.duckdb()}' for name, t in zip(self.field_names, self.children))
            return f"STRUCT({inner})"
        if n == "NULL":
            return "INTEGER"
        return n

    # ---- predicates ------------------------------------------------------------------
    @property
    def is_numeric(self) -> bool:
        return self.name in _NUMERIC

    @property
    def is_integral(self) -> bool:
        return self.name in _INTEGRAL

    @property
    def is_string(self) -> bool:
        return self.name in ("STRING", "VARCHAR", "CHAR")

    @property
    def is_timestamp(self) -> bool:
        return self.name in ("TIMESTAMP", "TIMESTAMP_LTZ")

    def with_nullable(self, nullable: bool) -> DataType:
        return DataType(self.name, self.precision, self.scale, nullable, self.children, self.field_names)

    def field(self, name: str) -> DataType | None:
        """Type of a ROW field by name (case-insensitive), for ``r.f`` access."""
        for n, t in zip(self.field_names, self.children):
            if n.lower() == name.lower():
                return t
        return None


def _quote(name: str) -> str:
    """ROW field names are always quoted, as Flink prints them: a field may be a keyword."""
    return "`" + name.replace("`", "``") + "`"


# ---- common instances -------------------------------------------------------------------
BOOLEAN = DataType("BOOLEAN")
INT = DataType("INT")
BIGINT = DataType("BIGINT")
DOUBLE = DataType("DOUBLE")
STRING = DataType("STRING")
DATE = DataType("DATE")
TIMESTAMP3 = DataType("TIMESTAMP", 3)
TIMESTAMP_LTZ3 = DataType("TIMESTAMP_LTZ", 3)


# ---- parsing ----------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\"|[A-Za-z_][A-Za-z0-9_]*|\d+|[<>(),])")


def parse_type(text: str) -> DataType:
    """Parse Flink's type syntax. Raises :class:`TypeParseError` naming the bad part.

    >>> parse_type("ROW<a INT, b ARRAY<STRING>>").sql()
    'ROW<`a` INT, `b` ARRAY<STRING>>'
    >>> parse_type("timestamp(3) with local time zone").sql()
    'TIMESTAMP_LTZ(3)'
    """
    tokens: list[str] = []
    pos = 0
    stripped = text.strip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m:
            raise TypeParseError(f"cannot read the data type '{text}' at '{stripped[pos:]}'")
        tokens.append(m.group(1))
        pos = m.end()
    parser = _TypeParser(tokens, text)
    result = parser.parse()
    if parser.i != len(tokens):
        raise TypeParseError(f"unexpected '{' '.join(tokens[parser.i :])}' after the data type in '{text}'")
    return result


class _TypeParser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.i = 0

    def peek(self, offset: int = 0) -> str | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok.upper() != expected):
            want = f"'{expected}'" if expected else "more"
            raise TypeParseError(f"expected {want} in the data type '{self.text}'")
        self.i += 1
        return tok

    def words(self, *seq: str) -> bool:
        """Consume a fixed sequence of keywords if it is next."""
        for k, w in enumerate(seq):
            tok = self.peek(k)
            if tok is None or tok.upper() != w:
                return False
        self.i += len(seq)
        return True

    def number(self) -> int:
        tok = self.take()
        if not tok.isdigit():
            raise TypeParseError(f"expected a number, got '{tok}' in the data type '{self.text}'")
        return int(tok)

    def parse(self) -> DataType:
        tok = self.take().upper()
        name = _ALIASES.get(tok, tok)
        if name == "DOUBLE":
            self.words("PRECISION")
        precision = scale = None
        children: tuple[DataType, ...] = ()
        names: tuple[str, ...] = ()
        if name in ("ARRAY", "MULTISET"):
            self.take("<")
            children = (self.parse(),)
            self.take(">")
        elif name == "MAP":
            self.take("<")
            key = self.parse()
            self.take(",")
            value = self.parse()
            self.take(">")
            children = (key, value)
        elif name == "ROW":
            close = ">" if self.peek() == "<" else ")"
            self.take()
            fields: list[tuple[str, DataType]] = []
            while self.peek() != close:
                fname = _unquote(self.take())
                fields.append((fname, self.parse()))
                if self.peek() == ",":
                    self.take()
            self.take(close)
            names = tuple(f[0] for f in fields)
            children = tuple(f[1] for f in fields)
        elif name == "DECIMAL":
            precision, scale = 10, 0
            if self.peek() == "(":
                self.take("(")
                precision = self.number()
                if self.peek() == ",":
                    self.take(",")
                    scale = self.number()
                self.take(")")
        elif name in _PRECISION:
            if self.peek() == "(":
                self.take("(")
                precision = self.number()
                self.take(")")
            elif name in ("TIMESTAMP", "TIMESTAMP_LTZ"):
                precision = 6
            elif name == "TIME":
                precision = 0
            if name == "TIMESTAMP":
                if self.words("WITH", "LOCAL", "TIME", "ZONE"):
                    name = "TIMESTAMP_LTZ"
                else:
                    self.words("WITHOUT", "TIME", "ZONE")
            elif name == "TIME":
                self.words("WITHOUT", "TIME", "ZONE")
            if name in ("VARCHAR", "STRING") and precision == 2147483647:
                name, precision = "STRING", None
        elif name not in _SIMPLE:
            raise TypeParseError(f"unknown data type '{tok}' in '{self.text}'")
        nullable = True
        if self.words("NOT", "NULL"):
            nullable = False
        else:
            self.words("NULL")
        return DataType(name, precision, scale, nullable, children, names)


def _unquote(tok: str) -> str:
    if tok[:1] in '`"' and tok[-1:] == tok[:1]:
        return tok[1:-1].replace(tok[0] * 2, tok[0])
    return tok
