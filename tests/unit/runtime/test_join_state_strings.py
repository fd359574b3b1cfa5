"""A regular join keeps its sides' long strings uncompressed in memory: DuckDB's dict-FSST
compression of each full row group cost ~0.7 us a stored bid, 1.9 of q7's ~5.5 CPU s
(benchmarks/README.md, branch pf21). Other operators' state still compresses them."""

from __future__ import annotations

import asyncio

from runtime.state.duckdb_state import DuckDBState
from tests.unit.runtime.test_join_oracle import join_op

ROWS = 300_000  # two full row groups and more: DuckDB compresses full ones at its checkpoints


def _string_compressions(state: DuckDBState) -> set[str]:
    text = "'wavvkojpmjnjootazqkpdgxlgcymzszeakhkynblvksdgtq' || i"  # a bid's random extra
    state.execute(f"CREATE TABLE t AS SELECT {text} AS s FROM range({ROWS}) r(i)")
    state.execute("CHECKPOINT")
    found = "SELECT DISTINCT compression FROM pragma_storage_info('t') WHERE column_name = 's'"
    rows = state.con.execute(found)
    return {r[0] for r in rows.fetchall()}


def test_plain_strings_are_not_dict_fsst_compressed() -> None:
    plain, default = DuckDBState(plain_strings=True), DuckDBState()
    try:
        assert "DICT_FSST" not in _string_compressions(plain)
        assert "DICT_FSST" in _string_compressions(default)  # what the others keep
    finally:
        plain.close()
        default.close()


def test_a_join_state_stores_plain_strings() -> None:
    op = join_op("inner", False)
    asyncio.run(op.open())
    try:
        assert "DICT_FSST" not in _string_compressions(op.state)
    finally:
        asyncio.run(op.close())
