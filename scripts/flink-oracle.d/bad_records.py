"""Runs the bad-record cases of tests/oracle/bad_records.py through Apache Flink's
filesystem source (one file of one line per case, read with and without
``<format>.ignore-parse-errors``) and writes what Flink answered, the rows or the job's
error, to tests/oracle/bad_records.json. With ``--new``, only the cases that file has no
answer for run (a case takes two jobs, ~5-10 s); the others keep their recorded answers.
Run by scripts/flink-oracle-bad-records inside Flink's own venv (values rendered as
record.py renders them)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import record  # noqa: E402
from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402
from pyflink.version import __version__ as PYFLINK_VERSION  # noqa: E402
from record import FlinkError, canonical, error_info  # noqa: E402

from tests.oracle import bad_records as br  # noqa: E402


def answer(j_env: Any, case: dict[str, Any], path: Path, ignore: bool, n: int) -> dict[str, Any]:
    name = f"t{n}"
    j_env.executeSql(br.create_table_sql(name, case, path, ignore))
    try:
        rows: list[list[Any]] = []
        try:
            it = j_env.sqlQuery(f"SELECT id, v FROM {name}").execute().collect()
        except Exception as e:
            raise FlinkError(error_info(e, "plan")) from None
        try:
            while it.hasNext():
                row = it.next()
                rows.append([canonical(row.getField(i)) for i in range(row.getArity())])
            it.close()
        except Exception as e:
            raise FlinkError(error_info(e, "run")) from None
        return {"rows": rows}
    except FlinkError as e:
        return {"error": e.info}
    finally:
        j_env.executeSql(f"DROP TABLE {name}")


def main() -> None:
    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    env.get_config().set("parallelism.default", "1")
    j_env = env._j_tenv
    import py4j.java_gateway
    import py4j.protocol
    from pyflink.java_gateway import get_gateway

    record._GATEWAY = get_gateway()  # canonical() renders instants with it
    py4j.java_gateway.get_return_value = py4j.protocol.get_return_value  # Java exceptions as they are
    known = {}
    if "--new" in sys.argv[1:] and br.FIXTURE.exists():
        known = {c["name"]: c for c in br.load()["cases"]}
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, case in enumerate(br.cases()):
            if case["name"] in known:
                out.append(known[case["name"]])
                continue
            path = Path(tmp) / f"case{n}.{case['format']}"
            path.write_text(case["line"] + "\n")
            entry = dict(case)
            entry["strict"] = answer(j_env, case, path, False, 2 * n)
            entry["ignore"] = answer(j_env, case, path, True, 2 * n + 1)
            print(json.dumps(entry), file=sys.stderr, flush=True)
            out.append(entry)
    doc = {"flink": PYFLINK_VERSION, "cases": out}
    br.FIXTURE.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} cases to {br.FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    main()
