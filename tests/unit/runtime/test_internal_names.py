"""A user's column may carry a name the runtime uses inside its DuckDB statements (``__id``,
``__src``, ``__seq``, ...; Debezium's unwrapped records carry ``__op``, ``__deleted``): the
answer must not change. Every stateful operator kind runs the same rows twice, once with
ordinary column names and once with the columns (and the query's aliases) renamed to the
runtime's internal names, a batch of names per run; the results must be equal by position,
or the planner must refuse the query, naming the column. Debezium's names must never be
refused. The names come from the runtime's source, so a name a new operator introduces is
tried too, and must be one the planner knows (``planner.internal_names``)."""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from planner.errors import UnsupportedError
from planner.internal_names import reserved
from tests.unit.runtime.test_join_oracle import applied, small_batches

RUNTIME = Path(__file__).resolve().parents[3] / "runtime"
# a placeholder of the queries for each column and alias, with its ordinary name
PLACES = ("k", "v", "s", "ts", "pt", "rk", "w", "t", "rts", "a", "b")


def internal_names() -> list[str]:
    """Every ``__name`` the runtime's source spells (Python's ``__dunder__`` left out); a
    prefix an f-string completes (``__a_{i}``) is tried with a ``0``."""
    found: set[str] = set()
    for path in RUNTIME.rglob("*.py"):
        for name in re.findall(r"(?<![\w$])__[a-z][a-z0-9_]*", path.read_text()):
            if not name.endswith("__"):
                found.add(name + "0" if name.endswith("_") else name)
    return sorted(found)


def name_batches() -> list[dict[str, str]]:
    """The internal names in batches of distinct names, one name per placeholder; twice,
    the second time in other places (a name at a column that few queries read, or a
    column a name's operator does not see, is tried at another)."""
    names = internal_names()
    names += names[: -len(names) % len(PLACES)]  # the last batch filled up from the first
    width = len(PLACES)
    batches = [names[i : i + width] for i in range(0, len(names), width)]
    batches += [[*b[width // 2 :], *b[: width // 2]] for b in batches]
    return [dict(zip(PLACES, b)) for b in batches]


L_ROWS = [  # k, v, s, second
    (1, 5, "a", 0),
    (1, 7, "b", 1),
    (2, 3, "a", 1),
    (None, 4, None, 2),
    (1, 7, "c", 3),
    (2, None, "b", 4),
    (3, 1, "a", 6),
    (1, -2, "a", 7),
    (2, 9, "c", 9),
    (3, 1, "b", 11),
    (None, 6, "a", 12),
    (1, 3, "b", 15),
]
R_ROWS = [  # rk, w, t, second
    (1, 10, "x", 0),
    (2, 20, "y", 2),
    (1, 11, "y", 3),
    (4, 40, "x", 5),
    (None, 50, "z", 6),
    (2, 21, "x", 8),
    (3, 30, "y", 10),
    (1, 12, "z", 13),
]

TUMBLE = "TABLE(TUMBLE(TABLE l, DESCRIPTOR({ts}), INTERVAL '5' SECOND))"
HOP = "TABLE(HOP(TABLE l, DESCRIPTOR({ts}), INTERVAL '3' SECOND, INTERVAL '6' SECOND))"
CUMULATE = "TABLE(CUMULATE(TABLE l, DESCRIPTOR({ts}), INTERVAL '3' SECOND, INTERVAL '9' SECOND))"
SESSION = "TABLE(SESSION(TABLE l PARTITION BY {k}, DESCRIPTOR({ts}), INTERVAL '2' SECOND))"
GROUPED = "(SELECT {k}, COUNT(*) AS {a}, MIN({v}) AS {b} FROM l GROUP BY {k})"  # an updating input
WINDOW_AGG = "SELECT {k}, window_start, window_end, COUNT(*), SUM({v}), COUNT(DISTINCT {s}), MAX({s}) FROM "


def top(source: str, over: str, where: str, select: str = "{k}, {v}, {s}") -> str:
    return f"SELECT {select} FROM (SELECT *, ROW_NUMBER() OVER ({over}) AS {{a}} FROM {source}) WHERE {where}"


QUERIES = (
    # no state: named as the runtime's own columns in the output
    "SELECT {k} AS {a}, {v} AS {b}, {s}, {ts} FROM l WHERE {v} > 2",
    # group aggregates, over an insert-only and over an updating input
    "SELECT {k}, COUNT(*) AS {a}, SUM({v}) AS {b}, MAX({s}), MIN({ts}) FROM l GROUP BY {k}",
    "SELECT {k}, COUNT(DISTINCT {v}), SUM({v}) FILTER (WHERE {s} <> 'a'), "
    "COUNT(DISTINCT {s}) FILTER (WHERE {v} > 0), AVG({v}) FROM l GROUP BY {k}",
    "SELECT COUNT(*), SUM({v}), COUNT(DISTINCT {k}), MAX({s}) FROM l",
    "SELECT {a}, COUNT(*), SUM({b}), COUNT(DISTINCT {k}), MAX({b}) FROM " + GROUPED + " GROUP BY {a}",
    "SELECT DISTINCT {k}, {s} FROM l",
    # window aggregates
    WINDOW_AGG + TUMBLE + " GROUP BY {k}, window_start, window_end",
    WINDOW_AGG + HOP + " GROUP BY {k}, window_start, window_end",
    WINDOW_AGG + CUMULATE + " GROUP BY {k}, window_start, window_end",
    WINDOW_AGG + SESSION + " GROUP BY {k}, window_start, window_end",
    "SELECT window_start, COUNT(*), SUM({v}) FILTER (WHERE {s} = 'a') FROM "
    + TUMBLE
    + " GROUP BY window_start, window_end",
    # Top-N and deduplication, over an insert-only and over an updating input
    top("l", "PARTITION BY {k} ORDER BY {v} DESC", "{a} <= 2", "{k}, {v}, {s}, {a}"),
    top("l", "PARTITION BY {k} ORDER BY {v} ASC NULLS LAST", "{a} <= 2"),
    top("l", "PARTITION BY {k} ORDER BY {v} DESC", "{a} = 1"),
    top("l", "PARTITION BY {k} ORDER BY {s}, {v}", "{a} = 1"),
    top("l", "PARTITION BY {k} ORDER BY {v}", "{a} BETWEEN 2 AND 3", "{k}, {v}, {s}, {a}"),
    top("l", "ORDER BY {s} DESC", "{a} <= 3", "{k}, {v}, {s}, {a}"),
    top("l", "PARTITION BY {k} ORDER BY {ts}", "{a} = 1"),
    top("l", "PARTITION BY {k} ORDER BY {ts} DESC", "{a} = 1"),
    top("l", "PARTITION BY {k} ORDER BY {pt}", "{a} = 1"),
    top("l", "PARTITION BY {k} ORDER BY {pt} DESC", "{a} = 1"),
    top(
        GROUPED.replace("{a}", "{w}"), "PARTITION BY {w} ORDER BY {b} DESC", "{a} <= 2", "{k}, {w}, {b}, {a}"
    ),
    top(GROUPED.replace("{a}", "{w}"), "ORDER BY {b} DESC NULLS LAST", "{a} = 1", "{k}, {w}, {b}"),
    "SELECT {k}, {v} FROM l ORDER BY {v} DESC, {k} LIMIT 3",
    # window Top-N and window deduplication
    top(
        TUMBLE,
        "PARTITION BY window_start, window_end, {k} ORDER BY {v} DESC",
        "{a} <= 2",
        "{k}, {v}, {s}, window_start, {a}",
    ),
    top(HOP, "PARTITION BY window_start, window_end ORDER BY {ts}", "{a} = 1", "{k}, {v}, window_end"),
    # joins: regular, over an updating input, interval, window, semi and anti
    "SELECT l.{k}, {v}, {w}, {t} FROM l JOIN r ON l.{k} = r.{rk}",
    "SELECT l.{k}, {v}, {w} FROM l LEFT JOIN r ON l.{k} = r.{rk} AND {w} > 10",
    "SELECT {s}, {t}, {v}, {w} FROM l FULL JOIN r ON l.{k} = r.{rk} AND {v} < {w} - 5",
    "SELECT g.{k}, g.{a}, {w} FROM " + GROUPED + " g JOIN r ON g.{k} = r.{rk}",
    "SELECT {v}, {w} FROM l JOIN r ON l.{k} = r.{rk} AND "
    "l.{ts} BETWEEN r.{rts} - INTERVAL '3' SECOND AND r.{rts} + INTERVAL '1' SECOND",
    "SELECT {v}, {w} FROM l LEFT JOIN r ON l.{k} = r.{rk} AND "
    "l.{ts} BETWEEN r.{rts} - INTERVAL '2' SECOND AND r.{rts} + INTERVAL '2' SECOND",
    "SELECT x.{k}, x.{v}, y.{w}, x.window_start FROM (SELECT * FROM " + TUMBLE + ") x JOIN (SELECT * FROM "
    "TABLE(TUMBLE(TABLE r, DESCRIPTOR({rts}), INTERVAL '5' SECOND))) y ON x.window_start = y.window_start "
    "AND x.window_end = y.window_end AND x.{k} = y.{rk}",
    "SELECT {k}, {v} FROM l WHERE {k} IN (SELECT {rk} FROM r WHERE {w} > 10)",
    "SELECT {k}, {v} FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.{rk} = l.{k} AND r.{t} = 'y')",
    # OVER aggregations
    "SELECT {k}, {v}, SUM({v}) OVER (PARTITION BY {k} ORDER BY {ts} ROWS BETWEEN 2 PRECEDING AND "
    "CURRENT ROW), COUNT(*) OVER (PARTITION BY {k} ORDER BY {ts} ROWS BETWEEN 2 PRECEDING AND "
    "CURRENT ROW) FROM l",
    "SELECT {k}, {v}, MAX({v}) OVER (PARTITION BY {k} ORDER BY {ts} RANGE BETWEEN INTERVAL '4' SECOND "
    "PRECEDING AND CURRENT ROW) FROM l",
    "SELECT {k}, {s}, COUNT(*) OVER (ORDER BY {ts} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM l",
    # set operations
    "SELECT {k}, {v} FROM l UNION ALL SELECT {rk}, {w} FROM r",
    "SELECT {k}, {s} FROM l UNION SELECT {rk}, {t} FROM r",
    "SELECT {k} FROM l INTERSECT SELECT {rk} FROM r",
    "SELECT {k} FROM l EXCEPT ALL SELECT {rk} FROM r",
)


def run(query: str, names: dict[str, str], parallelism: int) -> Counter[tuple[Any, ...]]:
    """The rows ``query`` (its placeholders filled with ``names``) leaves, read in small batches."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for table, cols, rows in (("l", "kvs", L_ROWS), ("r", ("rk", "w", "t"), R_ROWS)):
            lines = []
            for *values, second in rows:
                row = {names[c]: x for c, x in zip(cols, values)}
                row[names["ts" if table == "l" else "rts"]] = f"2024-01-01 00:00:{second:02d}"
                lines.append(json.dumps(row) + "\n")
            (root / f"{table}.json").write_text("".join(lines))
        s = small_batches(parallelism, 3)
        try:
            s.execute(
                "CREATE TABLE l ({k} INT, {v} INT, {s} STRING, {ts} TIMESTAMP(3), {pt} AS PROCTIME(), "
                "WATERMARK FOR {ts} AS {ts} - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', "
                f"'path' = '{root / 'l.json'}', 'format' = 'json')".format(**names)
            )
            s.execute(
                "CREATE TABLE r ({rk} INT, {w} INT, {t} STRING, {rts} TIMESTAMP(3), "
                "WATERMARK FOR {rts} AS {rts} - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', "
                f"'path' = '{root / 'r.json'}', 'format' = 'json')".format(**names)
            )
            return applied(s.sql(query.format(**names)).changelog())
        finally:
            s.close()


@cache
def ordinary(query: str) -> Counter[tuple[Any, ...]]:
    return run(query, {p: p for p in PLACES}, 1)


def test_the_planner_knows_every_internal_name() -> None:
    """The names come from the source (the ones a user ran into among them), and the
    planner reserves each of them."""
    names = internal_names()
    assert {"__id", "__src", "__n", "__seq", "__row_kind"} <= set(names)
    assert [n for n in names if not reserved(n)] == []


BATCHES = name_batches()
# names Debezium's unwrapped records carry (and some like them): never refused
DEBEZIUM_NAMES = ("__op", "__deleted", "__table", "__source_ts_ms", "__db", "__lsn", "__ts_ms", "__txid")
DEBEZIUM = dict(zip(PLACES, (*DEBEZIUM_NAMES, "__source_lsn", "__schema", "__name")))


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("batch", range(len(BATCHES)))
def test_internal_column_names_leave_the_answer_alone(query: str, batch: int) -> None:
    expected = ordinary(query)
    assert expected, "the rows must give the query something to answer"
    names = BATCHES[batch]
    try:
        got = run(query, names, 1 + batch % 2)
    except UnsupportedError as e:  # refused: by the name of one of the columns
        assert any(f"'{n}'" in e.message for n in names.values()), e
        assert e.line is not None and e.hint is not None
        return
    assert got == expected, names


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("parallelism", [1, 2])
def test_debezium_column_names_run(query: str, parallelism: int) -> None:
    assert run(query, DEBEZIUM, parallelism) == ordinary(query)


def test_a_top_n_over_internal_names_is_refused_and_renaming_answers_right(tmp_path: Path) -> None:
    """The rows a user ran into: a Top-N over ``__id``/``__src`` returned 0 and 1 for 1 and
    2. It is refused where the rank is written, naming the column; renamed in a subquery,
    as the hint says, it answers with the input's values."""
    path = tmp_path / "t.json"
    path.write_text(
        '{"__id":1,"__src":2,"__n":3,"v":4}\n{"__id":1,"__src":2,"__n":3,"v":5}\n{"__id":2,"__src":2,"__n":3,"v":4}\n'
    )
    s = small_batches(1, 2)
    try:
        s.execute(
            "CREATE TABLE t (__id INT, __src INT, __n INT, v INT) WITH ("
            f"'connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
        )
        rank = "ROW_NUMBER() OVER (PARTITION BY {} ORDER BY v DESC) AS rn"
        with pytest.raises(UnsupportedError) as refused:
            s.sql(f"SELECT * FROM (SELECT *, {rank.format('__src')} FROM t) WHERE rn <= 2")
        assert "'__id'" in refused.value.message and (refused.value.line, refused.value.col) == (1, 26)
        renamed = "(SELECT __id AS id, __src AS src, __n AS n, v FROM t)"
        got = applied(
            s.sql(f"SELECT * FROM (SELECT *, {rank.format('src')} FROM {renamed}) WHERE rn <= 2").changelog()
        )
    finally:
        s.close()
    assert got == Counter({(1, 2, 3, 5, 1): 1, (1, 2, 3, 4, 2): 1})


@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_projection_and_a_union_pass_every_internal_name_on(tmp_path: Path, parallelism: int) -> None:
    """A query without state runs over columns of every internal name but ``__row_kind``
    (refused anywhere), all in one table, each value in its own column."""
    names = [n for n in internal_names() if n != "__row_kind"]
    rows = [{n: i * 1000 + j for j, n in enumerate(names)} for i in range(3)]
    (tmp_path / "w.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = small_batches(parallelism, 2)
    try:
        s.execute(
            f"CREATE TABLE w ({', '.join(f'{n} BIGINT' for n in names)}) WITH ('connector' = 'filesystem', "
            f"'path' = '{tmp_path / 'w.json'}', 'format' = 'json')"
        )
        listed = ", ".join(f"{n} + 1 AS {n}" for n in names)
        got = applied(
            s.sql(f"SELECT * FROM w WHERE {names[0]} >= 0 UNION ALL SELECT {listed} FROM w").changelog()
        )
    finally:
        s.close()
    expected = [tuple(r.values()) for r in rows] + [tuple(v + 1 for v in r.values()) for r in rows]
    assert got == Counter(expected)


@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("name", ["__calc_position", "__CALC_POSITION"])
def test_a_calc_over_a_column_named_as_its_row_positions_answers(name: str, parallelism: int) -> None:
    """A Calc that filters rows and passes strings on numbers the rows in a column of its
    own; a user's column of that name (a Calc refuses no name) failed the job ("buffer is
    smaller than requested size")."""
    query = QUERIES[0]
    names = {**{p: p for p in PLACES}, "s": name, "k": "__calc_position_"}
    assert run(query, names, parallelism) == ordinary(query)
