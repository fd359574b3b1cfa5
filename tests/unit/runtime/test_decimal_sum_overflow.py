"""A DECIMAL SUM or AVG whose sum leaves 38 digits answers NULL and the job goes on (Flink's
DecimalDataUtils overflow to NULL; DuckDB's own sum raised and failed the job), in batch and
streaming mode, across retractions and beside exact sums of values wider than 19 digits.
The corpus (tests/oracle/corpus/decimal_overflow.sql) holds Flink's answers; these are the
paths it does not reach: retractions across an overflow, and wide values that fit."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from sqlstream import connect
from tests.oracle.corpus import FIXTURE_DIR, load_corpus, load_inputs
from tests.unit.runtime.test_over_oracle import changelog

M = "CAST('99999999999999999999999999999999999999' AS DECIMAL(38, 0))"


def rows(sql: str, mode: str) -> list[tuple[Any, ...]]:
    session = connect()
    try:
        session.execute(f"SET 'execution.runtime-mode' = '{mode}'")
        handle = session.sql(sql)
        try:
            return sorted(handle.fetchall(), key=repr)
        finally:
            handle.close()
    finally:
        session.close()


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_retractions_across_the_overflow_leave_it_null(mode: str) -> None:
    # key 1's M is retracted for 1 after key 2's M overflowed the sum: Flink answers NULL
    # (its sum stays NULL), with the count of the two live values
    updates = f"(VALUES (1, {M}), (2, {M}), (1, CAST(1 AS DECIMAL(38, 0)))) AS t(k, x)"
    sql = f"SELECT SUM(x), AVG(x), COUNT(x) FROM (SELECT k, LAST_VALUE(x) AS x FROM {updates} GROUP BY k)"
    assert rows(sql, mode) == [(None, None, 2)]


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_distinct_sum_over_retractions_overflows_to_null(mode: str) -> None:
    # key 1's M is retracted for 1, key 2 keeps M: the distinct values 1 and M sum beyond 38
    # digits (whatever the order), and the count of distinct values is 2
    updates = f"(VALUES (1, {M}), (2, {M}), (1, CAST(1 AS DECIMAL(38, 0)))) AS t(k, x)"
    inner = f"SELECT k, LAST_VALUE(x) AS x FROM {updates} GROUP BY k"
    sql = f"SELECT SUM(DISTINCT x), AVG(DISTINCT x), COUNT(DISTINCT x) FROM ({inner})"
    assert rows(sql, mode) == [(None, None, 2)]


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_wide_values_that_fit_sum_exactly(mode: str) -> None:
    # values beyond 19 digits beside narrow ones: the exact sum, not a DOUBLE's
    big = 10**38 - 10
    values = [f"CAST('{big}' AS DECIMAL(38, 0))", "CAST(3 AS DECIMAL(38, 0))", "CAST(6 AS DECIMAL(38, 0))"]
    sql = f"SELECT SUM(x) FROM (VALUES {', '.join(f'({v})' for v in values)}) AS t(x)"
    assert rows(sql, mode) == [(Decimal(big + 9),)]
    wide = f"CAST('{-(10**37)}' AS DECIMAL(38, 0))"
    sql = f"SELECT SUM(x) FROM (VALUES ({values[0]}), ({wide}), ({values[1]})) AS t(x)"
    assert rows(sql, mode) == [(Decimal(big - 10**37 + 3),)]


def flink_rows(case_id: str) -> list[list[Any]]:
    """Flink's recorded rows for a case of the corpus's decimal_overflow file."""
    cases = json.loads((FIXTURE_DIR / "decimal_overflow.json").read_text())["cases"]
    return next(c["rows"] for c in cases if c["id"] == case_id)


def over_events(sql: str, parallelism: int, batch: int) -> list[list[Any]]:
    """The final rows of a corpus OVER query (id, sum, average) over the corpus's events,
    in batches of ``batch`` rows: each row fires alone with batches of one (watermark: ts)."""
    events = load_inputs()["events"]
    data = [dict(zip(("id", "k", "v", "ts"), row)) for row in events["rows"]]
    query = sql.replace("FROM events", "FROM t")
    log = changelog(data, "id INT, k STRING, v INT", "ts", query, parallelism, batch)
    return sorted([i, None if s is None else str(s), None if a is None else str(a)] for _, (i, s, a) in log)


def test_an_unbounded_over_stays_null_across_firings() -> None:
    # the corpus's streaming case, one row a batch and the watermark on each row's time: every
    # row fires alone, so each sum is the partition's kept one plus the row (an overflowed
    # one kept NULL): Flink's rows, not a failed job
    sql = next(
        c.sql()
        for c in load_corpus()
        if c.file == "decimal_overflow" and "UNBOUNDED" in c.text and c.mode == "streaming"
    )
    assert over_events(sql, 1, 1) == sorted(flink_rows(f"decimal_overflow: {sql} #streaming"))


@pytest.mark.parametrize("batch", [1, 2])
def test_a_window_sum_that_overflowed_in_one_batch_stays_null_in_the_next(batch: int) -> None:
    # events' 2024-03-11 window holds three values of 38 nines: in batches of two, one batch's
    # sum overflows and the next batch brings one more; the window's sum is NULL as when all
    # three come in one batch, not the last batch's value alone
    sql = (
        f"SELECT window_start, SUM(x) AS s, AVG(x) AS a FROM TABLE(TUMBLE(TABLE (SELECT ts, "
        f"NULLIF({M}, CAST(v AS DECIMAL(38, 0))) AS x FROM t), DESCRIPTOR(ts), INTERVAL '1' DAY)) "
        "GROUP BY window_start, window_end"
    )
    events = load_inputs()["events"]
    data = [dict(zip(("id", "k", "v", "ts"), row)) for row in events["rows"]]
    one = changelog(data, "id INT, k STRING, v INT", "ts", sql, 1, 100)
    assert sorted(changelog(data, "id INT, k STRING, v INT", "ts", sql, 1, batch)) == sorted(one)
    assert [row[1:] for _, row in sorted(one)][1:] == [(None, None), (None, None)]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_bounded_over_stays_null_in_its_partition_across_firings(parallelism: int) -> None:
    # partition 'a' overflows at its second row; one row a batch, each row fires alone, so
    # later frames that fit come in later firings: Flink's sums stay NULL there (its
    # accumulator does), while partition 'b' and the NULL partition sum as usual
    sql = next(
        c.sql()
        for c in load_corpus()
        if c.file == "decimal_overflow" and "PARTITION BY k" in c.text and c.mode == "streaming"
    )
    assert over_events(sql, parallelism, 1) == sorted(flink_rows(f"decimal_overflow: {sql} #streaming"))
