"""A hash exchange that ships only the columns its consumer reads (``Edge.columns``) still
ships every row, to the same subtask, with its row kind."""

from __future__ import annotations

import pyarrow as pa

from planner.physical import ROW_KIND_COLUMN
from runtime.graph import _Hash


def test_only_the_read_columns_and_the_row_kind_cross() -> None:
    batch = pa.record_batch(
        {
            "k": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "wide": pa.array(["x" * 50] * 6),
            "v": pa.array([10, 20, 30, 40, 50, 60], pa.int64()),
            ROW_KIND_COLUMN: pa.array([0, 1, 2, 3, 0, 2], pa.int8()),
        }
    )
    whole = _Hash([None, None], ("k",), None).split(batch)  # type: ignore[list-item]
    narrow = _Hash([None, None], ("k",), None, ("k", "v")).split(batch)  # type: ignore[list-item]
    for w, n in zip(whole, narrow):
        assert (w is None) == (n is None)
        if w is not None and n is not None:
            assert n.schema.names == ["k", "v", ROW_KIND_COLUMN]
            assert n.to_pylist() == w.select(["k", "v", ROW_KIND_COLUMN]).to_pylist()
    assert sum(p.num_rows for p in narrow if p is not None) == 6
