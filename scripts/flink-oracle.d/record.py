"""Runs the oracle corpus through Apache Flink (PyFlink's TableEnvironment) and writes what
Flink answered as tests/oracle/fixtures/<stem>.json. Run by scripts/flink-oracle inside
Flink's own venv; imports nothing of sqlstream but the corpus reader (standard library).

Per corpus file: each case is first planned alone (``sqlQuery``), which gives its result
type or Flink's plan-time error. The expression cases that plan are then evaluated together,
one SELECT per (input, time zone, mode) group, so one Flink job answers dozens of cases; a
group whose job fails is split in halves until the failing cases stand alone, so one
error hides no other answer. Values are read as the Java objects Flink produced and
rendered canonically (see ``canonical``), never through PyFlink's Python conversion.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import py4j.java_gateway  # noqa: E402
import py4j.protocol  # noqa: E402
from py4j.java_collections import JavaArray, JavaList, JavaMap  # noqa: E402
from py4j.java_gateway import JavaObject  # noqa: E402
from py4j.protocol import Py4JJavaError  # noqa: E402
from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402
from pyflink.version import __version__ as PYFLINK_VERSION  # noqa: E402

from tests.oracle import corpus as oc  # noqa: E402


class FlinkError(Exception):
    def __init__(self, info: dict[str, str]) -> None:
        super().__init__(info["message"])
        self.info = info


_SCRUB = [(re.compile(r"@[0-9a-f]{5,}\b"), "@…"), (re.compile(r"\b[0-9a-f]{32}\b"), "<id>")]


def error_info(e: BaseException, stage: str) -> dict[str, str]:
    """The root cause's class and first lines of its message (Flink's wording)."""
    if not isinstance(e, Py4JJavaError):
        raise e
    top = e.java_exception
    root = top
    while root.getCause() is not None and not root.getCause().equals(root):
        root = root.getCause()
    message = str(root.getMessage() or "").strip()
    lines = [ln for ln in message.splitlines() if ln.strip()][:3]
    text = "\n".join(lines)[:500]
    for pattern, repl in _SCRUB:
        text = pattern.sub(repl, text)
    return {
        "stage": stage,
        "class": str(root.getClass().getName()),
        "top": str(top.getClass().getName()),
        "message": text,
    }


def canonical(v: Any) -> Any:
    """A Java value (as py4j hands it over) in the canonical JSON form the test uses."""
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return oc.canonical_float(v)
    if isinstance(v, bytes | bytearray):
        return "X'" + bytes(v).hex() + "'"
    if isinstance(v, decimal.Decimal):  # py4j's rendering of BigDecimal
        return format(v, "f")
    if isinstance(v, JavaArray | JavaList):
        return [canonical(x) for x in v]
    if isinstance(v, JavaMap):
        entries = [[canonical(k), canonical(x)] for k, x in v.items()]
        return {"map": sorted(entries, key=lambda kv: json.dumps(kv, sort_keys=True))}
    if isinstance(v, JavaObject):
        cls = str(v.getClass().getName())
        if cls == "java.math.BigDecimal":
            return str(v.toPlainString())
        if cls == "java.time.LocalDate":
            return str(v.toString())
        if cls == "java.time.LocalTime":
            return oc.canonical_time(v.getHour(), v.getMinute(), v.getSecond(), v.getNano())
        if cls == "java.time.LocalDateTime":
            return _datetime(v)
        if cls == "java.time.Instant":
            utc = _gateway().jvm.java.time.ZoneOffset.UTC
            return _datetime(_gateway().jvm.java.time.LocalDateTime.ofInstant(v, utc)) + "Z"
        if cls == "org.apache.flink.types.Row":
            return {"row": [canonical(v.getField(i)) for i in range(v.getArity())]}
        if cls.startswith("[B"):
            return "X'" + bytes(v).hex() + "'"
        if cls.startswith("["):
            return [canonical(x) for x in v]
        if "Map" in cls:
            entries = [[canonical(e.getKey()), canonical(e.getValue())] for e in v.entrySet().toArray()]
            return {"map": sorted(entries, key=lambda kv: json.dumps(kv, sort_keys=True))}
        return {"java": cls, "text": str(v.toString())}
    return {"python": type(v).__name__, "text": str(v)}


def _datetime(v: JavaObject) -> str:
    date = str(v.toLocalDate().toString())
    return date + " " + oc.canonical_time(v.getHour(), v.getMinute(), v.getSecond(), v.getNano())


_GATEWAY: Any = None


def _gateway() -> Any:
    return _GATEWAY


class Flink:
    """One TableEnvironment per execution mode, with the corpus inputs as tables."""

    def __init__(self, inputs: dict[str, dict[str, Any]], paths: dict[str, Path]) -> None:
        global _GATEWAY
        self.envs: dict[str, Any] = {}
        modes = {
            "batch": EnvironmentSettings.in_batch_mode,
            "streaming": EnvironmentSettings.in_streaming_mode,
        }
        for mode, settings in modes.items():
            env = TableEnvironment.create(settings())
            env.get_config().set("parallelism.default", "1")
            env.get_config().set("table.exec.resource.default-parallelism", "1")
            j_env = env._j_tenv
            for name, table in inputs.items():
                j_env.executeSql(oc.create_table_sql(name, table, paths[name]))
            self.envs[mode] = env
        from pyflink.java_gateway import get_gateway

        _GATEWAY = get_gateway()
        # Java exceptions as they are (class, cause chain), not PyFlink's string copies.
        py4j.java_gateway.get_return_value = py4j.protocol.get_return_value

    def java_version(self) -> str:
        return str(_GATEWAY.jvm.java.lang.System.getProperty("java.version"))

    def _env(self, mode: str, tz: str) -> Any:
        j_env = self.envs[mode]._j_tenv
        j_env.getConfig().set("table.local-time-zone", tz)
        return j_env

    def plan(self, mode: str, tz: str, sql: str) -> Any:
        try:
            return self._env(mode, tz).sqlQuery(sql)
        except Exception as e:
            raise FlinkError(error_info(e, "plan")) from None

    @staticmethod
    def columns(j_table: Any) -> list[list[str]]:
        cols = j_table.getResolvedSchema().getColumns()
        return [[str(c.getName()), str(c.getDataType().toString())] for c in cols]

    def collect(self, j_table: Any) -> list[list[Any]]:
        """The final rows: a streaming changelog is applied (+I/+U add, -U/-D remove).
        Errors while the job runs are ``run`` errors; those before it starts, ``plan``."""
        rows: list[list[Any]] = []
        try:  # execute() optimizes and submits: its errors are the planner's
            it = j_table.execute().collect()
        except Exception as e:
            raise FlinkError(error_info(e, "plan")) from None
        try:
            try:
                while it.hasNext():
                    row = it.next()
                    kind = str(row.getKind().shortString())
                    values = [canonical(row.getField(i)) for i in range(row.getArity())]
                    if kind in ("+I", "+U"):
                        rows.append(values)
                    else:
                        rows.remove(values)
            finally:
                it.close()
        except Exception as e:
            raise FlinkError(error_info(e, "run")) from None
        return rows

    def describe(self, mode: str, tz: str, query: str) -> list[list[Any]]:
        j_env = self._env(mode, tz)
        try:
            j_env.executeSql(f"CREATE TEMPORARY VIEW {oc.VIEW_NAME} AS {query}")
        except Exception as e:
            raise FlinkError(error_info(e, "plan")) from None
        try:
            it = j_env.executeSql(f"DESCRIBE {oc.VIEW_NAME}").collect()
            out = []
            while it.hasNext():
                row = it.next()
                out.append([str(row.getField(0)), str(row.getField(1)), bool(row.getField(2))])
            it.close()
            return out
        finally:
            j_env.executeSql(f"DROP TEMPORARY VIEW {oc.VIEW_NAME}")


def _sort_key(row: list[Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def record_file(flink: Flink, stem: str, cases: list[oc.Case]) -> list[dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    planned: dict[tuple[str, str, str, str], list[oc.Case]] = {}
    for case in cases:
        entry: dict[str, Any] = {
            "id": case.id, "kind": case.kind, "input": case.input, "tz": case.tz, "mode": case.mode,
            "sql": case.sql(),
        }  # fmt: skip
        results[case.id] = entry
        try:
            if case.kind == "describe":
                entry["columns"] = flink.describe(case.mode, case.tz, case.sql())
                continue
            j_table = flink.plan(case.mode, case.tz, case.sql())
            columns = flink.columns(j_table)
            if case.kind == "expr":
                entry["type"] = columns[1][1]
                planned.setdefault(case.group, []).append(case)
            else:
                entry["columns"] = columns
                entry["rows"] = sorted(flink.collect(j_table), key=_sort_key)
        except FlinkError as e:
            entry["error"] = e.info
    for group in planned.values():
        _evaluate(flink, group, results)
    return [results[c.id] for c in cases]


def _evaluate(flink: Flink, group: list[oc.Case], results: dict[str, dict[str, Any]]) -> None:
    """One job for the whole group; on failure, halves, down to the case that fails."""
    first = group[0]
    select = ", ".join(f"{c.text} AS c{k}" for k, c in enumerate(group))
    sql = f"SELECT id, {select} FROM {first.input}"
    try:
        rows = flink.collect(flink.plan(first.mode, first.tz, sql))
    except FlinkError as e:
        if len(group) == 1:
            results[first.id]["error"] = e.info
            return
        half = len(group) // 2
        _evaluate(flink, group[:half], results)
        _evaluate(flink, group[half:], results)
        return
    rows.sort(key=lambda r: r[0])
    for k, case in enumerate(group):
        results[case.id]["rows"] = [[r[0], r[k + 1]] for r in rows]


def write_fixture(stem: str, header: dict[str, Any], entries: list[dict[str, Any]]) -> Path:
    """One case a line, so a rerun's diff shows which answers changed."""
    path = oc.fixture_path(stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(e, ensure_ascii=False, sort_keys=True) for e in entries]
    head = '{"header": ' + json.dumps(header, sort_keys=True)
    text = head + ',\n"cases": [\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    cases = oc.load_corpus()
    stems = sorted({c.file for c in cases})
    wanted = argv or stems
    unknown = [s for s in wanted if s not in stems]
    if unknown:
        have = ", ".join(stems)
        print(f"flink-oracle: no corpus file {', '.join(unknown)} (have: {have})", file=sys.stderr)
        return 2
    inputs = oc.load_inputs()
    inputs_sha = hashlib.sha256(oc.INPUTS_FILE.read_bytes()).hexdigest()
    generated, generated_sha = set(oc.generated_inputs()), oc.generated_sha256()
    with tempfile.TemporaryDirectory(prefix="flink-oracle-") as tmp:
        paths = oc.write_input_files(inputs, Path(tmp))
        flink = Flink(inputs, paths)
        java = flink.java_version()
        for stem in wanted:
            started = time.monotonic()
            mine = [c for c in cases if c.file == stem]
            entries = record_file(flink, stem, mine)
            header = {
                "engine": "Apache Flink",
                "apache-flink": PYFLINK_VERSION,
                "java": java,
                "recorded_by": "scripts/flink-oracle",
                "inputs_sha256": inputs_sha,
            }
            if any(c.input in generated for c in mine):
                header["generated_sha256"] = generated_sha
            path = write_fixture(stem, header, entries)
            errors = sum(1 for e in entries if "error" in e)
            print(
                f"{path.relative_to(ROOT)}: {len(entries)} cases ({errors} Flink errors) "
                f"in {time.monotonic() - started:.0f} s",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
