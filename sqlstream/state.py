"""Querying a job's state: ``sqlstream state PATH|JOB [SQL]``, ``SHOW STATE FOR JOB``,
``SELECT ... FROM STATE('job', 'operator')`` and the shell's ``\\state``.

State is read from a checkpoint (or savepoint) on disk, never from the running
operators, so looking costs the job nothing and what is shown is a consistent cut: the
state as the newest checkpoint recorded it (``runtime/state/inspect.py`` builds the
views). A job is named by its id in this session, or by its ``pipeline.name`` (its
checkpoints under ``state.checkpoints.dir``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from sqlglot import exp

from catalog.config import CHECKPOINTS_DIR
from catalog.errors import SqlStreamError
from runtime.checkpoint.storage import METADATA
from runtime.checkpoint.store import is_object_store, open_store
from runtime.state.inspect import StateReader, newest
from sqlstream.render import render_table

OPERATOR_COLUMNS = ["operator id", "operator", "view", "parallelism", "rows", "bytes", "checkpoint"]
Locate = Callable[[str], str]  # a job id or name -> its newest checkpoint folder


def locate(target: str, config: Mapping[str, str]) -> str:
    """A checkpoint folder from what the user typed: a folder (a checkpoint, a savepoint,
    its ``_metadata``, or a job's folder of checkpoints), the same in an object store
    (``s3://...``, with the ``s3.*`` settings in ``config``), or a ``pipeline.name``."""
    if is_object_store(target):
        store = open_store(target, config)
        location = target.rstrip("/")
        if location.endswith("/" + METADATA) or store.is_file(store.join(location, METADATA)):
            return location
        parent, _, name = location.rpartition("/")
        return newest(parent, name, config)  # a job's folder: its newest
    path = Path(target)
    if path.exists():
        if path.is_dir() and not (path / METADATA).is_file() and path.name != METADATA:
            return newest(path.parent, path.name)  # a job's folder: its newest
        return str(path)
    return newest(CHECKPOINTS_DIR.get(config) or "checkpoints", target, config)


def open_newest(resolve: Callable[[], str], config: Mapping[str, str], attempts: int = 5) -> StateReader:
    """Open the newest checkpoint ``resolve`` names. A running job deletes a checkpoint
    once a newer one completes (``state.checkpoints.num-retained``), possibly while it is
    being opened: then the newer one is opened instead."""
    path = resolve()
    for attempt in range(attempts):
        try:
            return StateReader.open(path, config)
        except Exception:
            newer = resolve()
            if newer == path or attempt == attempts - 1:
                raise
            path = newer
    raise AssertionError("unreachable")


def operator_rows(reader: StateReader) -> list[tuple[object, ...]]:
    n = reader.meta.checkpoint_id
    return [(o.id, o.name, o.view, o.parallelism, o.rows, o.bytes, n) for o in reader.operators()]


def state_calls(query: Any) -> list[exp.Table]:
    """The ``STATE('job', 'operator')`` table functions of a query."""
    return [
        t
        for t in query.find_all(exp.Table)
        if isinstance(t.this, exp.Anonymous) and str(t.this.this).upper() == "STATE"
    ]


def run_state_query(
    query: Any, find: Locate, config: Mapping[str, str]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a SELECT whose FROM names ``STATE('job', 'operator')`` over that job's newest
    checkpoint, in DuckDB (a bounded query over files, not a streaming job)."""
    calls = state_calls(query)
    args: list[tuple[str, str]] = []
    for call in calls:
        values = call.this.expressions
        if len(values) != 2 or not all(isinstance(v, exp.Literal) and v.is_string for v in values):
            raise SqlStreamError(
                "STATE takes two quoted arguments: the job and the operator",
                hint="SELECT * FROM STATE('<job id or pipeline.name>', '<operator or view>')",
            )
        args.append((values[0].this, values[1].this))
    jobs = {job for job, _ in args}
    if len(jobs) != 1:
        named = ", ".join(sorted(jobs))
        raise SqlStreamError("one query reads the state of one job", hint=f"jobs named: {named}")
    tree = query.copy()
    job = jobs.pop()
    with open_newest(lambda: find(job), config) as reader:
        for call, (_, operator) in zip(state_calls(tree), args):
            view = exp.Table(this=exp.to_identifier(reader.view_of(operator), quoted=True))
            if call.alias:
                view.set("alias", call.args.get("alias"))
            call.replace(view)
        return reader.sql(tree.sql(dialect="duckdb"))


def run_state_command(target: str, query: str | None, config: Mapping[str, str], out: TextIO) -> int:
    """``sqlstream state PATH|JOB [SQL]``: print the query's table, or open a shell."""
    reader = StateReader.open(locate(target, config), config)
    try:
        if query:
            columns, rows = reader.sql(query)
            if columns:
                print(render_table(columns, rows), file=out)
            return 0
        return state_shell(reader, sys.stdin, out)
    finally:
        reader.close()


HELP = """\
Checkpoint {id} of job '{job}' ({path}), read-only. SQL ends with ';'.
  \\d       the views (one per stateful operator; checkpoint, source_positions, sink_transactions)
  \\state   the stateful operators with their rows and bytes
  \\q       quit"""


def state_shell(reader: StateReader, stdin: TextIO, out: TextIO) -> int:
    """A small line shell over a checkpoint's views (stdin may be a pipe: a script)."""
    interactive = stdin.isatty()
    m = reader.meta
    print(HELP.format(id=m.checkpoint_id, job=m.job_name, path=reader.folder), file=out)
    buffer: list[str] = []
    failed = 0
    while True:
        if interactive:
            out.write("state> " if not buffer else "    -> ")
            out.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not buffer and text in ("\\q", "quit", "exit"):
            break
        if not buffer and text in ("\\d", "\\dt"):
            print(render_table(["view"], [(v,) for v in reader.views()]), file=out)
            continue
        if not buffer and text == "\\state":
            print(render_table(OPERATOR_COLUMNS, operator_rows(reader)), file=out)
            continue
        buffer.append(line)
        if not text.endswith(";"):
            continue
        sql = "".join(buffer).strip().rstrip(";")
        buffer = []
        try:
            columns, rows = reader.sql(sql)
        except SqlStreamError as e:
            print(f"Error: {e.message}", file=out)
            failed += 1
            continue
        if columns:
            print(render_table(columns, rows), file=out)
    return 1 if failed and not interactive else 0
