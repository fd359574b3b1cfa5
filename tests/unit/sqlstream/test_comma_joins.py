"""Joins written Flink's other way, a comma (or CROSS JOIN) with the conditions in WHERE,
as Flink's own documentation writes its interval join: the WHERE conjuncts that relate
the new table to the ones before it become the join's condition (Calcite pushes them
into the join), so the query plans and answers as its JOIN ... ON form does."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

import planner
import sqlstream
from planner.physical import IntervalJoinSpec, JoinSpec
from tests.unit.planner.conftest import BID_DDL, catalog_of

# Flink's documentation, "Interval Joins"
FLINK_DOC_INTERVAL_JOIN = """
SELECT o.id, o.order_time, s.ship_time
FROM Orders o, Shipments s
WHERE o.id = s.order_id
AND o.order_time BETWEEN s.ship_time - INTERVAL '4' HOUR AND s.ship_time
"""


def _write(folder: Path, rows: list[dict[str, object]]) -> None:
    folder.mkdir()
    (folder / "part-0.json").write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))


def test_flinks_documented_interval_join_in_comma_form_answers_as_duckdb(tmp_path: Path) -> None:
    rnd = random.Random(7)
    start = datetime(2024, 3, 1)
    orders = [{"id": i, "order_time": start + timedelta(minutes=17 * i)} for i in range(300)]
    shipments = sorted(
        ({"order_id": max(0, i - rnd.randint(0, 20)),
          "ship_time": start + timedelta(minutes=17 * i + rnd.randint(0, 60))} for i in range(300)),
        key=lambda r: r["ship_time"],  # type: ignore[arg-type, return-value]
    )  # fmt: skip
    _write(tmp_path / "orders", orders)
    _write(tmp_path / "shipments", shipments)
    with sqlstream.connect(config={"parallelism.default": "2"}) as s:
        s.execute_script(f"""
            CREATE TABLE Orders (id INT, order_time TIMESTAMP(3),
              WATERMARK FOR order_time AS order_time - INTERVAL '1' HOUR) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "orders"}', 'format' = 'json');
            CREATE TABLE Shipments (order_id INT, ship_time TIMESTAMP(3),
              WATERMARK FOR ship_time AS ship_time - INTERVAL '8' HOUR) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "shipments"}', 'format' = 'json');
        """)
        plan = s.execute(f"EXPLAIN {FLINK_DOC_INTERVAL_JOIN}").message
        got = sorted(s.sql(FLINK_DOC_INTERVAL_JOIN).fetchall())
    assert "IntervalJoin(joinType=[InnerJoin]" in plan
    con = duckdb.connect()
    con.execute(f"CREATE TABLE Orders AS SELECT * FROM read_json('{tmp_path / 'orders'}/*.json', "
                "columns={id: 'INT', order_time: 'TIMESTAMP'})")  # fmt: skip
    con.execute(f"CREATE TABLE Shipments AS SELECT * FROM read_json('{tmp_path / 'shipments'}/*.json', "
                "columns={order_id: 'INT', ship_time: 'TIMESTAMP'})")  # fmt: skip
    expected = sorted(con.execute(FLINK_DOC_INTERVAL_JOIN).fetchall())
    assert len(expected) > 20 and got == expected


def test_where_conditions_of_a_later_table_wait_for_its_join() -> None:
    catalog = catalog_of(BID_DDL)
    plan = planner.plan(
        "SELECT a.k, c.v FROM plain a, plain b, plain c "
        "WHERE b.v = c.v AND a.k = b.k AND a.v > 3 AND c.k IN (SELECT k FROM plain)",
        catalog,
    )
    joins = [n.spec for n in plan.nodes if isinstance(n.spec, JoinSpec)]
    assert sorted((j.join_type, j.left_keys, j.right_keys) for j in joins) == [
        ("inner", ("k",), ("k",)),  # a, b on a.k = b.k
        ("inner", ("v0",), ("v",)),  # (a, b), c on b.v = c.v
        ("semi", ("k1",), ("k",)),  # WHERE's IN stays a semi join
    ]
    assert not any(isinstance(n.spec, IntervalJoinSpec) for n in plan.nodes)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM plain a, plain b WHERE a.v > 3",  # no condition that relates the two
        "SELECT * FROM plain a CROSS JOIN plain b",
    ],
)
def test_a_comma_join_with_no_condition_between_its_tables_is_a_cross_join_on_one_subtask(sql: str) -> None:
    """Refused until joins without an equality ran: every pair, as Flink runs it."""
    plan = planner.plan(sql, catalog_of(BID_DDL), {"parallelism.default": "2"})
    [join] = [n for n in plan.nodes if isinstance(n.spec, JoinSpec)]
    assert isinstance(join.spec, JoinSpec) and join.spec.left_keys == () and join.parallelism == 1
