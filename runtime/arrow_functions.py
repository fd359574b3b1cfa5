"""Built-in functions written in Python over Arrow arrays, as DuckDB scalar functions.

The few Flink functions DuckDB has no exact equivalent for (SHA-224, Java's float text and
hash, ENCODE in other character sets, DECIMAL arithmetic beyond 128 bits...) run as Python
over a whole Arrow batch, and only on the rare rows that need them. Each module that holds
such functions lists them as :class:`ArrowFunction`\\ s; :func:`install` registers them on a
connection the one way they all need: Arrow in and out, and NULLs passed to the function
(``null_handling=SPECIAL``), which decides what a NULL gives as Flink does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import duckdb.func
import pyarrow as pa


@dataclass(frozen=True)
class ArrowFunction:
    """A function ``name(args...) -> result`` (DuckDB type names) computed by ``fn``."""

    name: str
    fn: Callable[..., pa.Array]
    args: tuple[str, ...]
    result: str


def install(con: duckdb.DuckDBPyConnection, functions: Sequence[ArrowFunction]) -> None:
    # The types are parsed by ``con``: ``duckdb.sqltype`` parses on DuckDB's default
    # connection, which its first call opens (a database of its own, ~10 ms of CPU)
    for f in functions:
        con.create_function(
            f.name,
            f.fn,
            [con.sqltype(a) for a in f.args],
            con.sqltype(f.result),
            type=duckdb.func.ARROW,
            null_handling=duckdb.func.SPECIAL,
        )
