"""The ``ticker`` input of the MATCH_RECOGNIZE cases (corpus/match_recognize.sql): the
example tables of Flink's "Pattern Recognition" page, one symbol each, so that every
query runs over all of them at once, plus a few rows of our own (ties on the time,
a NULL price). Rows are in time order: a bounded source's watermark must not pass one."""

from __future__ import annotations

from typing import Any

COLUMNS = [["symbol", "STRING"], ["price", "BIGINT"], ["tax", "BIGINT"], ["rowtime", "TIMESTAMP(3)"]]
WATERMARK = "FOR rowtime AS rowtime - INTERVAL '1' SECOND"

_DAY_A = "2011-04-01 10:00:"
_DAY_B = "2018-09-17 10:00:"
EXAMPLES: dict[str, list[tuple[str, int | None, int]]] = {
    # the V shape: START_ROW PRICE_DOWN+ PRICE_UP
    "ACME": [(f"{_DAY_A}{s:02d}", p, t) for s, p, t in [
        (0, 12, 1), (1, 17, 2), (2, 19, 1), (3, 21, 3), (4, 25, 2), (5, 18, 1), (6, 15, 1),
        (7, 14, 2), (8, 24, 2), (9, 25, 2), (10, 19, 1)]],
    # aggregations: A AS AVG(A.price) < 15
    "AVGT": [(f"{_DAY_A}{s:02d}", p, t) for s, p, t in [
        (0, 12, 1), (1, 17, 2), (2, 13, 1), (3, 16, 3), (4, 25, 2), (5, 2, 1), (6, 4, 1),
        (7, 10, 2), (8, 15, 2), (9, 25, 2), (10, 25, 1), (11, 30, 1)]],
    # greedy and reluctant quantifiers: A B* C / A B*? C
    "GRDY": [(f"{_DAY_B}{s:02d}", p, t) for s, p, t in [
        (2, 10, 1), (3, 11, 2), (4, 12, 1), (5, 13, 2), (6, 14, 1), (7, 16, 2)]],
    # output mode: PATTERN (A+ B), FIRST/LAST of A
    "OUTM": [(f"{_DAY_B}{s:02d}", p, t) for s, p, t in [(2, 10, 1), (3, 12, 2), (4, 13, 1), (5, 11, 2)]],
    # the AFTER MATCH strategies: PATTERN (A+ C), A AS SUM(A.price) < 30
    "SKIP": [(f"{_DAY_B}{s:02d}", p, t) for s, p, t in [
        (1, 7, 1), (2, 9, 2), (3, 10, 1), (4, 5, 2), (5, 10, 2), (6, 7, 2), (7, 14, 2)]],
    # the time constraint: a drop of 10 WITHIN INTERVAL '1' HOUR
    "DROP": [(f"2011-04-01 {10 + m // 60:02d}:{m % 60:02d}:00", p, t) for m, p, t in [
        (0, 20, 1), (20, 17, 2), (40, 18, 1), (60, 11, 3), (80, 14, 2), (100, 9, 1), (120, 15, 1),
        (140, 14, 2), (160, 24, 2), (180, 1, 2), (200, 19, 1)]],
    # ours: rows of one time (ORDER BY's second key decides), a NULL price
    "TIES": [(f"2020-01-01 00:00:{s:02d}", p, t) for s, p, t in [
        (0, 5, 1), (0, 8, 2), (1, 3, 1), (1, None, 2), (2, 9, 1), (3, 4, 2), (3, 6, 1), (4, 2, 1),
        (5, 7, 2), (6, 1, 1), (7, 11, 2)]],
}  # fmt: skip


def generate() -> dict[str, dict[str, Any]]:
    """The ``ticker`` table: ``{"columns", "rows", "watermark"}``, rows in time order."""
    rows = sorted(
        ([symbol, price, tax, ts] for symbol, example in EXAMPLES.items() for ts, price, tax in example),
        key=lambda r: (r[3], r[0]),
    )
    return {"ticker": {"columns": COLUMNS, "rows": rows, "watermark": WATERMARK}}
