"""``sqlstream verify FILE.sql [--rows N] [--kills N] [--seed S] [--restart-service CMD]``:
exactly-once, checked on the user's own job.

The script runs twice over the same bounded slice of its sources (``targets.py``), each
time into shadow sinks of the same kind: once cleanly, once under a chaos schedule of
SIGKILLs at random moments and at every crash point of the checkpoint protocol, and the
restarts of the services it names (``--restart-service``), restarted from its newest
checkpoint until it finishes (``chaos.py``). Then each sink's committed
content is compared between the two runs: rows expected (the clean run's), lost,
duplicated and unexpected, next to the guarantee EXPLAIN promised. An exactly-once sink
must match exactly; an at-least-once sink may repeat rows but not lose any. Exit code 0
only when every sink kept its promise.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import planner
from catalog.config import CHECKPOINTS_DIR, PIPELINE_NAME
from catalog.connectors import Guarantee
from catalog.table import TableDef
from planner import statements as st
from planner.physical import SinkSpec, SourceSpec
from runtime.checkpoint.storage import CheckpointStorage
from sqlstream.render import render_table
from sqlstream.session import Session, connect
from sqlstream.verify.chaos import (
    CRASH_POINTS,
    RANDOM_POINTS,
    CrashReport,
    RecoveryFailed,
    RestartFailed,
    ServiceRestart,
    compare,
    kill_until_done,
    run_job,
)
from sqlstream.verify.targets import Shadow, VerifyError, bounded_source, reset_keys, shadow_for

RUNS = ("clean", "chaos")
# a user's job may be short: crash points fire often enough that the kills land in it
VERIFY_CHANCES = (0.2, 0.5, 1.0)
COLUMNS = ["sink", "connector", "guarantee", "expected", "lost", "duplicated", "unexpected", "verdict"]


@dataclass
class SinkResult:
    table: str
    connector: str
    guarantee: Guarantee
    expected: int = 0
    report: CrashReport | None = None  # None: a sink whose rows cannot be read back

    @property
    def ok(self) -> bool:
        r = self.report
        if r is None:
            return True
        if self.guarantee == Guarantee.EXACTLY_ONCE:
            return r.exact
        return not (r.missing or r.unexpected)

    def row(self) -> tuple[object, ...]:
        r = self.report
        if r is None:
            return (self.table, self.connector, self.guarantee.value, "-", "-", "-", "-",
                    "not checked (no read-back)")  # fmt: skip
        if self.ok:
            verdict = "exact" if r.exact else f"ok: {len(r.duplicated)} repeats allowed"
        else:
            counts = ((len(r.missing), "lost"), (len(r.duplicated), "duplicated"),
                      (len(r.unexpected), "unexpected"))  # fmt: skip
            verdict = "FAILED: " + ", ".join(f"{n} {what}" for n, what in counts if n)
        return (self.table, self.connector, self.guarantee.value, self.expected, len(r.missing),
                len(r.duplicated), len(r.unexpected), verdict)  # fmt: skip


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _alter(table: str, options: dict[str, str], reset: list[str]) -> list[str]:
    out = []
    if options:
        pairs = ", ".join(f"{_quote(k)} = {_quote(v)}" for k, v in options.items())
        out.append(f"ALTER TABLE {_ident(table)} SET ({pairs})")
    if reset:
        out.append(f"ALTER TABLE {_ident(table)} RESET ({', '.join(_quote(k) for k in reset)})")
    return out


@dataclass(frozen=True)
class VerifyOptions:
    """What ``sqlstream verify`` was asked for, beyond the script and its config."""

    rows: int | None = None  # rows to read from each source; None: their current contents
    kills: int = 10
    seed: int = 1
    points: tuple[str, ...] = ()  # crash points to kill at; empty: all of them and timers
    in_place: bool = False  # the chaos run writes into the real sinks
    restart_services: tuple[str, ...] = ()  # shell commands, each run once during the chaos run


class Verifier:
    def __init__(self, script: Path, options: VerifyOptions, config: dict[str, str], err: TextIO) -> None:
        unknown = [p for p in options.points if p not in (*CRASH_POINTS, "timer")]
        if unknown:
            raise VerifyError(
                f"unknown crash point '{unknown[0]}'",
                hint=f"crash points: {', '.join(CRASH_POINTS)}, and timer (a kill at a random moment)",
            )
        self.in_place = options.in_place
        self.points = options.points or RANDOM_POINTS
        self.script = script
        self.rows = options.rows
        self.kills = options.kills
        self.seed = options.seed
        self.restarts = [ServiceRestart(c) for c in options.restart_services]
        self.config = config
        self.err = err
        self.run_id = uuid.uuid4().hex[:8]
        self.workdir = Path(tempfile.mkdtemp(prefix="sqlstream-verify-"))

    def say(self, text: str) -> None:
        print(f"[verify] {text}", file=self.err, flush=True)

    # ---- the script ----------------------------------------------------------------------
    def _load(self, session: Session) -> tuple[list[str], list[st.Statement], list[TableDef], list[SinkSpec]]:
        text = self.script.read_text()
        setup: list[str] = []
        jobs: list[st.Statement] = []
        for s in planner.parse(text):
            if isinstance(s, st.Insert | st.StatementSet):
                jobs.append(s)
            elif isinstance(s, st.Query | st.Explain | st.Show | st.Describe | st.StopJob):
                continue  # nothing to verify, nothing the job needs
            else:
                session.execute_statement(s)
                setup.append(s.sql)
        if len(jobs) != 1:
            raise VerifyError(
                f"{self.script} starts {len(jobs)} jobs; verify checks one job",
                hint="put the INSERTs in one EXECUTE STATEMENT SET BEGIN ... END",
            )
        plan = planner.plan(jobs[0], session.catalog, session.config.effective())
        sources = [
            session.catalog.table(n.spec.table) for n in plan.sources if isinstance(n.spec, SourceSpec)
        ]
        sinks = [n.spec for n in plan.nodes if isinstance(n.spec, SinkSpec)]
        return setup, jobs, sources, sinks

    def _write(self, run: str, setup: list[str], jobs: list[st.Statement], alters: list[str]) -> Path:
        lines = [*(f"SET {_quote(k)} = {_quote(v)}" for k, v in self.config.items()), *setup,
                 f"SET {_quote(PIPELINE_NAME.name)} = {_quote(f'verify-{self.run_id}-{run}')}",
                 f"SET {_quote(CHECKPOINTS_DIR.name)} = {_quote(str(self.workdir / run / 'checkpoints'))}",
                 *alters, *(j.sql for j in jobs)]  # fmt: skip
        path = self.workdir / run / "job.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(";\n".join(lines) + ";\n")
        return path

    def _shadow(self, table: TableDef, run: str) -> Shadow | None:
        return shadow_for(table, self.run_id, run, self.workdir, in_place=self.in_place and run == "chaos")

    # ---- running -------------------------------------------------------------------------
    def run(self) -> tuple[list[SinkResult], CrashReport]:
        try:
            return self._run()
        except RecoveryFailed as e:
            raise VerifyError(f"the chaos run did not recover: {e}") from None
        except RestartFailed as e:
            raise VerifyError(
                f"a service restart of the chaos run failed: {e}",
                hint="check the --restart-service command by running it by hand while the service runs",
            ) from None
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self) -> tuple[list[SinkResult], CrashReport]:
        session = connect(config=self.config)
        try:
            setup, jobs, sources, sinks = self._load(session)
            tables = {t.name: t for t in session.catalog.tables()}
        finally:
            session.close()
        source_alters: list[str] = []
        for table in sources:
            bounded = bounded_source(table, self.rows, self.run_id)
            source_alters += _alter(table.name, bounded, reset_keys(table))
        results = [SinkResult(s.table, s.connector, s.guarantee) for s in sinks]
        shadows: dict[str, dict[str, Shadow | None]] = {
            run: {s.table: self._shadow(tables[s.table], run) for s in sinks} for run in RUNS
        }
        created: list[Shadow] = []
        try:
            scripts = {}
            for run in RUNS:
                alters = list(source_alters)
                for name, shadow in shadows[run].items():
                    if shadow is not None:
                        shadow.create()
                        created.append(shadow)
                        alters += _alter(name, shadow.options(), [])
                scripts[run] = self._write(run, setup, jobs, alters)
            names = ", ".join(s.table for s in sinks)
            if self.in_place:
                self.say(f"clean run into shadows of the sinks, chaos run into the real ones ({names})")
            else:
                self.say(f"sinks redirected to shadows of the same kind ({names})")
            self.say("clean run: the script over a bounded slice of its sources, no kills ...")
            start = time.monotonic()
            code, err = run_job(scripts["clean"], timeout=3600)
            took = time.monotonic() - start
            if code != 0:
                raise VerifyError(f"the clean run failed (exit {code}):\n{err.strip()[-2000:]}")
            self.say(f"clean run finished in {took:.1f} s")
            where = ", ".join(sorted(set(self.points))).replace("timer", "at random")
            restarts = f" and {len(self.restarts)} service restarts" if self.restarts else ""
            self.say(f"chaos run: up to {self.kills} SIGKILLs ({where}){restarts} ...")
            marker = CheckpointStorage(self.workdir / "chaos" / "checkpoints", f"verify-{self.run_id}-chaos")
            report = kill_until_done(
                scripts["chaos"], self.kills, self.seed, max_kill_delay=max(0.3, took * 0.9), timeout=3600,
                finished=lambda: marker.store.is_file(marker.finished_marker()), progress=self.say,
                points=self.points,
                chances=VERIFY_CHANCES, restarts=self.restarts,
            )  # fmt: skip
            restarted = f" and {report.restarts} service restarts" if self.restarts else ""
            self.say(f"chaos run finished after {report.runs} runs, {report.kills} kills{restarted}")
            if report.restarts < len(self.restarts):
                self.say(f"only {report.restarts} of {len(self.restarts)} service restarts landed while "
                         "the job ran: give it more rows (--rows) for a harder test")  # fmt: skip
            if report.kills < self.kills:
                self.say(f"only {report.kills} of {self.kills} kills landed before the job finished: "
                         "give it more rows (--rows) for a harder test")  # fmt: skip
            for result in results:
                clean, chaos = shadows["clean"][result.table], shadows["chaos"][result.table]
                if clean is None or chaos is None:
                    continue
                expected = clean.read()
                result.expected = len(expected)
                result.report = CrashReport(report.runs, report.kills, report.kills_by_point)
                compare(expected, chaos.read(), result.report)
                for note in (*clean.notes, *chaos.notes):
                    self.say(f"{result.table}: {note}")
                self.say(f"{result.table}: {len(expected):,} rows compared")
            return results, report
        finally:
            for shadow in created:
                try:
                    shadow.drop()
                except Exception as e:  # keep dropping the others; say what is left
                    self.say(f"could not drop the shadow of {shadow.table.name} ({shadow.run}): {e}")


def verify_command(script: Path, options: VerifyOptions, config: dict[str, str], out: TextIO) -> int:
    """Run the verification and print its report; 0 when every sink kept its promise."""
    verifier = Verifier(script, options, config, sys.stderr)
    results, chaos = verifier.run()
    print(render_table(COLUMNS, [r.row() for r in results]), file=out)
    checked = [r for r in results if r.report is not None]
    if not checked:
        print("[verify] no sink could be read back, so nothing was verified", file=sys.stderr)
        return 1
    failed = [r for r in checked if not r.ok]
    restarts = f"{chaos.restarts} service restarts; " if options.restart_services else ""
    summary = f"{chaos.kills} kills; {restarts}" + (
        f"{len(failed)} of {len(checked)} sinks did not keep their guarantee" if failed
        else f"all {len(checked)} sinks kept their guarantee"
    )  # fmt: skip
    print(f"[verify] {summary}", file=sys.stderr)
    return 1 if failed else 0
