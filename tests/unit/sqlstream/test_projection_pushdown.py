"""A file scan reads only the columns a query uses (projection push-down), as Flink's
filesystem source does with its JSON, CSV and Parquet formats: the answers are DuckDB's over
the same file, a bad value in a column the query does not read is no longer an error (Flink
deserializes only the projected fields), and a line that is no record at all still fails
the job naming its file and line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import planner
import sqlstream
from catalog.errors import SqlStreamError

CHANNELS = ["Google", "Facebook", "Baidu", "Apple", "channel-5"]
COLUMNS = (
    "auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, ts TIMESTAMP(3), extra STRING"
)


def bids(n: int) -> list[dict[str, object]]:
    rnd = random.Random(14)
    return [
        {
            "auction": rnd.randint(1000, 1999),
            "bidder": rnd.randint(1, 100_000),
            "price": rnd.randint(1, 10_000),
            "channel": rnd.choice(CHANNELS),
            "url": f"https://www.nexmark.com/{rnd.randint(0, 99)}/item.htm?query=1",
            "ts": f"2024-01-01 00:{i // 60_000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}",
            "extra": "x" * rnd.randint(0, 40),
        }
        for i in range(n)
    ]


def session_over(path: Path, fmt: str, **options: str) -> sqlstream.Session:
    s = sqlstream.connect()
    extra = "".join(f", '{k}' = '{v}'" for k, v in options.items())
    s.execute(
        f"CREATE TABLE bids ({COLUMNS}, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) "
        f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = '{fmt}'{extra})"
    )
    return s


@pytest.fixture(scope="module")
def wide_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wide") / "bids.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in bids(20_000)))
    return path


def duck(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW bids AS SELECT * FROM read_json('{path}', format = 'newline_delimited', columns = "
        "{auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', channel: 'VARCHAR', url: 'VARCHAR', "
        "ts: 'TIMESTAMP', extra: 'VARCHAR'})"
    )
    return sorted(con.sql(sql).fetchall())


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT channel, COUNT(*), MAX(price), SUM(price) FROM bids GROUP BY channel",
        "SELECT auction, price FROM bids WHERE MOD(auction, 123) = 0",
        "SELECT COUNT(*) FROM bids",
    ],
)
def test_a_query_reading_few_of_seven_columns_answers_as_duckdb(wide_json: Path, sql: str) -> None:
    s = session_over(wide_json, "json")
    try:
        assert "project=[" in planner.explain(sql, s.catalog)
        got = s.sql(sql).fetchall()  # an updating result: its final rows
    finally:
        s.close()
    assert sorted(got) == duck(wide_json, sql.replace("MOD(auction, 123)", "auction % 123"))


def write_lines(path: Path, rows: list[dict[str, object]], bad: dict[int, str]) -> None:
    lines = [json.dumps(r) for r in rows]
    for k, line in bad.items():
        lines[k] = line
    path.write_text("\n".join(lines) + "\n")


def test_a_bad_value_in_a_column_the_query_does_not_read_is_no_error(tmp_path: Path) -> None:
    rows = bids(3000)
    broken = {**rows[2000], "bidder": "not a number", "extra": {"an": "object"}}
    write_lines(tmp_path / "b.json", rows, {2000: json.dumps(broken)})
    s = session_over(tmp_path / "b.json", "json")
    try:
        got = s.sql("SELECT auction, price FROM bids").fetchall()
        assert len(got) == 3000 and got[2000] == (rows[2000]["auction"], rows[2000]["price"])
        with pytest.raises(SqlStreamError, match=rf"{tmp_path / 'b.json'}, line 2001: field 'bidder'"):
            s.sql("SELECT auction, bidder FROM bids").fetchall()
    finally:
        s.close()


def test_a_line_that_is_no_json_still_fails_naming_file_and_line(tmp_path: Path) -> None:
    write_lines(tmp_path / "b.json", bids(3000), {1500: '{"auction": 1, broken'})
    s = session_over(tmp_path / "b.json", "json")
    try:
        with pytest.raises(SqlStreamError, match=rf"{tmp_path / 'b.json'}, line 1501: invalid JSON"):
            s.sql("SELECT channel FROM bids").fetchall()
    finally:
        s.close()


def test_a_missing_field_the_query_does_not_read_is_not_missing(tmp_path: Path) -> None:
    """json.fail-on-missing-field applies to the fields read, as Flink's projected row type."""
    rows = bids(100)
    no_url = {k: v for k, v in rows[40].items() if k != "url"}
    write_lines(tmp_path / "b.json", rows, {40: json.dumps(no_url)})
    s = session_over(tmp_path / "b.json", "json", **{"json.fail-on-missing-field": "true"})
    try:
        assert len(s.sql("SELECT auction FROM bids").fetchall()) == 100
        with pytest.raises(SqlStreamError, match="line 41: field 'url' is missing"):
            s.sql("SELECT url FROM bids").fetchall()
    finally:
        s.close()


def csv_line(r: dict[str, object]) -> str:
    return ",".join(str(r[k]) for k in ("auction", "bidder", "price", "channel", "url", "ts", "extra"))


def test_csv_converts_only_the_columns_read_but_still_splits_every_field(tmp_path: Path) -> None:
    rows = bids(3000)
    lines = [csv_line(r) for r in rows]
    lines[700] = csv_line({**rows[700], "bidder": "lots"})
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    s = session_over(tmp_path / "b.csv", "csv")
    try:
        got = s.sql("SELECT auction, channel FROM bids").fetchall()
        assert got == [(r["auction"], r["channel"]) for r in rows]
        with pytest.raises(SqlStreamError, match="line 701: field 'bidder'"):
            s.sql("SELECT bidder FROM bids").fetchall()
        # fields are found by position: a line with one field too few is still a bad record
        lines[900] = lines[900].rsplit(",", 1)[0]
        (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
        with pytest.raises(SqlStreamError, match="line 901: expected 7 fields, found 6"):
            s.sql("SELECT auction FROM bids").fetchall()
    finally:
        s.close()


def test_parquet_reads_the_columns_of_the_query(tmp_path: Path) -> None:
    rows = bids(5000)
    stamps = pa.array([r["ts"] for r in rows]).cast(pa.timestamp("ms"))
    table = pa.Table.from_pylist(rows).set_column(5, "ts", stamps)
    pq.write_table(table, tmp_path / "b.parquet", row_group_size=2000)
    s = session_over(tmp_path / "b.parquet", "parquet")
    try:
        got = s.sql("SELECT price, url FROM bids WHERE price > 9000").fetchall()
    finally:
        s.close()
    assert got == [(r["price"], r["url"]) for r in rows if int(str(r["price"])) > 9000]


def test_avro_files_give_the_columns_of_the_query(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text(
        "".join(json.dumps({"a": i, "b": f"s{i}", "c": i / 2}) + "\n" for i in range(100))
    )
    s = sqlstream.connect()
    try:
        for name, path, fmt in (("src", tmp_path / "in.json", "json"), ("av", tmp_path / "out", "avro")):
            s.execute(
                f"CREATE TABLE {name} (a BIGINT, b STRING, c DOUBLE) "
                f"WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = '{fmt}')"
            )
        job = s.execute("INSERT INTO av SELECT * FROM src").job
        assert job is not None and job.wait(60)
        assert "table=[av, project=[a, c]]" in planner.explain("SELECT c FROM av WHERE a < 3", s.catalog)
        assert sorted(s.sql("SELECT c FROM av WHERE a < 3").fetchall()) == [(0.0,), (0.5,), (1.0,)]
    finally:
        s.close()
