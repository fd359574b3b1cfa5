"""Live results: a bounded SELECT as a table; an unbounded one as a live table, a
changelog or scrolling rows; Ctrl-C stops the query and returns to the prompt."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from typing import Any

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from sqlstream.repl.live import LiveTable, MaterializedTable, stream_lines
from tests.unit.repl.conftest import FakeQuery, QuerySession, drive

CHANGES = [
    (0, ("apple", 1)),
    (0, ("pear", 1)),
    (1, ("apple", 1)),
    (2, ("apple", 2)),
    (0, ("plum", 7)),
    (3, ("pear", 1)),
]


def test_updates_stay_on_their_row_and_deletes_remove_it() -> None:
    table = MaterializedTable()
    for kind, row in CHANGES:
        table.apply(kind, row)
    assert table.rows == [("apple", 2), ("plum", 7)]


def test_a_batch_of_updates_keeps_every_key_on_its_own_line() -> None:
    """An updating aggregate sends -U for several keys, then their +U (as the runtime does)."""
    table = MaterializedTable()
    for key in (1, 2, 3):
        table.apply(0, (key, 10))
    for _ in range(3):
        before = table.rows
        for key, n in before:
            table.apply(1, (key, n))
        for key, n in reversed(before):
            table.apply(2, (key, n + 1))
    assert table.rows == [(1, 13), (2, 13), (3, 13)]


def test_the_table_keeps_at_most_max_rows() -> None:
    table = MaterializedTable(max_rows=2)
    for i in range(5):
        table.apply(0, (i,))
    assert table.rows == [(3,), (4,)] and table.dropped == 3
    # duplicates: the oldest copy leaves, a later delete still finds the newer one
    table = MaterializedTable(max_rows=2)
    for row in [("x",), ("y",), ("x",)]:
        table.apply(0, row)
    table.apply(3, ("x",))
    assert table.rows == [("y",)]


def test_rows_with_arrays_and_maps_update_too() -> None:
    table = MaterializedTable()
    table.apply(0, ("k", [1, 2], {"a": 1}))
    table.apply(1, ("k", [1, 2], {"a": 1}))
    table.apply(2, ("k", [1, 2, 3], {"a": 2}))
    assert table.rows == [("k", [1, 2, 3], {"a": 2})]


class _CountingScans(dict):  # type: ignore[type-arg]
    """A dict that counts how often it is walked end to end."""

    scans = 0

    def __iter__(self) -> Any:
        _CountingScans.scans += 1
        return super().__iter__()

    def values(self) -> Any:
        _CountingScans.scans += 1
        return super().values()

    def items(self) -> Any:
        _CountingScans.scans += 1
        return super().items()

    def keys(self) -> Any:
        _CountingScans.scans += 1
        return super().keys()


def test_an_update_to_a_large_table_finds_its_row_without_a_scan() -> None:
    table = MaterializedTable()
    for key in range(100_000):
        table.apply(0, (key, 0))
    table._slots = _CountingScans(table._slots)
    table._where = _CountingScans(table._where)
    _CountingScans.scans = 0
    for key in range(0, 100_000, 7):
        table.apply(1, (key, 0))
        table.apply(2, (key, 1))
    assert _CountingScans.scans == 0  # 14,286 updates, not one walk over 100,000 rows
    assert table.rows[7] == (7, 1) and table.rows[8] == (8, 0) and len(table) == 100_000


def test_changelog_mode_prints_each_change_with_its_kind() -> None:
    out = io.StringIO()
    q = FakeQuery(["name", "n"], CHANGES, end=True)
    n = stream_lines(q, "changelog", out, threading.Event())
    lines = out.getvalue().splitlines()
    assert n == 6
    assert lines == ["op | name | n", "+I[apple, 1]", "+I[pear, 1]", "-U[apple, 1]", "+U[apple, 2]",
                     "+I[plum, 7]", "-D[pear, 1]"]  # fmt: skip


def test_tableau_mode_prints_a_growing_table_with_an_op_column() -> None:
    out = io.StringIO()
    q = FakeQuery(["name", "n"], CHANGES[:4], end=True)
    stream_lines(q, "tableau", out, threading.Event(), max_width=10)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("+----+") and lines[1].startswith("| op | name")
    assert lines[3].startswith("| +I | apple") and lines[6].startswith("| +U | apple")
    assert lines[-1] == lines[0]


def test_narrow_terminal_truncates_rows_instead_of_wrapping() -> None:
    out = io.StringIO()
    q = FakeQuery(["description"], [(0, ("x" * 200,))], end=True)
    stream_lines(q, "changelog", out, threading.Event(), width=40)
    assert all(len(line) <= 40 for line in out.getvalue().splitlines())
    assert out.getvalue().splitlines()[1].endswith(">")


def _wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_live_table_updates_in_place_and_q_stops_and_closes_the_query() -> None:
    q = FakeQuery(["name", "n"], CHANGES)
    with create_pipe_input() as inp:
        metrics = {"rows_per_second": 1234.0, "operators": [{"watermark_ms": 60_000}]}
        view = LiveTable(
            q, threading.Event(), input=inp, output=DummyOutput(), refresh=0.05, metrics=lambda: metrics
        )

        def stop_later() -> None:
            _wait_for(lambda: q.delivered == len(CHANGES))
            time.sleep(0.2)
            screen = "".join(part[1] for part in view._table_text())
            status = view._status_text()
            results.update(screen=screen, status=status)
            inp.send_text("q")

        results: dict[str, str] = {}
        threading.Thread(target=stop_later, daemon=True).start()
        outcome = view.run()
    assert q.closed and outcome.stopped
    assert outcome.rows == [("apple", 2), ("plum", 7)]
    assert "apple | 2" in results["screen"] and "pear" not in results["screen"]
    assert "2 rows (6 changes)" in results["status"] and "1,234 rows/s" in results["status"]
    assert "watermark 1970-01-01 00:01:00.000" in results["status"]


def test_live_table_ends_by_itself_when_the_query_ends() -> None:
    q = FakeQuery(["n"], [(0, (1,)), (0, (2,))], end=True)
    with create_pipe_input() as inp:
        outcome = LiveTable(q, threading.Event(), input=inp, output=DummyOutput()).run()
    assert not outcome.stopped and outcome.rows == [(1,), (2,)] and outcome.stats.state == "finished"


def test_a_failing_query_shows_its_error_and_the_shell_goes_on(session: Any) -> None:
    from catalog.errors import SqlStreamError

    class Failing(FakeQuery):
        def changelog(self, stop: Any = None) -> Any:
            yield (0, ("a", 1))
            raise SqlStreamError("the source went away", hint="check the file")

    q = Failing(["name", "n"], [])
    out, code = drive(QuerySession(session, q), ".mode tableau\rSELECT * FROM bids;\rSHOW TABLES;\r\\q\r")
    assert "Error: the source went away" in out and "Hint: check the file" in out
    assert "Traceback" not in out
    assert "| bids " in out and code == 0


def test_shell_shows_a_bounded_select_as_a_table(session: Any) -> None:
    q = FakeQuery(["name", "n"], CHANGES, bounded=True, end=True)
    out, _ = drive(QuerySession(session, q), "SELECT * FROM bids;\r\\q\r")
    assert "| apple  | 2 " in out and "| plum   | 7 " in out and "2 rows in set" in out
    assert "pear" not in out
    assert q.closed


def test_shell_live_table_mode_then_q_returns_to_the_prompt(session: Any) -> None:
    q = FakeQuery(["name", "n"], CHANGES)

    def stop(inp: Any) -> None:
        _wait_for(lambda: q.delivered == len(CHANGES))
        time.sleep(0.3)
        inp.send_text("\x03")  # Ctrl-C in the full-screen view
        time.sleep(0.3)
        inp.send_text("SHOW TABLES;\r\\q\r")

    out, code = drive(QuerySession(session, q), "SELECT * FROM bids;\r", during=stop)
    assert q.closed
    assert "| apple  | 2 " in out  # the last state is printed back to the terminal
    assert "[INFO] Query stopped: 2 rows, 6 changes" in out
    assert "| bids " in out and code == 0


def test_ctrl_c_stops_a_scrolling_query_not_the_shell(session: Any) -> None:
    q = FakeQuery(["name", "n"], CHANGES)
    # whatever the process started with (a background or CI job may run with SIGINT ignored)
    started_with = signal.getsignal(signal.SIGINT)

    def interrupt(inp: Any) -> None:
        _wait_for(lambda: q.delivered == len(CHANGES))
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends on Ctrl-C
        time.sleep(0.3)
        inp.send_text("SHOW TABLES;\r\\q\r")

    out, code = drive(QuerySession(session, q), ".mode changelog\rSELECT * FROM bids;\r", during=interrupt)
    assert q.closed
    assert "-D[pear, 1]" in out and "[INFO] Query stopped: 6 rows received." in out
    assert "| bids " in out and code == 0
    assert signal.getsignal(signal.SIGINT) == started_with  # the handler is put back


def test_results_to_a_file_write_the_stream_there(session: Any, tmp_path: Any) -> None:
    q = FakeQuery(["name", "n"], CHANGES, end=True)
    path = tmp_path / "rows.txt"
    out, _ = drive(QuerySession(session, q), f".mode changelog\r\\o {path}\rSELECT * FROM bids;\r\\o\r\\q\r")
    assert "+U[apple, 2]" in path.read_text()
    assert "+U[apple, 2]" not in out


def test_ctrl_c_on_a_real_stream_leaves_no_task_running(session: Any) -> None:
    """The real runtime: a SELECT over an unbounded datagen table, stopped with Ctrl-C."""
    import asyncio

    printed = io.StringIO()

    def interrupt(inp: Any) -> None:
        _wait_for(lambda: "+I[" in printed.getvalue(), timeout=20)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        inp.send_text("\\q\r")

    out, code = drive(
        session, ".mode changelog\rSELECT item, price FROM bids;\r", during=interrupt, out=printed
    )
    assert "op | item | price" in out and "+I[" in out
    assert "[INFO] Query stopped:" in out and code == 0
    loop = session.jobs.loop
    tasks = asyncio.run_coroutine_threadsafe(_running_tasks(), loop).result(timeout=5)
    assert tasks == []


async def _running_tasks() -> list[str]:
    import asyncio

    me = asyncio.current_task()
    return [repr(t) for t in asyncio.all_tasks() if t is not me and not t.done()]


def test_a_bounded_result_longer_than_the_screen_opens_the_table_view(session: Any) -> None:
    """psql pages what exceeds the screen: 5,000 rows open the scrollable view (DummyOutput's
    screen has 40 rows) instead of printing each row; q closes it, one line is printed."""
    q = FakeQuery(["n", "name"], [(0, (i, f"row{i}")) for i in range(5000)], bounded=True, end=True)

    def close_view(inp: Any) -> None:
        _wait_for(lambda: q.delivered == 5000)
        time.sleep(0.5)  # the view stays open once every row is there
        inp.send_text("q")
        time.sleep(0.3)
        inp.send_text("SHOW TABLES;\r\\q\r")

    out, code = drive(QuerySession(session, q), "SELECT * FROM bids;\r", during=close_view)
    assert "[INFO] 5,000 rows in set, shown in the table view." in out
    assert "row4999" not in out and "row17 " not in out  # no row went to the terminal
    assert q.closed and "| bids " in out and code == 0


def test_the_view_of_a_bounded_result_starts_at_its_first_row_and_stays_until_q() -> None:
    q = FakeQuery(["n"], [(0, (i,)) for i in range(300)], bounded=True, end=True)
    with create_pipe_input() as inp:
        view = LiveTable(q, threading.Event(), input=inp, output=DummyOutput(), refresh=0.05, bounded=True)
        seen: dict[str, Any] = {}

        def read_then_close() -> None:
            _wait_for(lambda: view.done.is_set())
            time.sleep(0.3)
            seen.update(lines=[t for _, t in view._table_text()], status=view._status_text())
            inp.send_text("\x1b[6~")  # PgDn
            time.sleep(0.3)
            seen.update(after=[t for _, t in view._table_text()])
            inp.send_text("q")

        threading.Thread(target=read_then_close, daemon=True).start()
        outcome = view.run()
    assert seen["lines"][2].strip() == "0" and seen["lines"][3].strip() == "1"  # header, rule, rows
    assert "all rows" in seen["status"] and "300 rows" in seen["status"]
    assert seen["after"][2].strip() == str(len(seen["lines"]) - 2)  # a page further down
    assert not outcome.stopped and outcome.stats.state == "finished" and len(outcome.rows) == 300
