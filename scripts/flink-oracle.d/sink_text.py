"""Writes the groups of tests/oracle/sink_text.py with Apache Flink's filesystem sink (one
INSERT per group from a json file of the values' texts, all in one statement set, at
parallelism 1) and records the text of the
file each group became in tests/oracle/sink_text.json. Run by scripts/flink-oracle-sink-text
inside Flink's own venv."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pyflink.table import EnvironmentSettings, TableEnvironment
from pyflink.version import __version__ as PYFLINK_VERSION

from tests.oracle import sink_text as st


def main() -> None:
    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    env.get_config().set("parallelism.default", "1")
    env.get_config().set("table.local-time-zone", "UTC")
    groups = st.groups()
    with tempfile.TemporaryDirectory() as tmp:
        statements = env.create_statement_set()
        for n, group in enumerate(groups):
            source = Path(tmp) / f"s{n}.json"
            source.write_text(
                "".join(json.dumps({"id": i, "s": s}) + "\n" for i, s in enumerate(group["values"]))
            )
            env.execute_sql(
                f"CREATE TABLE s{n} (id INT, s STRING) WITH ('connector' = 'filesystem', "
                f"'path' = '{source}', 'format' = 'json')"
            )
            env.execute_sql(st.create_table_sql(f"t{n}", group, Path(tmp) / f"g{n}"))
            statements.add_insert_sql(f"INSERT INTO t{n} {st.select_sql(group['type'], f's{n}')}")
        statements.execute().wait()
        out = []
        for n, group in enumerate(groups):
            files = sorted(
                p for p in (Path(tmp) / f"g{n}").rglob("*") if p.is_file() and not p.name.startswith(".")
            )
            assert len(files) == 1, f"group {group['name']}: files {files}"
            out.append({**group, "text": files[0].read_bytes().decode("utf-8")})
    doc = {"flink": PYFLINK_VERSION, "groups": out}
    st.FIXTURE.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} groups to {st.FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    main()
