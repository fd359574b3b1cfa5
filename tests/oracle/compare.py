"""sqlstream against Flink's recorded answers: runs each corpus case through a Session and
judges it against the fixture (tests/oracle/fixtures), the deliberate differences
(DIFFERENCES.md) and the known mismatches (KNOWN_MISMATCHES).

``python -m tests.oracle.compare`` prints the summary line, and with ``--mismatches FILE``
writes every case where sqlstream does not give Flink's answer (case, ours, Flink's).

A case *matches* when sqlstream gives Flink's value and Flink's type (types compared as
DESCRIBE would show them, less nullability and string lengths: see DIFFERENCES.md), or when
both refuse it at plan time, or both fail it at run time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import re
import struct
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.errors import SqlStreamError
from catalog.types import DataType, parse_type
from sqlstream import Session, connect
from tests.oracle import corpus as oc

DIFFERENCES_FILE = oc.ROOT / "DIFFERENCES.md"
KNOWN_MISMATCHES_FILE = oc.ROOT / "KNOWN_MISMATCHES"


@dataclass
class Outcome:
    """What sqlstream did with a case."""

    status: str  # "ok" | "refused" (at plan time) | "failed" (at run time)
    columns: list[list[Any]] = field(default_factory=list)  # [name, type(, null)]
    rows: list[list[Any]] = field(default_factory=list)
    error: str = ""

    def show(self, kind: str) -> str:
        if self.status != "ok":
            return f"{self.status}: {self.error}"
        if kind == "describe":
            return json.dumps(self.columns, ensure_ascii=False)
        columns = self.columns[1:] if kind == "expr" else self.columns
        types = ", ".join(str(c[1]) for c in columns)
        return f"{types}: {json.dumps(self.rows, ensure_ascii=False)}"


@dataclass(frozen=True)
class Difference:
    case: str
    kind: str  # "refused" | "differs" | "type"
    reason: str


# ---- canonical values -----------------------------------------------------------------
def canonical(value: Any, t: DataType) -> Any:
    """A value as sqlstream returned it, in the form record.py gives Flink's Java values."""
    if value is None:
        return None
    if t.name == "MULTISET":  # ours a list with repetitions, Flink's a value -> count map
        values = [canonical(v, t.children[0]) for v in value]
        texts = {json.dumps(v, sort_keys=True): v for v in values}
        counts = Counter(json.dumps(v, sort_keys=True) for v in values)
        entries = [[texts[k], n] for k, n in counts.items()]
        return {"map": sorted(entries, key=lambda kv: json.dumps(kv, sort_keys=True))}
    if t.name == "ARRAY":
        return [canonical(v, t.children[0]) for v in value]
    if t.name == "MAP":
        items = value.items() if isinstance(value, dict) else value
        entries = [[canonical(k, t.children[0]), canonical(v, t.children[1])] for k, v in items]
        return {"map": sorted(entries, key=lambda kv: json.dumps(kv, sort_keys=True))}
    if t.name == "ROW":
        values = list(value.values()) if isinstance(value, dict) else list(value)
        return {"row": [canonical(v, c) for v, c in zip(values, t.children)]}
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return oc.canonical_float(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'"
    if isinstance(value, dt.datetime):
        suffix = ""
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
            suffix = "Z"
        elif t.name == "TIMESTAMP_LTZ":
            suffix = "Z"
        time = oc.canonical_time(value.hour, value.minute, value.second, value.microsecond * 1000)
        return f"{value.date().isoformat()} {time}{suffix}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return oc.canonical_time(value.hour, value.minute, value.second, value.microsecond * 1000)
    if isinstance(value, dt.timedelta):
        return {"interval_ms": int(value.total_seconds() * 1000)}
    return {"python": type(value).__name__, "text": str(value)}


_LENGTH = re.compile(r"\b(VAR)?CHAR\(\d+\)")
_BINARY = re.compile(r"\b(VAR)?BINARY\(\d+\)")


def normalize_type(text: str) -> str:
    """A type as compared: no NOT NULL, no string or binary lengths (DIFFERENCES.md).

    >>> normalize_type("ARRAY<CHAR(3) NOT NULL> NOT NULL"), normalize_type("DECIMAL(38, 6)")
    ('ARRAY<STRING>', 'DECIMAL(38, 6)')
    """
    text = text.replace(" NOT NULL", "")
    text = _LENGTH.sub("STRING", text)
    return _BINARY.sub("BYTES", text)


# ---- running sqlstream ----------------------------------------------------------------
class Runner:
    """One session with every corpus input as a table, reused for all cases."""

    def __init__(self, directory: Path, config: dict[str, str] | None = None) -> None:
        inputs = oc.load_inputs()
        paths = oc.write_input_files(inputs, directory)
        self.session: Session = connect(config=config)
        for name, table in inputs.items():
            self.session.execute(oc.create_table_sql(name, table, paths[name]))
        self._tz = ""
        self._mode = "streaming"  # the session default

    def close(self) -> None:
        self.session.close()

    def run(self, case: oc.Case) -> Outcome:
        if case.tz != self._tz:
            self.session.execute(f"SET 'table.local-time-zone' = '{case.tz}'")
            self._tz = case.tz
        if case.mode != self._mode:  # Flink's execution mode of the recorded answer
            self.session.execute(f"SET 'execution.runtime-mode' = '{case.mode}'")
            self._mode = case.mode
        if case.kind == "describe":
            return self._describe(case)
        try:
            handle = self.session.sql(case.sql())
        except SqlStreamError as e:
            return Outcome("refused", error=_error_text(e))
        except Exception as e:  # a planner crash is a bug the oracle reports, not a refusal
            return Outcome("failed", error=f"planner crashed: {type(e).__name__}: {e}")
        types = [parse_type(f.type) for f in handle.plan.sinks[0].schema]
        columns = [[f.name, f.type] for f in handle.plan.sinks[0].schema]
        if case.kind == "query" and case.mode == "streaming":
            columns = [[n, t + m] for (n, t), m in zip(columns, self._time_markers(case))]
        try:
            raw = handle.fetchall()
        except Exception as e:
            return Outcome("failed", columns, error=f"{type(e).__name__}: {e}".splitlines()[0])
        finally:
            handle.close()
        rows = [[canonical(v, t) for v, t in zip(row, types)] for row in raw]
        if case.kind == "expr":
            rows.sort(key=lambda r: (r[0] is None, r[0]))
        else:
            rows.sort(key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False))
        return Outcome("ok", columns, rows)

    def _time_markers(self, case: oc.Case) -> list[str]:
        """Each result column's time attribute marker (`` *ROWTIME*``, or ''), as DESCRIBE
        shows it: Flink's result type of a streaming query carries it, a sink's schema not."""
        self.session.execute(f"CREATE TEMPORARY VIEW {oc.VIEW_NAME} AS {case.sql()}")
        try:
            rows = self.session.execute(f"DESCRIBE {oc.VIEW_NAME}").rows
        finally:
            self.session.execute(f"DROP TEMPORARY VIEW IF EXISTS {oc.VIEW_NAME}")
        return [" *" + str(r[1]).rsplit(" *", 1)[1] if str(r[1]).endswith("*") else "" for r in rows]

    def _describe(self, case: oc.Case) -> Outcome:
        try:
            self.session.execute(f"CREATE TEMPORARY VIEW {oc.VIEW_NAME} AS {case.sql()}")
        except SqlStreamError as e:
            return Outcome("refused", error=_error_text(e))
        try:
            result = self.session.execute(f"DESCRIBE {oc.VIEW_NAME}")
            return Outcome("ok", [[r[0], r[1], bool(r[2])] for r in result.rows])
        finally:
            self.session.execute(f"DROP TEMPORARY VIEW IF EXISTS {oc.VIEW_NAME}")


def _error_text(e: SqlStreamError) -> str:
    where = f" (line {e.line}, column {e.col})" if e.line is not None else " (no position)"
    return f"{type(e).__name__}: {e.message}{where}"


# ---- judging ----------------------------------------------------------------------------
def flink_answer(entry: dict[str, Any]) -> str:
    if "error" in entry:
        err = entry["error"]
        return f"{err['stage']} error: {err['class'].rsplit('.', 1)[-1]}: {err['message']}"
    if entry["kind"] == "expr":
        return f"{entry['type']}: {json.dumps(entry['rows'], ensure_ascii=False)}"
    types = ", ".join(c[1] for c in entry["columns"])
    if entry["kind"] == "describe":
        return json.dumps(entry["columns"], ensure_ascii=False)
    return f"{types}: {json.dumps(entry['rows'], ensure_ascii=False)}"


def matches(entry: dict[str, Any], ours: Outcome, types: bool = True) -> bool:
    """Whether sqlstream gave Flink's answer (value and type, or the same kind of error);
    without ``types``, Flink's values whatever the result types."""
    if "error" in entry:
        if entry["error"]["stage"] == "plan":  # refused by our planner too, saying where
            return ours.status == "refused" and not ours.error.endswith("(no position)")
        return ours.status == "failed"
    if ours.status != "ok":
        return False
    if entry["kind"] == "describe":
        theirs = [[n, normalize_type(t)] for n, t, _ in entry["columns"]]
        return theirs == [[n, normalize_type(t)] for n, t, _ in ours.columns]
    if entry["kind"] == "expr":
        theirs_types = ["INT", normalize_type(entry["type"])]
    else:
        theirs_types = [normalize_type(c[1]) for c in entry["columns"]]
    if types and theirs_types != [normalize_type(c[1]) for c in ours.columns]:
        return False
    return _same_rows(_as_float32(entry["rows"], theirs_types), ours.rows)


def _as_float32(rows: list[list[Any]], types: list[str]) -> list[list[Any]]:
    """Flink's FLOAT values arrive as Java's shortest decimal (0.2); ours as the float32's
    exact double (0.20000000298023224): both become the float32 they stand for."""
    floats = [k for k, t in enumerate(types) if t == "FLOAT"]
    if not floats:
        return rows
    out = [list(r) for r in rows]
    for row in out:
        for k in floats:
            # Java's 3.4028235E38 is FLOAT's largest value, just above its exact double
            if isinstance(row[k], float) and abs(row[k]) < 3.4028235677973366e38:
                row[k] = struct.unpack("f", struct.pack("f", row[k]))[0]
    return out


def _same_rows(theirs: Any, ours: Any) -> bool:
    """Equal, except that doubles may differ in the last digits (DIFFERENCES.md).

    >>> _same_rows([[1, 0.5984721441039564]], [[1, 0.5984721441039565]]), _same_rows([0.0], [-0.0])
    (True, False)
    """
    if isinstance(theirs, float) and isinstance(ours, float):
        if theirs == 0.0 and ours == 0.0:
            return math.copysign(1, theirs) == math.copysign(1, ours)
        return math.isclose(theirs, ours, rel_tol=1e-14, abs_tol=0.0)
    if isinstance(theirs, list) and isinstance(ours, list):
        return len(theirs) == len(ours) and all(_same_rows(a, b) for a, b in zip(theirs, ours))
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return theirs.keys() == ours.keys() and all(_same_rows(theirs[k], ours[k]) for k in theirs)
    return type(theirs) is type(ours) and theirs == ours


def load_differences(path: Path = DIFFERENCES_FILE) -> dict[str, Difference]:
    """The rows of DIFFERENCES.md's table ``| case | kind | reason |`` (``\\|`` for a bar)."""
    found: dict[str, Difference] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        case, kind, reason = cells[0].strip("`").strip(), cells[1], cells[2]  # ``a `b` c`` too
        if kind not in ("refused", "differs", "type"):
            raise ValueError(
                f"DIFFERENCES.md: kind of {case!r} is 'refused', 'differs' or 'type', not {kind!r}"
            )
        if case in found:
            raise ValueError(f"DIFFERENCES.md: {case!r} is listed twice")
        found[case] = Difference(case, kind, reason)
    return found


def load_known_mismatches(path: Path = KNOWN_MISMATCHES_FILE) -> set[str]:
    """Case ids, one a line; ``#`` starts a comment line."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def load_fixtures() -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(oc.FIXTURE_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data["cases"]:
            entry["header"] = data["header"]
            entries[entry["id"]] = entry
    return entries


def verdict(entry: dict[str, Any], ours: Outcome, difference: Difference | None) -> tuple[str, str]:
    """("match" | "refused" | "differs" | "mismatch" | "stale", why)."""
    same = matches(entry, ours)
    if difference is None:
        if same:
            return "match", ""
        return "mismatch", f"sqlstream {ours.show(entry['kind'])}; Flink {flink_answer(entry)}"
    if same:
        return "stale", "gives Flink's answer now: remove it from DIFFERENCES.md"
    if difference.kind == "type":
        if matches(entry, ours, types=False):
            return "differs", difference.reason
        return "mismatch", f"listed for its type only, but sqlstream {ours.show(entry['kind'])}"
    if difference.kind == "refused":
        if ours.status == "refused" and not ours.error.endswith("(no position)"):
            return "refused", ours.error
        return "mismatch", f"listed as refused by design, but sqlstream {ours.show(entry['kind'])}"
    return "differs", difference.reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mismatches", type=Path, help="write the mismatch list (markdown) here")
    parser.add_argument(
        "--update-known",
        action="store_true",
        help="rewrite KNOWN_MISMATCHES as the cases that mismatch now (review the diff: it is the bug list)",
    )
    parser.add_argument("files", nargs="*", help="corpus file stems (default: all)")
    args = parser.parse_args(argv)
    cases = [c for c in oc.load_corpus() if not args.files or c.file in args.files]
    fixtures = load_fixtures()
    differences = load_differences()
    known = load_known_mismatches()
    counts: Counter[str] = Counter()
    lines: list[str] = []
    mismatching: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sqlstream-oracle-") as tmp:
        runner = Runner(Path(tmp))
        try:
            for case in cases:
                entry = fixtures.get(case.id)
                if entry is None:
                    counts["unrecorded"] += 1
                    continue
                ours = runner.run(case)
                kind, _ = verdict(entry, ours, differences.get(case.id))
                if kind == "mismatch" and case.id in known:
                    kind = "known"
                elif kind != "mismatch" and case.id in known:
                    kind = "fixed"  # gives Flink's answer now: its KNOWN_MISMATCHES line must go
                counts[kind] += 1
                if kind in ("mismatch", "known"):
                    mismatching.append(case.id)
                if kind in ("mismatch", "known", "stale", "fixed"):
                    lines.append(f"- `{case.id}` ({kind})")
                    lines.append(f"  - sqlstream: {ours.show(case.kind)}\n  - Flink: {flink_answer(entry)}")
        finally:
            runner.close()
    summary = (
        f"oracle: {len(cases)} cases, {counts['match']} match Flink, {counts['refused']} refused by design, "
        f"{counts['differs']} deliberate differences, {counts['known']} known mismatches, "
        f"{counts['mismatch']} new mismatches, {counts['fixed'] + counts['stale']} stale list entries, "
        f"{counts['unrecorded']} not recorded"
    )
    print(summary)
    if args.mismatches:
        args.mismatches.write_text(
            f"# sqlstream vs Flink: cases that differ\n\n{summary}\n\n" + "\n".join(lines) + "\n",
            encoding="utf-8",
        )
    if args.update_known:
        if args.files:
            raise SystemExit("--update-known needs the whole corpus (no file arguments)")
        old = KNOWN_MISMATCHES_FILE.read_text(encoding="utf-8").splitlines()
        header = [ln for ln in old if ln.startswith("#")]
        KNOWN_MISMATCHES_FILE.write_text("\n".join(header + mismatching) + "\n", encoding="utf-8")
    return 0 if not (counts["mismatch"] or counts["stale"] or counts["fixed"]) else 1


if __name__ == "__main__":
    sys.exit(main())
