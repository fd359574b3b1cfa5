"""Results of running queries: a final table for a bounded SELECT; for an unbounded one a
continuously updated table (a full-screen view), a changelog, or scrolling rows (tableau),
as ``sql-client.execution.result-mode`` says.

Every path takes a ``stop`` event (set by Ctrl-C) and returns with the query closed, so no
task is left running behind the prompt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from prompt_toolkit.application import Application
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import HSplit, Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style

from sqlstream.render import ROW_KINDS, format_value, render_changelog_row
from sqlstream.repl.toolbar import LiveStats, live_status, update_from_metrics


class RunningQuery(Protocol):
    """What the live view needs of a ``QueryHandle``."""

    columns: list[str]
    bounded: bool

    def changelog(self, stop: threading.Event | None = None) -> Iterator[tuple[int, tuple[Any, ...]]]: ...

    def close(self) -> None: ...


def _key(row: tuple[Any, ...]) -> Hashable:
    """A row as a dict key (ARRAY, MAP and ROW values arrive as lists and dicts)."""
    try:
        hash(row)
    except TypeError:
        return repr(row)
    return row


class MaterializedTable:
    """A changelog applied to a table, updating rows in place.

    An update (-U then +U) puts the new row where the old one was, so a row that changes
    stays on its line in the live view; a delete removes the row. Updates of several keys
    may come as a batch (-U a, -U b, +U a', +U b'): each +U takes the waiting place whose
    old row shares the most values with it (its key), the oldest one on a tie. Rows are
    found through an index, so an update costs the same in a table of a million rows.

    >>> t = MaterializedTable()
    >>> for kind, row in [(0, ("a", 1)), (0, ("b", 1)), (1, ("a", 1)), (1, ("b", 1)),
    ...                   (2, ("b", 2)), (2, ("a", 2)), (0, ("c", 1)), (3, ("b", 2))]:
    ...     t.apply(kind, row)
    >>> t.rows
    [('a', 2), ('c', 1)]
    """

    def __init__(self, max_rows: int = 1_000_000) -> None:
        self.max_rows = max_rows
        self.dropped = 0  # rows dropped from the top to keep max_rows
        self._slots: dict[int, tuple[Any, ...] | None] = {}  # slot id -> row (None: a hole), in order
        self._where: dict[Hashable, list[int]] = {}  # row -> its slot ids, oldest first
        self._waiting: list[tuple[int, tuple[Any, ...]]] = []  # (slot of a hole, its old row)
        self._next = 0

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        return [r for r in self._slots.values() if r is not None]

    def __len__(self) -> int:
        return len(self._slots) - len(self._waiting)

    def _take(self, row: tuple[Any, ...]) -> int | None:
        """The slot of the newest copy of ``row``, forgotten by the index."""
        key = _key(row)
        slots = self._where.get(key)
        if not slots:
            return None
        slot = slots.pop()
        if not slots:
            del self._where[key]
        return slot

    def _put(self, slot: int, row: tuple[Any, ...]) -> None:
        self._slots[slot] = row
        self._where.setdefault(_key(row), []).append(slot)

    def apply(self, kind: int, row: tuple[Any, ...]) -> None:
        if kind in (1, 3):  # -U, -D
            slot = self._take(row)
            if slot is None:
                return
            if kind == 1:
                self._slots[slot] = None
                self._waiting.append((slot, row))
            else:
                del self._slots[slot]
            return
        if kind == 2 and self._waiting:
            best = max(
                range(len(self._waiting)),
                key=lambda w: (sum(a == b for a, b in zip(self._waiting[w][1], row)), -w),
            )
            slot, _ = self._waiting.pop(best)
            self._put(slot, row)
            return
        self._put(self._next, row)
        self._next += 1
        while len(self) > self.max_rows:
            first = next(slot for slot, r in self._slots.items() if r is not None)
            key = _key(self._slots.pop(first))  # type: ignore[arg-type]
            self._where[key].remove(first)
            if not self._where[key]:
                del self._where[key]
            self.dropped += 1


def _query_metrics(query: Any) -> dict[str, Any]:
    job = getattr(query, "job", None)
    try:
        metrics = job.metrics() if job is not None else {}
    except Exception:
        return {}
    return metrics if isinstance(metrics, dict) else {}


def collect(query: RunningQuery, stop: threading.Event) -> list[tuple[Any, ...]]:
    """The rows of a bounded query (its changelog applied), or what arrived before ``stop``."""
    table = MaterializedTable()
    for kind, row in query.changelog(stop):
        table.apply(kind, row)
    return table.rows


# ---- changelog and tableau: lines printed as rows arrive ------------------------------------
def _type_width(type_text: str, max_width: int) -> int:
    t = type_text.upper()
    widths = {"BOOLEAN": 5, "TINYINT": 4, "SMALLINT": 6, "INT": 11, "INTEGER": 11, "BIGINT": 20,
              "FLOAT": 14, "DOUBLE": 22, "DATE": 10, "TIME": 12}  # fmt: skip
    base = t.split("(")[0].split(" ")[0]
    if base in widths:
        return min(widths[base], max_width)
    if base.startswith("TIMESTAMP"):
        return min(23, max_width)
    if base == "DECIMAL" and "(" in t:
        try:
            return min(int(t.split("(")[1].split(",")[0].rstrip(")")) + 2, max_width)
        except ValueError:
            pass
    return max_width


def column_widths(query: Any, max_width: int) -> list[int]:
    """Fixed widths for rows printed before all of them are known (Flink's tableau does the
    same from the types)."""
    columns: list[str] = list(query.columns)
    types: list[str] = []
    plan = getattr(query, "plan", None)
    try:
        types = [f.type for f in plan.sinks[0].schema] if plan is not None else []
    except (AttributeError, IndexError):
        types = []
    if len(types) != len(columns):
        types = ["STRING"] * len(columns)
    return [max(len(c), _type_width(t, max_width)) for c, t in zip(columns, types)]


class TableauPrinter:
    """Rows as the lines of a boxed table that grows downwards, with their row kind."""

    def __init__(self, columns: Sequence[str], widths: Sequence[int], width: int | None = None) -> None:
        self.columns = list(columns)
        self.widths = [2, *widths]
        self.width = width

    def _fit(self, line: str) -> str:
        return fit_line(line, self.width)

    def border(self) -> str:
        return self._fit("+" + "+".join("-" * (w + 2) for w in self.widths) + "+")

    def line(self, cells: Sequence[str], right: Sequence[bool]) -> str:
        out = []
        for text, w, r in zip(cells, self.widths, right):
            if len(text) > w:
                text = text[: max(w - 3, 1)] + "..."
            out.append(text.rjust(w) if r else text.ljust(w))
        return self._fit("| " + " | ".join(out) + " |")

    def header(self) -> list[str]:
        return [
            self.border(),
            self.line(["op", *self.columns], [False] * (len(self.columns) + 1)),
            self.border(),
        ]

    def row(self, kind: int, row: Sequence[Any]) -> str:
        cells = [ROW_KINDS[kind], *(format_value(v) for v in row)]
        right = [False, *(isinstance(v, int | float) and not isinstance(v, bool) for v in row)]
        return self.line(cells, right)


def fit_line(line: str, width: int | None) -> str:
    """Cut a line to the terminal's width (narrow terminals truncate, never wrap).

    >>> fit_line("abcdefgh", 5)
    'abcd>'
    """
    if width is None or len(line) <= width:
        return line
    return line[: max(width - 1, 0)] + ">"


def stream_lines(
    query: RunningQuery,
    mode: str,
    out: TextIO,
    stop: threading.Event,
    max_width: int = 30,
    width: int | None = None,
) -> int:
    """Print a query's changelog as it arrives, until it ends or ``stop`` is set; returns
    the number of rows printed. ``mode`` is ``changelog`` (``+I[a, 1]`` lines) or
    ``tableau`` (a growing table with an ``op`` column)."""
    count = 0
    printer = TableauPrinter(query.columns, column_widths(query, max_width), width)
    if mode == "tableau":
        for line in printer.header():
            print(line, file=out)
    else:
        print(fit_line(" | ".join(["op", *query.columns]), width), file=out)
    out.flush()
    for kind, row in query.changelog(stop):
        text = (
            printer.row(kind, row) if mode == "tableau" else fit_line(render_changelog_row(kind, row), width)
        )
        print(text, file=out, flush=True)
        count += 1
    if mode == "tableau":
        print(printer.border(), file=out)
    return count


# ---- table mode: a full-screen view updated in place ---------------------------------------
@dataclass
class LiveOutcome:
    rows: list[tuple[Any, ...]]
    stats: LiveStats
    error: BaseException | None = None
    stopped: bool = False  # the user stopped it (rather than the query ending)


class LiveTable:
    """A continuously updated table of a query's result with a status bar; Ctrl-C, q or
    Esc stops the query. A reader thread applies the changelog; the screen redraws a few
    times a second from the materialized rows.

    For a bounded result too long for the screen (``bounded``, psql's pager), the view
    starts at the first row and stays open once the rows are all there, until q closes it;
    ``table`` and ``changes`` are then the rows already read and the rest of the changelog."""

    def __init__(
        self,
        query: RunningQuery,
        stop: threading.Event,
        max_rows: int = 1_000_000,
        max_width: int = 30,
        input: Input | None = None,
        output: Output | None = None,
        refresh: float = 0.25,
        metrics: Callable[[], dict[str, Any]] | None = None,
        bounded: bool = False,
        table: MaterializedTable | None = None,
        changes: Iterator[tuple[int, tuple[Any, ...]]] | None = None,
    ) -> None:
        self.query = query
        self.stop = stop
        self.bounded = bounded
        self.table = table if table is not None else MaterializedTable(max_rows=max_rows)
        self.changes = changes
        self.max_width = max_width
        self.stats = LiveStats()
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.follow = not bounded  # keep the newest rows in view until the user scrolls
        self.offset = 0
        self._lock = threading.Lock()
        self._metrics = metrics or (lambda: _query_metrics(query))
        self._started = time.monotonic()
        self._stopped_by_user = False
        self._widths: list[int] = []
        self.app: Application[None] = Application(
            layout=Layout(
                HSplit(
                    [
                        Window(FormattedTextControl(self._table_text), wrap_lines=False),
                        Window(FormattedTextControl(self._status_text), height=1, style="class:status"),
                    ]
                )
            ),
            key_bindings=self._bindings(),
            full_screen=True,
            refresh_interval=refresh,
            style=Style.from_dict({"status": "reverse", "header": "bold"}),
            input=input,
            output=output,
        )

    # reading ------------------------------------------------------------------------------
    def _read(self) -> None:
        changes = self.changes if self.changes is not None else self.query.changelog(self.stop)
        try:
            for kind, row in changes:
                with self._lock:
                    self.table.apply(kind, row)
                    self.stats.rows += 1
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()

    async def _watch(self) -> None:
        import asyncio

        while not self.done.is_set():
            await asyncio.sleep(0.05)
        if self.bounded and self.error is None:
            self.stats.state = "all rows"  # the view stays, to be read, until q
            return
        self.app.exit()

    # drawing ------------------------------------------------------------------------------
    def _visible_height(self) -> int:
        try:
            rows = self.app.output.get_size().rows
        except Exception:
            rows = 24
        return max(rows - 4, 1)  # header, rule, status bar

    def _table_text(self) -> StyleAndTextTuples:
        height = self._visible_height()
        with self._lock:
            rows = self.table.rows
        total = len(rows)
        if self.follow:
            self.offset = max(total - height, 0)
        self.offset = min(max(self.offset, 0), max(total - height, 0))
        visible = rows[self.offset : self.offset + height]
        columns = list(self.query.columns)
        cells = [[format_value(v, self.max_width) for v in row] for row in visible]
        widths = self._widths or [len(c) for c in columns]
        for row_cells in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row_cells)]
        self._widths = widths  # columns only grow, so they do not jump as values change
        numeric = [False] * len(columns)
        if visible:
            numeric = [isinstance(v, int | float) and not isinstance(v, bool) for v in visible[-1]]
        header = " " + " | ".join(c.ljust(w) for c, w in zip(columns, widths))
        rule = "-" + "-+-".join("-" * w for w in widths) + "-"
        lines: StyleAndTextTuples = [("class:header", header + "\n"), ("", rule + "\n")]
        for row_cells in cells:
            text = " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row_cells, widths, numeric))
            lines.append(("", " " + text + "\n"))
        return lines

    def _status_text(self) -> str:
        update_from_metrics(self.stats, self._metrics())
        with self._lock:
            self.stats.shown = len(self.table)
        self.stats.seconds = time.monotonic() - self._started
        return live_status(self.stats)

    # keys ---------------------------------------------------------------------------------
    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()

        @kb.add("c-c")
        @kb.add("q")
        @kb.add("escape", eager=True)
        def _stop(event: KeyPressEvent) -> None:
            self._stopped_by_user = not self.done.is_set()  # q on a finished result only closes
            self.stop.set()
            event.app.exit()

        def scroll(delta: int) -> None:
            height = self._visible_height()
            with self._lock:
                total = len(self.table)
            self.offset = min(max(self.offset + delta, 0), max(total - height, 0))
            self.follow = self.offset >= max(total - height, 0)

        @kb.add("up")
        def _up(event: KeyPressEvent) -> None:
            scroll(-1)

        @kb.add("down")
        def _down(event: KeyPressEvent) -> None:
            scroll(1)

        @kb.add("pageup")
        def _pgup(event: KeyPressEvent) -> None:
            scroll(-self._visible_height())

        @kb.add("pagedown")
        def _pgdn(event: KeyPressEvent) -> None:
            scroll(self._visible_height())

        @kb.add("home")
        def _home(event: KeyPressEvent) -> None:
            self.follow = False
            self.offset = 0

        @kb.add("end")
        def _end(event: KeyPressEvent) -> None:
            self.follow = True

        return kb

    # running ------------------------------------------------------------------------------
    def run(self) -> LiveOutcome:
        """Show the view until the query ends or the user stops it; the query is closed."""
        reader = threading.Thread(target=self._read, name="sqlstream-live", daemon=True)
        reader.start()
        try:

            def start_watching() -> None:
                self.app.create_background_task(self._watch())

            self.app.run(pre_run=start_watching)
        finally:
            self.stop.set()
            self.query.close()
            reader.join(timeout=15)
        with self._lock:
            rows = list(self.table.rows)
        self.stats.shown = len(rows)
        self.stats.seconds = time.monotonic() - self._started
        stopped = self._stopped_by_user
        self.stats.state = "failed" if self.error else ("stopped" if stopped else "finished")
        return LiveOutcome(rows, self.stats, self.error, stopped)
