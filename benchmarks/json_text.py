"""CPU of JSON_QUERY / JSON_VALUE over a JSON file: Flink's text (runtime.json_text, a
Python function per row) against DuckDB's own JSON functions (before that change).

    .venv/bin/python benchmarks/json_text.py "JSON_QUERY(j, '$.a')" --rows 200000

Writes the input (one JSON document a row, as a string column) once into a temporary
directory, then runs ``SELECT COUNT(*), MAX(<expr>) FROM t`` and prints the process CPU
seconds, which the job's threads are part of.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import sqlstream


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("expr")
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    random.seed(1)
    with tempfile.TemporaryDirectory() as tmp:
        with (Path(tmp) / "p.json").open("w") as f:
            for i in range(args.rows):
                doc = json.dumps({"z": i, "a": {"y": [random.random(), i], "b": "x"}, "n": 1.5})
                f.write(json.dumps({"id": i, "j": doc}) + "\n")
        with sqlstream.connect() as s:
            s.execute(
                f"CREATE TABLE t (id INT, j STRING) WITH ('connector' = 'filesystem', "
                f"'path' = '{tmp}', 'format' = 'json')"
            )
            cpu, wall = time.process_time(), time.time()
            n = s.sql(f"SELECT COUNT(*) AS n, MAX({args.expr}) AS m FROM t").fetchall()[0][0]
            cpu, wall = time.process_time() - cpu, time.time() - wall
            print(f"{args.expr}: {n} rows, cpu={cpu:.2f}s wall={wall:.2f}s")


if __name__ == "__main__":
    main()
