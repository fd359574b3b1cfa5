"""Nexmark q3 (persons who sell in category 10, from three states) as a user runs it:
DDL, an INSERT of the join into a file sink, at parallelism 2; the file holds exactly
DuckDB's answer to the same query over the same rows."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import duckdb

import sqlstream

Q3 = """
SELECT P.name, P.city, P.state, A.id
FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')
"""


def write_json(folder: Path, rows: list[dict[str, object]], parts: int = 3) -> None:
    folder.mkdir()
    for p in range(parts):
        (folder / f"part-{p}.json").write_text("".join(json.dumps(r) + "\n" for r in rows[p::parts]))


def test_nexmark_q3_end_to_end(tmp_path: Path) -> None:
    rnd = random.Random(3)
    states = ["OR", "ID", "CA", "WA", "NY", None]
    persons = [
        {
            "id": i,
            "name": f"p{i}",
            "city": rnd.choice(["Portland", "Boise", "Bend"]),
            "state": rnd.choice(states),
        }
        for i in range(300)
    ]
    auctions = [
        {"id": 1000 + i, "seller": rnd.choice([*range(320), None]), "category": rnd.randint(8, 12)}
        for i in range(3000)
    ]
    write_json(tmp_path / "person", persons)
    write_json(tmp_path / "auction", auctions)
    out = tmp_path / "out"
    config = {
        "parallelism.default": "2",
        "sqlstream.runtime.batch-size": "97",
        "sqlstream.runtime.linger": "0 ms",
    }
    with sqlstream.connect(config=config) as s:
        s.execute_script(f"""
            CREATE TABLE person (id BIGINT, name STRING, city STRING, state STRING) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "person"}', 'format' = 'json');
            CREATE TABLE auction (id BIGINT, seller BIGINT, category BIGINT) WITH (
              'connector' = 'filesystem', 'path' = '{tmp_path / "auction"}', 'format' = 'json');
            CREATE TABLE q3 (name STRING, city STRING, state STRING, id BIGINT) WITH (
              'connector' = 'filesystem', 'path' = '{out}', 'format' = 'json');
        """)
        job = s.execute(f"INSERT INTO q3 {Q3}").job
        assert job is not None and job.wait(timeout=60)
        assert job.error is None
    written = Counter(
        tuple(json.loads(line).values())
        for f in sorted(out.glob("part-*"))
        for line in f.read_text().splitlines()
    )
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE person AS SELECT * FROM read_json_auto(?)", [str(tmp_path / "person" / "*.json")]
    )
    con.execute(
        "CREATE TABLE auction AS SELECT * FROM read_json(?, columns = "
        "{id: 'BIGINT', seller: 'BIGINT', category: 'BIGINT'})",
        [str(tmp_path / "auction" / "*.json")],
    )
    expected = Counter(con.sql(Q3).fetchall())
    assert sum(expected.values()) > 20
    assert written == expected
