"""Helpers that drive the shell the way a user does: keys into prompt-toolkit's pipe
input, the screen into ``DummyOutput``, printed results into a string."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import sqlstream
from sqlstream.repl.app import Shell

DDL = """
CREATE TABLE bids (
    bidtime TIMESTAMP(3),
    price DECIMAL(10, 2),
    item STRING,
    WATERMARK FOR bidtime AS bidtime - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen');
CREATE TABLE orders (order_id BIGINT, amount DOUBLE) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
"""


@pytest.fixture
def session() -> Iterator[sqlstream.Session]:
    s = sqlstream.connect()
    s.execute(DDL)
    yield s
    s.close()


def drive(
    session: Any,
    keys: str | list[str],
    width: int | None = None,
    during: Callable[[Any], None] | None = None,
    history: Any = None,
    out: io.StringIO | None = None,
) -> tuple[str, int]:
    """Type ``keys`` into a shell over ``session`` until it exits; (what it printed, exit code).

    A list of key chunks is typed with a pause between chunks; a chunk that is a lone Tab
    waits for the completion menu (completion is asynchronous) and for the text it inserts.
    ``during`` runs in a thread with the pipe input, to type keys later (e.g. Ctrl-C once
    rows have arrived). ``history`` is in memory unless given; "default" uses the shell's
    own (``$SQLSTREAM_HISTORY``)."""
    out = out or io.StringIO()
    chunks = [keys] if isinstance(keys, str) else keys
    with create_pipe_input() as inp:
        shell = Shell(
            session,
            input=inp,
            output=DummyOutput(),
            stdout=out,
            history=None if history == "default" else (history or InMemoryHistory()),
            width=width,
        )

        buffer = shell.prompt.default_buffer

        def typing(inp: Any) -> None:
            for chunk in chunks:
                if chunk == "\t":
                    # completion runs in the background: Tab acts on a menu that is there
                    wait_until(lambda: buffer.complete_state is not None)
                    before = buffer.text
                    inp.send_text(chunk)
                    wait_until(lambda before=before: buffer.text != before)  # type: ignore[misc]
                else:
                    inp.send_text(chunk)
                    time.sleep(0.3)
            if during is not None:
                during(inp)

        helper = threading.Thread(target=typing, args=(inp,), daemon=True)
        helper.start()
        code = shell.run()
        helper.join(timeout=10)
    return out.getvalue(), code


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


@dataclass
class FakeQuery:
    """A running query as the live view sees it: rows arrive until ``end`` or stop."""

    columns: list[str]
    changes: list[tuple[int, tuple[Any, ...]]]
    bounded: bool = False
    end: bool = False  # finish after the changes (else wait for stop, like a stream)
    closed: bool = False
    delivered: int = 0
    started: threading.Event = field(default_factory=threading.Event)

    def changelog(self, stop: threading.Event | None = None) -> Iterator[tuple[int, tuple[Any, ...]]]:
        self.started.set()
        for change in self.changes:
            if stop is not None and stop.is_set():
                return
            self.delivered += 1
            yield change
        while not self.end and not (stop is not None and stop.is_set()):
            stop.wait(0.02) if stop is not None else None
        if stop is not None and stop.is_set():
            self.close()

    def close(self) -> None:
        self.closed = True


class QuerySession:
    """A real session whose SELECTs return a given fake query (the rest runs for real)."""

    def __init__(self, real: sqlstream.Session, query: FakeQuery) -> None:
        self._real = real
        self.query = query
        self.catalog, self.config, self.jobs = real.catalog, real.config, real.jobs

    def execute_statement(self, statement: Any) -> Any:
        from planner import statements as st
        from sqlstream.results import Result, ResultKind

        if isinstance(statement, st.Query):
            return Result(ResultKind.QUERY, query=self.query, columns=self.query.columns)  # type: ignore[arg-type]
        return self._real.execute_statement(statement)
