"""The real ``sqlstream`` binary in a pseudo-terminal, typed at like a person would:
create a datagen table, watch a windowed SELECT update live, Ctrl-C it, submit an INSERT
job, see it in SHOW JOBS, stop it, quit.

It needs the runtime to run unbounded queries; it fails (never skips) when it cannot.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(sys.executable).parent / "sqlstream"
PROMPT = "sqlstream> "

ORDERS = (
    "CREATE TABLE orders (\r"
    "  order_id BIGINT,\r"
    "  product_id INT,\r"
    "  order_time AS TO_TIMESTAMP_LTZ(order_id * 5, 3),\r"
    "  WATERMARK FOR order_time AS order_time - INTERVAL '1' SECOND\r"
    ") WITH (\r"
    "  'connector' = 'datagen', 'rows-per-second' = '2000',\r"
    "  'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '1',\r"
    "  'fields.order_id.end' = '100000000',\r"
    "  'fields.product_id.min' = '1', 'fields.product_id.max' = '3');\r"
)
WINDOWED = (
    "SELECT window_start, product_id, COUNT(*) AS orders\r"
    "FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' SECOND))\r"
    "GROUP BY window_start, window_end, product_id;\r"
)


@pytest.fixture
def shell(tmp_path: Path) -> Any:
    assert BINARY.exists(), f"{BINARY} is missing: install the project into the venv (pip install -e .)"
    env = dict(os.environ, SQLSTREAM_HISTORY=str(tmp_path / "history"), TERM="xterm",
               PROMPT_TOOLKIT_NO_CPR="1", EDITOR="true")  # fmt: skip
    child = pexpect.spawn(str(BINARY), cwd=str(tmp_path), env=env, dimensions=(40, 140),
                          encoding="utf-8", timeout=30)  # fmt: skip
    child.logfile_read = open(tmp_path / "screen.log", "w")  # noqa: SIM115 - read back on failure
    yield child
    if child.isalive():
        child.terminate(force=True)


def test_shell_runs_a_live_windowed_query_stops_it_and_manages_jobs(shell: Any, tmp_path: Path) -> None:
    child = shell
    step = "start"
    try:
        child.expect_exact(PROMPT)
        step = "create a datagen table"
        child.send(ORDERS)
        child.expect_exact("[INFO] Table 'orders' created.")
        child.expect_exact(PROMPT)

        # a live windowed SELECT: rows for closed windows appear while it runs. The view
        # redraws only what changed, so only its first frame is matched as text.
        step = "live table: first windows and the status bar"
        child.send(WINDOWED)
        seen: set[int] = set()
        while len(seen) < 2:  # in either order: the first frame may have no rows yet
            seen.add(child.expect([r"1970-01-01 00:00:0\d\.000", r"rows/s \| watermark"]))
        # a new row is drawn whole: wait until the window of second 10 or later is shown,
        # so the windows of seconds 0 to 10 have all fired (each with one product at least)
        step = "live table: later windows"
        child.expect(r"1970-01-01 00:00:[1-9]\d\.000")
        step = "live table: Ctrl-C"
        child.send("\x03")  # Ctrl-C stops the query, not the shell
        child.expect(r"\[INFO\] Query stopped: (\d+) rows, (\d+) changes")
        rows = int(child.match.group(1))
        assert rows >= 11, f"only {rows} rows for the windows of seconds 0 to 10"
        # the last state is printed back, with those later windows in it
        assert re.search(r"\| 1970-01-01 00:00:[1-9]\d\.000 \| [123] ", child.before)
        child.expect_exact(PROMPT)

        # the same query as scrolling rows
        step = "tableau"
        child.send(".mode tableau\r")
        child.expect_exact("Result mode: tableau")
        child.send(WINDOWED)
        child.expect(r"\| \+I \| 1970-01-01 00:00:0\d\.000 \|")
        child.sendintr()
        child.expect(r"\[INFO\] Query stopped: \d+ rows received\.")
        child.expect_exact(PROMPT)

        # a background job keeps running while we type
        step = "INSERT job"
        child.send("CREATE TABLE nowhere (order_id BIGINT) WITH ('connector' = 'blackhole');\r")
        child.expect_exact("Table 'nowhere' created.")
        child.send("INSERT INTO nowhere SELECT order_id FROM orders;\r")
        child.expect(r"Job '([0-9a-f]{8})' submitted")
        job_id = child.match.group(1)
        child.expect_exact(PROMPT)
        step = "SHOW JOBS"
        child.send("SHOW JOBS;\r")
        child.expect(rf"\| {job_id}\s+\| \S+\s+\| RUNNING")
        child.expect_exact(PROMPT)
        step = "STOP JOB"
        child.send(f"STOP JOB '{job_id}';\r")
        child.expect_exact(f"Job '{job_id}' stopped")
        child.expect_exact(PROMPT)

        step = "quit"
        child.send("\\q\r")
        child.expect_exact("Goodbye!")
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as e:
        screen = (tmp_path / "screen.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"step '{step}': the shell did not show what was expected ({type(e).__name__}); "
                    f"last output:\n{screen!r}")  # fmt: skip
    child.close()
    assert child.exitstatus == 0
    assert "SHOW JOBS;" in (tmp_path / "history").read_text()
