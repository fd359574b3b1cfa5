"""Change rows/s from a PostgreSQL replication slot (``postgres-cdc``) into a keyed
``jdbc`` table, exactly-once.

    source <(scripts/services up postgres)
    .venv/bin/python benchmarks/cdc.py --rows 100000 [--interval '1 s'] [--mode all|upsert]

What a user would run: ``sqlstream run`` of a script mirroring a table (REPLICA IDENTITY
FULL) through ``postgres-cdc`` into a table with the same primary key, EXACTLY_ONCE
checkpoints every ``--interval``. Once the job streams (a first row has reached the
mirror), ``--rows`` inserts (1,000 a transaction) and then as many updates land in the
source as fast as one connection writes them, then a last marker row; rows/s is the
change rows (inserts + updates; an update in ``all`` mode is two changelog rows, -U/+U)
over the time from the first write to the marker's arrival in the mirror. The mirror is
checked to equal the source afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parents[1]


def _execute(dsn: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def script(tmp: Path, dsn: str, url: str, name: str, interval: str, mode: str) -> Path:
    p = conninfo_to_dict(dsn)
    cdc = {
        "connector": "postgres-cdc", "hostname": p["host"], "port": p["port"], "username": p["user"],
        "password": p["password"], "database-name": p["dbname"], "schema-name": "public",
        "table-name": f"{name}_src", "slot.name": name, "changelog-mode": mode,
    }  # fmt: skip
    sink = {
        "connector": "jdbc", "url": url, "username": p["user"], "password": p["password"],
        "table-name": f"{name}_dst", "sink.delivery-guarantee": "exactly-once",
        "sink.transactional-id-prefix": name, "sink.buffer-flush.max-rows": "10000",
    }  # fmt: skip

    def opts(d: dict[str, Any]) -> str:
        return ", ".join(f"'{k}' = '{v}'" for k, v in d.items())

    path = tmp / "cdc.sql"
    path.write_text(f"""
SET 'execution.checkpointing.interval' = '{interval}';
SET 'pipeline.name' = '{name}';
SET 'state.checkpoints.dir' = '{tmp / "checkpoints"}';
CREATE TABLE src (id BIGINT, grp INT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ({opts(cdc)});
CREATE TABLE dst (id BIGINT, grp INT, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ({opts(sink)});
INSERT INTO dst SELECT * FROM src;
""")
    return path


def wait_for(dsn: str, table: str, key: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _execute(dsn, f"SELECT 1 FROM {table} WHERE id = %s", [key]):
            return time.monotonic()
        time.sleep(0.02)
    raise SystemExit(f"row {key} did not reach {table} in {timeout} s")


def run(dsn: str, url: str, rows: int, interval: str, mode: str) -> None:
    name = f"bcdc_{uuid.uuid4().hex[:8]}"
    src, dst = f"{name}_src", f"{name}_dst"
    _execute(dsn, f"CREATE TABLE {src} (id bigint PRIMARY KEY, grp int, name text)")
    _execute(dsn, f"ALTER TABLE {src} REPLICA IDENTITY FULL")
    _execute(dsn, f"CREATE TABLE {dst} (id bigint PRIMARY KEY, grp int, name text)")
    with tempfile.TemporaryDirectory() as tmp:
        path = script(Path(tmp), dsn, url, name, interval, mode)
        proc = subprocess.Popen([sys.executable, "-m", "sqlstream", "run", str(path)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            _execute(dsn, f"INSERT INTO {src} VALUES (0, 0, 'start')")
            wait_for(dsn, dst, 0, 60)
            t0 = time.monotonic()
            with psycopg.connect(dsn, autocommit=True) as c:
                for lo in range(1, rows + 1, 1000):
                    hi = min(lo + 999, rows)
                    c.execute(
                        f"INSERT INTO {src} SELECT g, g %% 1000, 'n' || g "
                        "FROM generate_series(%s::bigint, %s::bigint) g",
                        [lo, hi],
                    )
                for lo in range(1, rows + 1, 1000):
                    hi = min(lo + 999, rows)
                    c.execute(f"UPDATE {src} SET name = 'u' || id WHERE id BETWEEN %s AND %s", [lo, hi])
                c.execute(f"INSERT INTO {src} VALUES (-1, 0, 'end')")
            written = time.monotonic() - t0
            t1 = wait_for(dsn, dst, -1, 600)
        finally:
            proc.terminate()
            proc.communicate(timeout=60)
    diff = _execute(
        dsn,
        f"SELECT count(*) FROM ((TABLE {src} EXCEPT TABLE {dst}) UNION ALL "
        f"(TABLE {dst} EXCEPT TABLE {src})) d",
    )
    _execute(dsn, "SELECT pg_drop_replication_slot(%s)", [name])
    _execute(dsn, f"DROP PUBLICATION IF EXISTS {name}")
    _execute(dsn, f"DROP TABLE {src}, {dst}")
    _execute(dsn, "DELETE FROM sqlstream_commits WHERE sink_id LIKE %s", [name + "%"])
    changes = rows * (3 if mode == "all" else 2)
    took = t1 - t0
    print(f"mode {mode}, interval {interval}: {rows:,} inserts + {rows:,} updates = {changes:,} "
          "changelog rows "
          f"in {took:.1f} s: {changes / took:,.0f} rows/s ({2 * rows / took:,.0f} source changes/s); "
          f"writing them took {written:.1f} s; mirror differs in {diff[0][0]} rows")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--interval", default="1 s")
    ap.add_argument("--mode", choices=("all", "upsert"), default="all")
    args = ap.parse_args()
    dsn, url = os.environ.get("SQLSTREAM_PG_DSN"), os.environ.get("SQLSTREAM_PG_URL")
    if not dsn or not url:
        raise SystemExit("set SQLSTREAM_PG_DSN and SQLSTREAM_PG_URL (source <(scripts/services up postgres))")
    run(dsn, url, args.rows, args.interval, args.mode)


if __name__ == "__main__":
    main()
