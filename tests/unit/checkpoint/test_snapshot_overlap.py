"""Two snapshots of one subtask in flight at once (a final checkpoint triggered behind a
pending periodic one) must not collide: each attaches its file under a name of its own.
Found by the long PostgreSQL crash run, where the job failed at its final checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _state_with_rows() -> Any:
    from runtime.state.duckdb_state import DuckDBState

    state = DuckDBState()
    state.create_table("t", "k BIGINT, v BIGINT")
    state.execute("INSERT INTO t SELECT range, range FROM range(1000)")
    return state


def test_two_snapshots_of_one_subtask_in_flight_at_once(tmp_path: Path) -> None:
    """Snapshot 2 starts while snapshot 1 is still copying (simulated deterministically:
    snapshot 1's cursor runs snapshot 2 in the middle of its copy)."""
    from runtime.state.duckdb_state import write_snapshot

    state = _state_with_rows()
    second: list[int] = []

    class Overlapping:
        def __init__(self, cursor: Any) -> None:
            self.cursor = cursor

        def execute(self, statement: str) -> Any:
            if statement.startswith("CREATE TABLE") and not second:
                second.append(write_snapshot(state.snapshot_cursor(), ["t"], tmp_path / "chk-2.duckdb"))
            return self.cursor.execute(statement)

        def close(self) -> None:
            self.cursor.close()

    first = write_snapshot(Overlapping(state.snapshot_cursor()), ["t"], tmp_path / "chk-1.duckdb")  # type: ignore[arg-type]
    assert first > 0 and second and second[0] > 0
