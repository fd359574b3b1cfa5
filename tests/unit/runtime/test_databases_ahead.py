"""A job opens its operators' DuckDB databases ahead, while it builds its graph
(``runtime/databases.py``). The count it opens must be the count its operators take:
- fewer, and the rest open in the operators' ``open``, beside the sources' first reads,
  as before;
- more, and a core spends ~15 ms on each database nobody takes.
Nothing else would show it. The answers stay DuckDB's either way."""

from __future__ import annotations

import threading

import duckdb
import pytest

from runtime import databases
from tests.unit.runtime.test_join_oracle import check

LEFT = [(k % 4, v) for k, v in enumerate(range(-3, 17))]
RIGHT = [(k % 5, w) for k, w in enumerate(range(9))]

# (query over l (k, v) and r (k, w), whether it computes anything in DuckDB)
QUERIES = [
    ("SELECT k, v FROM l", False),  # columns only: no query
    ("SELECT k, v * 2 AS d FROM l WHERE v > 3", True),
    ("SELECT k, COUNT(*) AS c, SUM(v) AS s FROM l GROUP BY k", True),
    ("SELECT l.k, l.v, r.w FROM l JOIN r ON l.k = r.k WHERE r.w > 2", True),
    ("SELECT k, v FROM l UNION ALL SELECT k, w FROM r", True),  # l's INT k cast to BIGINT
    ("SELECT k, v, COUNT(*) AS c FROM l GROUP BY GROUPING SETS ((k), (v))", True),
    ("SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM l) "
     "WHERE rn <= 2", True),
]  # fmt: skip


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads that open databases from now on; none is left from an earlier job."""
    while not databases._AHEAD.empty():
        databases._AHEAD.get().result().close()
    names: list[str] = []
    real = databases._open

    def counted() -> duckdb.DuckDBPyConnection:
        names.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(databases, "_open", counted)
    return names


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize(("query", "computes"), QUERIES)
def test_the_databases_opened_ahead_are_the_ones_the_operators_take(
    opened: list[str], query: str, computes: bool, parallelism: int
) -> None:
    check(LEFT, RIGHT, query, parallelism, 3)
    assert all(name.startswith("duckdb-open") for name in opened), opened  # none opened in ``open``
    assert databases._AHEAD.empty()  # every one taken
    assert bool(opened) == computes


def test_a_database_opened_ahead_and_not_taken_goes_to_the_next_job_new(opened: list[str]) -> None:
    databases.open_ahead(2)
    databases.open_ahead(2)  # two are on their way: no more
    assert len([databases._AHEAD.get().result() for _ in range(databases._AHEAD.qsize())]) == 2
    databases.open_ahead(1)
    con = databases.open_database()
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    assert con.execute("SELECT current_setting('threads')").fetchone() == (1,)
    assert opened == ["duckdb-open_0"] * 3
