"""The shell's loop: read a buffer, split it into statements and meta commands, run them,
show their results; jobs keep running in the background while the user types.

``run_repl(session, debug)`` is what ``sqlstream`` calls when stdin is a terminal. Tests
build a ``Shell`` on prompt-toolkit's pipe input and ``DummyOutput`` instead.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.styles import Style, merge_styles, style_from_pygments_cls
from pygments.style import Style as PygmentsStyle
from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound

import planner
from catalog import Catalog
from catalog.config import MAX_COLUMN_WIDTH, MAX_TABLE_RESULT_ROWS, RESULT_MODE
from catalog.errors import SqlStreamError
from planner.statements import Statement
from sqlstream.config import Config
from sqlstream.errors import format_error
from sqlstream.jobs import JobManager
from sqlstream.render import render_table
from sqlstream.repl.commands import RESULT_MODE_KEY, Action, Settings, command_names, run_command
from sqlstream.repl.completer import Metadata, SqlCompleter, metadata_from_session
from sqlstream.repl.keybindings import build_key_bindings
from sqlstream.repl.lexer import lexer
from sqlstream.repl.live import LiveTable, MaterializedTable, collect, fit_line, stream_lines
from sqlstream.repl.submit import PieceKind, scan, should_submit, split
from sqlstream.repl.toolbar import ShellState, prompt_toolbar
from sqlstream.results import Result, ResultKind

PROMPT = "sqlstream> "
CONTINUATION = "        -> "
# Rows of a stopped live table printed back to the terminal once the view closes.
FINAL_ROWS_SHOWN = 100

STYLE = Style.from_dict(
    {
        "prompt": "ansigreen bold",
        "continuation": "ansigreen",
        "bottom-toolbar": "noreverse bg:#303030 #bbbbbb",
        "bottom-toolbar.key": "#bbbbbb",
        "bottom-toolbar.jobs": "ansiyellow bold",
    }
)


def history_path() -> Path:
    """``$SQLSTREAM_HISTORY``, else ``~/.sqlstream_history``."""
    env = os.environ.get("SQLSTREAM_HISTORY")
    return Path(env).expanduser() if env else Path.home() / ".sqlstream_history"


def pygments_style() -> type[PygmentsStyle]:
    """The highlighting colours: Pygments' style named by ``$SQLSTREAM_STYLE`` (e.g.
    ``monokai`` on a dark terminal), else ``default``, which reads on light and dark ones."""
    try:
        return get_style_by_name(os.environ.get("SQLSTREAM_STYLE", "default"))
    except ClassNotFound:
        return get_style_by_name("default")


def open_history(path: Path) -> tuple[History, str | None]:
    """The history file, or (when it cannot be written) one in memory and a warning."""
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        return InMemoryHistory(), f"history is not saved: cannot write {path} ({e.strerror})"
    return FileHistory(str(path)), None


class ShellSession(Protocol):
    """What the shell uses of a ``sqlstream.Session``: run one parsed statement, and read
    the catalog, configuration and jobs (for completion, the toolbar and job notices)."""

    catalog: Catalog
    config: Config
    jobs: JobManager

    def execute_statement(self, s: Statement) -> Result: ...


def buffer_hint(text: str) -> str | None:
    """A word for the toolbar about what is being typed.

    >>> buffer_hint("BEGIN STATEMENT SET; INSERT INTO a SELECT * FROM b;")
    'statement set: END; runs it'
    """
    if text and scan(text).in_statement_set:
        return "statement set: END; runs it"
    return None


class Shell:
    """One interactive session: a prompt over a ``Session``."""

    def __init__(
        self,
        session: ShellSession,
        debug: bool = False,
        input: Input | None = None,
        output: Output | None = None,
        stdout: TextIO | None = None,
        history: History | None = None,
        width: int | None = None,
    ) -> None:
        self.session = session
        self.debug = debug
        self.out = stdout or sys.stdout
        self.settings = Settings()
        self._width = width
        self._last_sql = ""
        self._reported_jobs: set[str] = set()
        self._report_lock = threading.Lock()
        self._at_prompt = threading.Event()
        self._closed = threading.Event()
        self._interactive = input is None  # a real terminal (not a test's pipe)
        self._live_input, self._live_output = input, output
        self._history_warning: str | None = None
        if history is None:
            history, self._history_warning = open_history(history_path())
        self.metadata: Metadata = Metadata()
        self.refresh_metadata()
        self.prompt: PromptSession[str] = PromptSession(
            message=[("class:prompt", PROMPT)],
            multiline=True,
            prompt_continuation=lambda width, line, wrap: [("class:continuation", CONTINUATION)],
            lexer=lexer(),
            completer=SqlCompleter(lambda: self.metadata),
            complete_while_typing=True,
            auto_suggest=AutoSuggestFromHistory(),
            history=history,
            key_bindings=build_key_bindings(should_submit),
            bottom_toolbar=self._toolbar,
            enable_open_in_editor=True,
            enable_history_search=False,
            search_ignore_case=True,
            style=merge_styles([style_from_pygments_cls(pygments_style()), STYLE]),
            include_default_pygments_style=False,
            refresh_interval=1.0 if self._interactive else 0,
            input=input,
            output=output,
        )

    # ---- small helpers (also the CommandContext interface) ------------------------------
    def echo(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @property
    def width(self) -> int | None:
        if self._width is not None:
            return self._width
        try:
            return int(self.prompt.app.output.get_size().columns)
        except Exception:
            return None

    def set_config(self, key: str, value: str) -> None:
        warning = self.session.config.set(key, value)
        if warning:
            self.echo(f"[WARNING] {warning}")

    def get_config(self, key: str) -> str:
        try:
            return str(self.session.config[key])
        except KeyError:
            return ""

    def last_statement(self) -> str:
        return self._last_sql

    def edit(self, text: str) -> str | None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            f.write(text + ("\n" if text else ""))
            path = f.name
        try:
            code = subprocess.call([*shlex.split(editor), path])
            if code != 0:
                self.echo(f"Error: the editor ({editor}) exited with status {code}")
                return None
            return Path(path).read_text()
        except OSError as e:
            self.echo(f"Error: cannot start the editor '{editor}': {e.strerror}; set $EDITOR")
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def refresh_metadata(self) -> None:
        """Swap in a fresh completion snapshot (after DDL, or a new job)."""
        try:
            self.metadata = metadata_from_session(self.session, command_names())
        except Exception:
            if self.debug:
                traceback.print_exc()

    def _toolbar(self) -> StyleAndTextTuples:
        running = late = 0
        with contextlib.suppress(Exception):
            live = [h for h in self.session.jobs.all() if not h.done]
            running = len(live)
            late = sum(int(h.metrics().get("late_rows_dropped", 0)) for h in live)
        hint = None
        with contextlib.suppress(Exception):
            hint = buffer_hint(self.prompt.default_buffer.text)
        return prompt_toolbar(
            ShellState(
                self.get_config(RESULT_MODE_KEY),
                running,
                self.settings.timing,
                self.settings.output_path,
                hint,
                late,
            )
        )

    @property
    def results_out(self) -> TextIO:
        return self.settings.output or self.out

    def _emit(self, text: str) -> None:
        """Results: to the ``\\o`` file, or to the terminal cut to its width."""
        if self.settings.output is not None:
            print(text, file=self.settings.output, flush=True)
            return
        width = self.width
        print("\n".join(fit_line(line, width) for line in text.split("\n")), file=self.out, flush=True)

    # ---- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        self.echo(
            "sqlstream shell: Flink SQL over streams. End statements with ';'. \\? for help, \\q to quit."
        )
        if self._history_warning:
            self.echo(f"[WARNING] {self._history_warning}")
        if self._interactive:
            threading.Thread(target=self._watch_jobs, name="sqlstream-job-watch", daemon=True).start()
        while True:
            self.report_finished_jobs()
            default, self.settings.next_input = self.settings.next_input, ""
            try:
                with self._patched_stdout():
                    self._at_prompt.set()
                    try:
                        text = self.prompt.prompt(default=default)
                    finally:
                        self._at_prompt.clear()
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line, as in psql
            except EOFError:
                break
            if self.run_text(text) == Action.QUIT:
                break
        self.close()
        return 0

    def _watch_jobs(self) -> None:
        """While the user types, say when a background job ends (printed above the prompt)."""
        while not self._closed.wait(0.5):
            if self._at_prompt.is_set():
                self.report_finished_jobs(sys.stdout)  # patched: lands above the prompt

    @contextlib.contextmanager
    def _patched_stdout(self) -> Iterator[None]:
        """Print-sink rows of background jobs appear above the prompt, not inside it."""
        if self._interactive:
            with patch_stdout(raw=True):
                yield
        else:
            yield

    def close(self) -> None:
        self._closed.set()
        if self.settings.output is not None:
            self.settings.output.close()
            self.settings.output = None
        with contextlib.suppress(Exception):
            running = [h for h in self.session.jobs.all() if not h.done]
            if running:
                self.echo(f"Stopping {len(running)} running job{'s' if len(running) != 1 else ''}...")
        self.echo("Goodbye!")

    def report_finished_jobs(self, out: TextIO | None = None) -> None:
        """Say once when a background job finished or failed."""
        out = out or self.out
        with self._report_lock, contextlib.suppress(Exception):
            for h in self.session.jobs.all():
                if h.id in self._reported_jobs or not h.done:
                    continue
                self._reported_jobs.add(h.id)
                if h.error is not None:
                    text = f"[ERROR] Job '{h.id}' ({h.name}) failed:\n{format_error(h.error, h.sql)}"
                else:
                    text = f"[INFO] Job '{h.id}' ({h.name}) {h.status.lower()}: {h.rows_out} rows written."
                print(text, file=out, flush=True)

    def run_text(self, text: str, filename: str | None = None) -> Action:
        """Run every statement and meta command of a submitted buffer (or a file), in order;
        stops at the first failing statement."""
        pieces = split(text)
        for i, piece in enumerate(pieces):
            if piece.kind == PieceKind.META:
                try:
                    if run_command(self, piece.text) == Action.QUIT:
                        return Action.QUIT
                except KeyboardInterrupt:
                    self.echo("Cancelled.")
                    return Action.CONTINUE
                continue
            self._last_sql = piece.text  # what \e edits: the user's statement, not a command's
            if not self.run_statement(piece.text, filename, piece.line, piece.col, text):
                left = len(pieces) - i - 1
                if left:
                    self.echo(f"[INFO] {left} more statement{'s' if left != 1 else ''} not run.")
                return Action.CONTINUE
        return Action.CONTINUE

    # CommandContext
    def run_sql(self, text: str) -> bool:
        return all(self.run_statement(p.text) for p in split(text) if p.kind == PieceKind.SQL)

    def run_file(self, path: str) -> bool:
        try:
            text = Path(path).expanduser().read_text()
        except OSError as e:
            self.echo(f"Error: cannot read {path}: {e.strerror}")
            return False
        for piece in split(text):
            if piece.kind == PieceKind.META:
                if run_command(self, piece.text) == Action.QUIT:
                    return True
            elif not self.run_statement(piece.text, path, piece.line, piece.col, text):
                return False
        return True

    # ---- one statement -----------------------------------------------------------------------
    def run_statement(
        self, sql: str, filename: str | None = None, line: int = 1, col: int = 1, source: str | None = None
    ) -> bool:
        """Parse, run and show one statement; errors are shown, never raised. ``source`` is the
        buffer or file the statement starts in at ``line``/``col``, for the error's caret."""
        started = time.perf_counter()
        ok = True
        try:
            for statement in planner.parse(sql):
                result = self.session.execute_statement(statement)
                self.show(result)
        except KeyboardInterrupt:
            self.echo("Cancelled.")
            ok = False
        except Exception as e:
            if self.debug:
                traceback.print_exception(e, file=self.out)
            if source is None:
                self.echo(format_error(e, sql, filename))
            else:
                self.echo(format_error(_moved(e, line, col), source, filename))
            ok = False
        if self.settings.timing:
            self.echo(f"Time: {(time.perf_counter() - started) * 1000:.3f} ms")
        self.refresh_metadata()
        return ok

    def show(self, result: Result) -> None:
        for w in result.warnings:
            self.echo(f"[WARNING] {w}")
        if result.kind == ResultKind.OK:
            self.echo(f"[INFO] {result.message}")
        elif result.kind == ResultKind.TABLE:
            self._emit(render_table(result.columns, result.rows, self._max_width(), result.full_width))
        elif result.kind == ResultKind.TEXT:
            self._emit(result.message.rstrip("\n"))
        elif result.kind == ResultKind.JOB:
            self.echo(f"[INFO] {result.message}")
            if result.job is not None:
                self.echo(f"[INFO] SHOW JOBS lists it; STOP JOB '{result.job.id}' stops it.")
        elif result.kind == ResultKind.QUERY and result.query is not None:
            self.show_query(result.query)

    def _max_width(self) -> int:
        return MAX_COLUMN_WIDTH.get(self.session.config)

    def show_query(self, query: Any) -> None:
        """A bounded query's rows as a table; an unbounded one live, in the result mode."""
        stop = threading.Event()
        mode = RESULT_MODE.get(self.session.config)
        max_width = self._max_width()
        try:
            with _interrupt_sets(stop):
                if query.bounded and self._pages():
                    self._bounded_table(query, stop, max_width)
                elif query.bounded:
                    rows = collect(query, stop)
                    self._emit(render_table(query.columns, rows, max_width))
                    if stop.is_set():
                        self.echo("[INFO] Query stopped; the rows so far are shown.")
                elif self.settings.output is not None:
                    self.echo(f"[INFO] Writing rows to {self.settings.output_path}; Ctrl-C stops the query.")
                    n = stream_lines(query, "changelog" if mode == "changelog" else "tableau",
                                     self.settings.output, stop, max_width)  # fmt: skip
                    self.echo(f"[INFO] Query stopped after {n} rows.")
                elif mode == "table":
                    self._live_table(query, stop, max_width)
                else:
                    n = stream_lines(query, mode, self.out, stop, max_width, self.width)
                    self.echo(
                        f"[INFO] Query {'stopped' if stop.is_set() else 'finished'}: {n} rows received."
                    )
        finally:
            query.close()

    def _pages(self) -> bool:
        """Whether results go to a screen (not a ``\\o`` file or a pipe), where a long
        bounded result opens the table view, as psql pages what exceeds the screen."""
        if self.settings.output is not None:
            return False
        return self._live_output is not None or self.out.isatty()

    def _screen_rows(self) -> int:
        output = self._live_output or self.prompt.app.output
        try:
            return int(output.get_size().rows)
        except Exception:
            return 24

    def _bounded_table(self, query: Any, stop: threading.Event, max_width: int) -> None:
        """A bounded result that fits the screen is printed; a longer one opens the
        scrollable table view at its first row (q closes it) instead of printing millions of
        rows, and only a line saying how many goes to the terminal."""
        fits = self._screen_rows() - 5  # the table's borders, header and row count, a prompt
        table = MaterializedTable(max_rows=MAX_TABLE_RESULT_ROWS.get(self.session.config))
        changes = query.changelog(stop)
        for kind, row in changes:
            table.apply(kind, row)
            if len(table) > fits:
                break
        else:
            self._emit(render_table(query.columns, table.rows, max_width))
            if stop.is_set():
                self.echo("[INFO] Query stopped; the rows so far are shown.")
            return
        view = LiveTable(query, stop, max_width=max_width, input=self._live_input, output=self._live_output,
                         bounded=True, table=table, changes=changes)  # fmt: skip
        outcome = view.run()
        if outcome.error is not None:
            raise outcome.error
        n = len(outcome.rows)
        if outcome.stopped:
            self.echo(f"[INFO] Query stopped: {n:,} rows read, shown in the table view.")
        else:
            self.echo(f"[INFO] {n:,} rows in set, shown in the table view.")
        if table.dropped:
            self.echo(f"[INFO] {table.dropped:,} earlier rows were not kept ({MAX_TABLE_RESULT_ROWS.name}).")

    def _live_table(self, query: Any, stop: threading.Event, max_width: int) -> None:
        max_rows = MAX_TABLE_RESULT_ROWS.get(self.session.config)
        view = LiveTable(query, stop, max_rows=max_rows, max_width=max_width,
                         input=self._live_input, output=self._live_output)  # fmt: skip
        outcome = view.run()
        rows = outcome.rows
        shown = rows[-FINAL_ROWS_SHOWN:]
        if rows:
            self._emit(render_table(query.columns, shown, max_width))
            if len(rows) > len(shown):
                self.echo(f"({len(rows) - len(shown)} earlier rows not shown)")
        if outcome.error is not None:
            raise outcome.error
        s = outcome.stats
        self.echo(f"[INFO] Query {s.state}: {len(rows)} rows, {s.rows} changes in {s.seconds:.1f} s.")


def _moved(error: BaseException, line: int, col: int) -> BaseException:
    """An error positioned within a statement, moved to where that statement starts in the
    buffer or file it came from (line and column are 1-based)."""
    if isinstance(error, SqlStreamError) and error.line is not None:
        if error.line == 1 and error.col is not None:
            error.col += col - 1
        error.line += line - 1
    return error


@contextlib.contextmanager
def _interrupt_sets(stop: threading.Event) -> Iterator[None]:
    """While a query runs, Ctrl-C (SIGINT) sets ``stop`` instead of raising anywhere."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_repl(session: ShellSession, debug: bool = False) -> int:
    """The interactive shell over ``session``; returns the exit code."""
    return Shell(session, debug=debug).run()
