"""Top-N and deduplication results written to PostgreSQL upsert tables through the jdbc
connector (the real server): Nexmark q19 (the ten highest bids per auction, keyed by
auction and rank) and q18 (each bidder's last bid per auction, keyed by both) end equal
to PostgreSQL's own window functions over the same rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlstream.session import Session

from .test_postgres_connector import execute, unique_table
from .test_postgres_sql import jdbc, run

pytestmark = pytest.mark.postgres

BIDS = """CREATE TABLE bid (auction INT, bidder INT, price BIGINT, seq BIGINT,
    dateTime AS TO_TIMESTAMP_LTZ(1700000000000 + seq * 10, 3),
    WATERMARK FOR dateTime AS dateTime - INTERVAL '1' SECOND) WITH (
    'connector' = 'datagen', 'number-of-rows' = '4000', 'sqlstream.seed' = '19',
    'fields.auction.min' = '1', 'fields.auction.max' = '30', 'fields.bidder.min' = '1',
    'fields.bidder.max' = '8', 'fields.seq.kind' = 'sequence', 'fields.seq.start' = '1',
    'fields.seq.end' = '4000')"""


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session(config={"table.dml-sync": "true", "parallelism.default": "2"})
    yield s
    s.close()


def test_nexmark_q19_and_q18_upsert_into_postgres(session: Session, pg_dsn: str, pg_url: str) -> None:
    top, last, raw = unique_table("q19"), unique_table("q18"), unique_table("bids")
    execute(pg_dsn, f'CREATE TABLE "{top}" (auction int, bidder int, price bigint, seq bigint, '
                    "rank_number bigint, PRIMARY KEY (auction, rank_number))")  # fmt: skip
    execute(pg_dsn, f'CREATE TABLE "{last}" (auction int, bidder int, price bigint, seq bigint, '
                    "PRIMARY KEY (bidder, auction))")  # fmt: skip
    execute(pg_dsn, f'CREATE TABLE "{raw}" (auction int, bidder int, price bigint, seq bigint)')
    try:
        run(
            session,
            f"""
            {BIDS};
            CREATE TABLE q19 (auction INT, bidder INT, price BIGINT, seq BIGINT, rank_number BIGINT,
                PRIMARY KEY (auction, rank_number) NOT ENFORCED) WITH ({jdbc(pg_url, top)});
            CREATE TABLE q18 (auction INT, bidder INT, price BIGINT, seq BIGINT,
                PRIMARY KEY (bidder, auction) NOT ENFORCED) WITH ({jdbc(pg_url, last)});
            CREATE TABLE raw (auction INT, bidder INT, price BIGINT, seq BIGINT) WITH ({jdbc(pg_url, raw)});
            INSERT INTO raw SELECT auction, bidder, price, seq FROM bid;
            INSERT INTO q19 SELECT auction, bidder, price, seq, rank_number FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number
                FROM bid) WHERE rank_number <= 10;
            INSERT INTO q18 SELECT auction, bidder, price, seq FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rn
                FROM bid) WHERE rn <= 1;
            """,
        )
        assert execute(pg_dsn, f'SELECT count(*) FROM "{raw}"') == [(4000,)]
        expected_top = execute(
            pg_dsn,
            "SELECT auction, bidder, price, seq, rn FROM (SELECT *, row_number() OVER "
            f'(PARTITION BY auction ORDER BY price DESC, seq) AS rn FROM "{raw}") r '
            "WHERE rn <= 10 ORDER BY 1, 5",
        )
        assert len(expected_top) == 300
        assert execute(pg_dsn, f'SELECT * FROM "{top}" ORDER BY 1, 5') == expected_top
        expected_last = execute(
            pg_dsn,
            f'SELECT DISTINCT ON (bidder, auction) auction, bidder, price, seq FROM "{raw}" '
            "ORDER BY bidder, auction, seq DESC",
        )
        got = execute(pg_dsn, f'SELECT auction, bidder, price, seq FROM "{last}" ORDER BY bidder, auction')
        assert got == expected_last
    finally:
        for t in (top, last, raw):
            execute(pg_dsn, f'DROP TABLE IF EXISTS "{t}"')
