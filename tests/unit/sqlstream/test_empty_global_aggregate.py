"""A global aggregate over a bounded input with no rows: Flink's batch mode answers one row
(COUNT 0, the others NULL); its streaming mode, which sees no change, emits nothing."""

from __future__ import annotations

import sqlstream

QUERY = "SELECT COUNT(*) AS n, SUM(v) AS s FROM nums WHERE v > 100"


def _session(mode: str) -> sqlstream.Session:
    session = sqlstream.connect()
    session.execute(f"SET 'execution.runtime-mode' = '{mode}'")
    session.execute("""CREATE TABLE nums (v BIGINT) WITH (
        'connector' = 'datagen', 'number-of-rows' = '5',
        'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '5')""")
    return session


def test_batch_mode_answers_one_row_for_no_input() -> None:
    session = _session("batch")
    try:
        assert session.sql(QUERY).fetchall() == [(0, None)]
    finally:
        session.close()


def test_streaming_mode_emits_nothing_for_no_input() -> None:
    session = _session("streaming")
    try:
        assert session.sql(QUERY).fetchall() == []
    finally:
        session.close()
