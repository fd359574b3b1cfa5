"""The ``sqlstream`` command.

    sqlstream                     the interactive shell (or run stdin when it is not a terminal)
    sqlstream run FILE.sql        run a script; bounded jobs to completion, unbounded until Ctrl-C
    sqlstream -f FILE.sql         the same (Flink's SQL client spelling)
    sqlstream explain FILE.sql    plan every INSERT/SELECT of a script and print EXPLAIN
    sqlstream -e "SQL"            run statements given on the command line
    sqlstream verify FILE.sql [--rows N] [--kills N] [--seed S] [--in-place] [--restart-service CMD]
                                  run the script over a bounded slice of its sources into
                                  shadow sinks, cleanly and under SIGKILLs, and compare
    sqlstream state PATH|JOB [SQL]
                                  query a checkpoint or savepoint (a job's newest, by
                                  pipeline.name) read-only in DuckDB; no SQL: a small shell
    sqlstream stop [--savepoint] PID
                                  stop a running 'sqlstream run' (SIGTERM); with --savepoint
                                  it first takes a savepoint (SIGUSR1) and prints its path
    sqlstream cdc-drop FILE.sql [TABLE]
                                  drop the replication slots (and the publications sqlstream
                                  created) of the script's postgres-cdc tables
    sqlstream run --web PORT FILE.sql
                                  also serve the job dashboard and Flink's REST API on PORT
                                  (same as -D rest.port=PORT; rest.bind-address: 127.0.0.1)
    sqlstream run --target ray [--ray-address HOST:PORT] FILE.sql
                                  run each subtask as a Ray actor on that cluster (a new
                                  local Ray instance without an address); docs/ray.md

Checkpoints: a job of ``sqlstream run`` with ``execution.checkpointing.interval`` set
resumes from the newest complete checkpoint of its ``pipeline.name`` under
``state.checkpoints.dir`` unless ``--fresh``; ``--from-checkpoint PATH`` /
``--from-savepoint PATH`` name one (same as SET 'execution.savepoint.path'). A running
``sqlstream run`` that receives SIGUSR1 stops its jobs with a savepoint each and prints
where they are.

Info goes to stderr, results and print-sink rows to stdout, so ``> out.txt`` keeps data only.
Exit code: 0 when every statement and job succeeded, 1 otherwise, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

import planner
from catalog.config import (
    CHECKPOINT_RESUME,
    EXECUTION_TARGET,
    PARALLELISM,
    RAY_ADDRESS,
    REST_PORT,
    SAVEPOINT_PATH,
)
from catalog.errors import SqlStreamError
from planner import statements as st
from planner.explain import explain_plan
from runtime.state.compat import compatibility_text
from sqlstream.errors import format_error
from sqlstream.jobs import JobHandle
from sqlstream.render import render_changelog_row, render_table
from sqlstream.results import Result, ResultKind
from sqlstream.session import Session, connect
from sqlstream.state import run_state_command


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop jobs cleanly."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sqlstream",
        description="A streaming SQL engine: Flink SQL, event time, exactly-once sinks.",
    )
    p.add_argument("-f", "--file", help="run the statements of FILE and exit")
    p.add_argument("-e", "--execute", metavar="SQL",
                   help="run these statements and exit (after FILE's, with -f)")
    p.add_argument("--catalog", metavar="PATH", help="keep tables in this DuckDB file")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="KEY=VALUE",
                   help="set a configuration key, like SET 'KEY' = 'VALUE'")  # fmt: skip
    p.add_argument("--parallelism", type=int, help="same as -D parallelism.default=N")
    p.add_argument("--target", choices=["local", "ray"],
                   help="where the job's subtasks run: local (default) or ray, one Ray actor each "
                   "(same as -D execution.target=...)")
    p.add_argument("--ray-address", metavar="HOST:PORT",
                   help="the Ray cluster of --target ray (same as -D ray.address=...); "
                   "default: a Ray instance started on this machine")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    p.add_argument("--fresh", action="store_true",
                   help="run: do not resume from the newest checkpoint of the job")
    p.add_argument("--from-checkpoint", metavar="PATH", help="run: resume from this checkpoint")
    p.add_argument("--from-savepoint", metavar="PATH", help="run: resume from this savepoint")
    p.add_argument("--savepoint", action="store_true", help="stop: take a savepoint first")
    p.add_argument("--rows", type=int, help="verify: rows to read from each source (datagen, Kafka)")
    p.add_argument("--kills", type=int, default=10, help="verify: SIGKILLs of the chaos run (default 10)")
    p.add_argument("--seed", type=int, default=1, help="verify: seed of the chaos schedule")
    p.add_argument("--in-place", action="store_true",
                   help="verify: the chaos run writes into the real sinks (the clean run into shadows)")
    p.add_argument("--crash-points", metavar="P,P", default="",
                   help="verify: kill only at these points (processing, alignment, async_snapshot, "
                   "pre_commit, before_commit, after_commit, timer); default: all")  # fmt: skip
    p.add_argument("--restart-service", metavar="CMD", action="append", default=[],
                   help="verify: a shell command that restarts a service the job uses (e.g. "
                   "'scripts/services restart kafka'), run once while the chaos run runs; "
                   "repeatable")  # fmt: skip
    p.add_argument("--web", type=int, metavar="PORT",
                   help="serve the job dashboard on PORT (0: any free), as -D rest.port=PORT")  # fmt: skip
    p.add_argument("command", nargs="?",
                   choices=["run", "explain", "shell", "stop", "state", "verify", "cdc-drop"],
                   help=argparse.SUPPRESS)  # fmt: skip
    p.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("query", nargs="?", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``sqlstream ... | head``): stop quietly, like other tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    config: dict[str, str] = {}
    for item in args.defines:
        if "=" not in item:
            print(f"Error: -D takes KEY=VALUE, got '{item}'", file=sys.stderr)
            return 2
        key, value = item.split("=", 1)
        config[key.strip()] = value.strip()
    if args.parallelism:
        config[PARALLELISM.name] = str(args.parallelism)
    if args.web is not None:
        config[REST_PORT.name] = str(args.web)
    if args.target:
        config[EXECUTION_TARGET.name] = args.target
    if args.ray_address:
        config[RAY_ADDRESS.name] = args.ray_address
    if args.command == "stop":
        return stop_process(args.path, args.savepoint)
    if args.command == "state":
        return state_command(args.path, args.query, config, args.debug)
    if args.command == "verify":
        return verify(args, config)
    if args.command == "run" or args.file:
        restore_from = args.from_savepoint or args.from_checkpoint
        if restore_from:
            config[SAVEPOINT_PATH.name] = restore_from
        config.setdefault(CHECKPOINT_RESUME.name, "none" if args.fresh else "latest")
    try:
        session = connect(args.catalog, config)
    except SqlStreamError as e:
        print(format_error(e), file=sys.stderr)
        return 1
    if session.dashboard is not None:
        print(f"[INFO] Dashboard at {session.dashboard.url}", file=sys.stderr)
    try:
        if args.command == "cdc-drop":
            return cdc_drop(session, args.path, args.query, args.debug)
        if args.command in ("run", "explain") or args.file:
            path = args.path if args.command else args.file
            if not path:
                print(f"Error: 'sqlstream {args.command}' needs a FILE.sql", file=sys.stderr)
                return 2
            if args.command == "explain":
                restore = args.from_savepoint or args.from_checkpoint
                return explain_file(session, Path(path), restore, args.debug)
            code = run_file(session, Path(path), debug=args.debug)
            if code or not args.execute or args.command:
                return code
            # ``-f FILE -e SQL``: the file sets up, then the SQL runs (as psql runs -f and -c)
            return run_script(session, args.execute, None, debug=args.debug)
        if args.execute:
            return run_script(session, args.execute, None, debug=args.debug)
        if not sys.stdin.isatty():
            return run_script(session, sys.stdin.read(), "<stdin>", debug=args.debug)
        from sqlstream.repl import run_repl

        return run_repl(session, debug=args.debug)
    finally:
        session.close()


def state_command(target: str | None, query: str | None, config: dict[str, str], debug: bool) -> int:
    """``sqlstream state PATH|JOB [SQL]``."""
    if not target:
        print("Error: 'sqlstream state' needs a checkpoint folder or a job's pipeline.name",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        return run_state_command(target, query, config, sys.stdout)
    except BrokenPipeError:
        raise
    except Exception as e:
        _report(e, query, None, debug)
        return 1


def verify(args: argparse.Namespace, config: dict[str, str]) -> int:
    """``sqlstream verify FILE.sql``."""
    if not args.path:
        print("Error: 'sqlstream verify' needs a FILE.sql", file=sys.stderr)
        return 2
    from sqlstream.verify.command import VerifyOptions, verify_command

    options = VerifyOptions(
        rows=args.rows,
        kills=args.kills,
        seed=args.seed,
        points=tuple(p.strip() for p in args.crash_points.split(",") if p.strip()),
        in_place=args.in_place,
        restart_services=tuple(args.restart_service),
    )
    try:
        return verify_command(Path(args.path), options, config, sys.stdout)
    except BrokenPipeError:
        raise
    except Exception as e:
        _report(e, None, args.path, args.debug)
        return 1


def cdc_drop(session: Session, path: str | None, table: str | None, debug: bool) -> int:
    """``sqlstream cdc-drop FILE.sql [TABLE]``."""
    if not path:
        print("Error: 'sqlstream cdc-drop' needs the FILE.sql that declares the postgres-cdc tables",
              file=sys.stderr)  # fmt: skip
        return 2
    from sqlstream.cdc import cdc_drop_command

    try:
        return cdc_drop_command(session, Path(path), table, sys.stdout)
    except Exception as e:
        _report(e, None, path, debug)
        return 1


def stop_process(pid_text: str | None, savepoint: bool) -> int:
    """``sqlstream stop [--savepoint] PID``: signal a running ``sqlstream run``."""
    if not pid_text or not pid_text.isdigit():
        print("Error: 'sqlstream stop' needs the PID of a running 'sqlstream run'", file=sys.stderr)
        return 2
    try:
        os.kill(int(pid_text), signal.SIGUSR1 if savepoint else signal.SIGTERM)
    except ProcessLookupError:
        print(f"Error: no process {pid_text}", file=sys.stderr)
        return 1
    what = "take a savepoint and stop" if savepoint else "stop"
    print(f"[INFO] Asked process {pid_text} to {what}; it prints the savepoint's path.", file=sys.stderr)
    return 0


def run_file(session: Session, path: Path, explain_only: bool = False, debug: bool = False) -> int:
    try:
        text = path.read_text()
    except OSError as e:
        print(f"Error: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 1
    session.python_path.append(str(path.resolve().parent))  # CREATE FUNCTION finds modules beside it
    if explain_only:
        return explain_script(session, text, str(path), debug)
    return run_script(session, text, str(path), debug=debug)


def _report(error: BaseException, source: str | None, filename: str | None, debug: bool) -> None:
    if debug:
        traceback.print_exception(error)
    print(format_error(error, source, filename), file=sys.stderr)


def explain_file(session: Session, path: Path, restore: str | None, debug: bool) -> int:
    try:
        text = path.read_text()
    except OSError as e:
        print(f"Error: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 1
    return explain_script(session, text, str(path), debug, restore)


def explain_script(
    session: Session, text: str, filename: str, debug: bool = False, restore: str | None = None
) -> int:
    """Execute the DDL and SET statements of a script and EXPLAIN its INSERTs and queries;
    with ``restore`` (``--from-savepoint``), also say which operators' state carries over."""
    try:
        statements = planner.parse(text)
        for s in statements:
            if isinstance(s, st.Insert | st.StatementSet | st.Query):
                print(f"-- line {s.line}: {s.sql.splitlines()[0][:70]}")
                plan = planner.plan(s, session.catalog, session.config.effective())
                print(explain_plan(plan))
                if restore and not isinstance(s, st.Query):
                    print(compatibility_text(plan, restore))
            elif isinstance(s, st.Explain):
                print(planner.explain(s.statement, session.catalog, session.config.effective()))
            else:
                session.execute_statement(s)
    except BrokenPipeError:
        raise
    except Exception as e:
        _report(e, text, filename, debug)
        return 1
    return 0


def run_script(
    session: Session, text: str, filename: str | None, debug: bool = False, out: TextIO | None = None
) -> int:
    """Run a script statement by statement, then wait for the jobs it started."""
    out = out or sys.stdout
    try:
        statements = planner.parse(text)  # a syntax error anywhere runs nothing
    except BrokenPipeError:
        raise
    except Exception as e:
        _report(e, text, filename, debug)
        return 1
    jobs: list[JobHandle] = []
    stop = threading.Event()
    savepoint = threading.Event()
    previous = _install_signal_handlers(stop, savepoint)
    try:
        for s in statements:
            if stop.is_set():
                break
            try:
                result = session.execute_statement(s)
                _print_result(result, out, stop)
            except Stop:
                break
            except BrokenPipeError:
                raise
            except Exception as e:
                _report(e, text, filename, debug)
                _cancel(jobs)
                return 1
            if result.job is not None:
                jobs.append(result.job)
        return _wait_jobs(jobs, stop, debug, savepoint)
    finally:
        _restore_signal_handlers(previous)


def _print_result(result: Result, out: TextIO, stop: threading.Event) -> None:
    for w in result.warnings:
        print(f"[WARNING] {w}", file=sys.stderr)
    if result.kind == ResultKind.OK:
        print(f"[INFO] {result.message}", file=sys.stderr)
    elif result.kind == ResultKind.TABLE:
        print(render_table(result.columns, result.rows, full_width=result.full_width), file=out)
    elif result.kind == ResultKind.TEXT:
        print(result.message.rstrip("\n"), file=out)
    elif result.kind == ResultKind.JOB:
        print(f"[INFO] {result.message}", file=sys.stderr)
    elif result.kind == ResultKind.QUERY and result.query is not None:
        query = result.query
        try:
            if query.bounded:
                print(render_table(query.columns, query.fetchall()), file=out)
            else:
                print(" | ".join(["op", *query.columns]), file=out)
                for kind, row in query.changelog(stop):
                    print(render_changelog_row(kind, row), file=out, flush=True)
        finally:
            query.close()


def _wait_jobs(
    jobs: list[JobHandle], stop: threading.Event, debug: bool, savepoint: threading.Event | None = None
) -> int:
    failed = 0
    for job in jobs:
        told = False
        restarts_told = 0
        while not job.done:
            if restarts_told < len(job.restarts):
                for line in job.restarts[restarts_told:]:
                    print(f"[WARNING] Job '{job.id}' ({job.name}) failed and restarts from its newest "
                          f"checkpoint ({line})", file=sys.stderr)  # fmt: skip
                restarts_told, told = len(job.restarts), False
            if not told:
                told = _tell_restore(job)
            if stop.is_set():
                print("[INFO] Stopping: cancelling running jobs.", file=sys.stderr)
                _cancel(jobs)
                return 0
            if savepoint is not None and savepoint.is_set():
                savepoint.clear()
                failed += _stop_with_savepoints(jobs, debug)
            job.wait(timeout=0.2)
        if job.error is not None:
            failed += 1
            print(f"[ERROR] Job '{job.id}' ({job.name}) failed:", file=sys.stderr)
            _report(job.error, None, None, debug)
        elif job.status == "CANCELED":
            print(f"[INFO] Job '{job.id}' ({job.name}) stopped: {job.rows_out} rows written.",
                  file=sys.stderr)  # fmt: skip
        else:
            print(
                f"[INFO] Job '{job.id}' ({job.name}) finished: {job.rows_out} rows written.", file=sys.stderr
            )
    return 1 if failed else 0


def _tell_restore(job: JobHandle) -> bool:
    """Say once which checkpoint a job resumed from; True once there is nothing more to say."""
    if job.status == "CREATED":
        return False
    restored = job.metrics().get("checkpoints", {}).get("restored_from")
    if restored:
        print(f"[INFO] Job '{job.id}' ({job.name}) resumed from {restored}", file=sys.stderr)
    return True


def _stop_with_savepoints(jobs: list[JobHandle], debug: bool) -> int:
    """SIGUSR1: every running job takes a savepoint and stops; returns how many failed."""
    failed = 0
    for job in jobs:
        if job.done:
            continue
        try:
            path = job.stop_with_savepoint(timeout=600)
        except Exception as e:
            failed += 1
            print(f"[ERROR] Job '{job.id}' ({job.name}) could not take a savepoint:", file=sys.stderr)
            _report(e, None, None, debug)
            continue
        print(f"[INFO] Job '{job.id}' ({job.name}) stopped with a savepoint: {path}", file=sys.stderr)
        print(f"[INFO] Resume with: sqlstream run --from-savepoint {path} FILE.sql", file=sys.stderr)
    return failed


def _cancel(jobs: list[JobHandle]) -> None:
    for job in jobs:
        job.cancel()
    for job in jobs:
        job.wait(timeout=10)


_Handler = signal.Handlers | int | None | object


def _install_signal_handlers(
    stop: threading.Event, savepoint: threading.Event | None = None
) -> dict[int, _Handler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def on_savepoint(signum: int, frame: FrameType | None) -> None:
        if savepoint is not None:
            savepoint.set()

    previous: dict[int, _Handler] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    if savepoint is not None and hasattr(signal, "SIGUSR1"):
        previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, on_savepoint)
    return previous


def _restore_signal_handlers(previous: dict[int, _Handler]) -> None:
    for sig, h in previous.items():
        signal.signal(sig, h)  # type: ignore[arg-type]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["main", "run_script"]
