"""The oracle's corpus: SQL cases whose answers Flink recorded, read the same way by the
recorder (``scripts/flink-oracle``, in Flink's own Python environment) and by the comparison
test (in ours). Standard library only, since both environments import it.

A corpus file (``corpus/*.sql``) is a list of cases, one a line:

- an expression, evaluated once per row of the current input table
  (``SELECT id, <expression> FROM <input>``, rows compared in ``id`` order);
- a query (a line starting with ``SELECT``), whose rows are compared as a multiset;
- ``DESCRIBE <query>``: the query becomes a view, and its columns' names and types (Flink's
  ``DESCRIBE`` of the view) are compared.

Directive lines set what the following cases run with, until changed; every file starts
at ``from: onerow``, ``tz: UTC``, ``mode: batch``:

- ``-- from: NAME``: the input table (``inputs.json``) of expression cases;
- ``-- tz: ZONE``: ``table.local-time-zone``;
- ``-- mode: batch|streaming``: Flink's execution mode (queries whose changelog differs).

Other ``--`` lines are comments. A case's id is ``<file stem>: <text>``, plus ``@ZONE``
when the zone is not UTC and ``#streaming`` in streaming mode; ids are unique.

>>> cases = parse_corpus("demo", "-- from: nums\\nABS(i)\\n-- tz: Asia/Tokyo\\nHOUR(ts)\\n")
>>> [(c.id, c.input, c.tz) for c in cases]
[('demo: ABS(i)', 'nums', 'UTC'), ('demo: HOUR(ts) @Asia/Tokyo', 'nums', 'Asia/Tokyo')]
>>> cases[0].sql()
'SELECT id, ABS(i) AS v FROM nums'
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.oracle import nexmark, ticker

ROOT = Path(__file__).resolve().parent
CORPUS_DIR = ROOT / "corpus"
FIXTURE_DIR = ROOT / "fixtures"
INPUTS_FILE = CORPUS_DIR / "inputs.json"
VIEW_NAME = "oracle_view"

_DIRECTIVE = re.compile(r"--\s*(from|tz|mode)\s*:\s*(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    """One SQL case: an expression over an input's rows, a query, or a view to DESCRIBE."""

    id: str
    file: str
    line: int
    kind: str  # "expr" | "query" | "describe"
    text: str
    input: str
    tz: str
    mode: str  # "batch" | "streaming"

    def sql(self) -> str:
        """The statement both engines run (for ``describe``: the view's query)."""
        if self.kind == "expr":
            return f"SELECT id, {self.text} AS v FROM {self.input}"
        if self.kind == "describe":
            return self.text[len("DESCRIBE") :].strip()
        return self.text

    @property
    def group(self) -> tuple[str, str, str, str]:
        """Expression cases of one group are evaluated by Flink in one job."""
        return (self.file, self.input, self.tz, self.mode)


def parse_corpus(stem: str, text: str) -> list[Case]:
    """The cases of one corpus file, in order."""
    cases: list[Case] = []
    where = {"from": "onerow", "tz": "UTC", "mode": "batch"}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            key, value = directive.group(1).lower(), directive.group(2)
            if key == "mode" and value not in ("batch", "streaming"):
                raise ValueError(f"{stem}.sql:{number}: mode is batch or streaming, not {value!r}")
            where[key] = value
            continue
        if line.startswith("--"):
            continue
        upper = line.upper()
        kind = "expr"
        if upper.startswith(("DESCRIBE ", "SELECT ")):
            kind = "describe" if upper.startswith("DESCRIBE ") else "query"
        case_id = f"{stem}: {line}"
        if where["tz"] != "UTC":
            case_id += f" @{where['tz']}"
        if where["mode"] != "batch":
            case_id += f" #{where['mode']}"
        cases.append(Case(case_id, stem, number, kind, line, where["from"], where["tz"], where["mode"]))
    return cases


def load_corpus(directory: Path = CORPUS_DIR) -> list[Case]:
    """Every case of every corpus file, files in name order; ids must be unique."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.sql")):
        cases.extend(parse_corpus(path.stem, path.read_text(encoding="utf-8")))
    seen: dict[str, Case] = {}
    for case in cases:
        if case.id in seen:
            raise ValueError(f"{case.file}.sql:{case.line}: case {case.id!r} is there twice")
        seen[case.id] = case
    return cases


def load_inputs(path: Path = INPUTS_FILE) -> dict[str, dict[str, Any]]:
    """Input tables: name -> {"columns": [[name, Flink type], ...], "rows": [[...], ...]},
    and optionally "watermark": "FOR col AS expr" (an event-time attribute for windows).
    Those of ``inputs.json``, then the generated ones (``generated_inputs``)."""
    inputs: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    for name, table in inputs.items():
        width = len(table["columns"])
        if table["columns"][0][0] != "id":
            raise ValueError(f"input {name}: the first column must be 'id' (rows are compared in its order)")
        for row in table["rows"]:
            if len(row) != width:
                raise ValueError(f"input {name}: row {row} has {len(row)} values, not {width}")
    return {**inputs, **generated_inputs()}


def generated_inputs() -> dict[str, dict[str, Any]]:
    """Inputs too big to write out by hand: Nexmark's person, auction and bid (``nexmark.py``),
    and the ticker of Flink's MATCH_RECOGNIZE examples (``ticker.py``). They have no ``id``
    column, so only query cases read them (``-- from:`` one of them)."""
    return {**nexmark.generate(), **ticker.generate()}


def generated_sha256() -> str:
    """What a fixture over Nexmark's inputs was recorded over (``generated_sha256`` in its
    header): a change to the generator makes those fixtures stale, not the others."""
    text = json.dumps(nexmark.generate(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_input_files(inputs: dict[str, dict[str, Any]], directory: Path) -> dict[str, Path]:
    """Each input as a JSON-lines file (one object a row), the format both engines read."""
    paths: dict[str, Path] = {}
    for name, table in inputs.items():
        names = [c[0] for c in table["columns"]]
        path = directory / f"{name}.json"
        lines = [json.dumps(dict(zip(names, row)), ensure_ascii=False) for row in table["rows"]]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths[name] = path
    return paths


def create_table_sql(name: str, table: dict[str, Any], path: Path) -> str:
    """The DDL both engines run for an input: the filesystem connector, JSON format."""
    columns = ", ".join(f"`{c}` {t}" for c, t in table["columns"])
    if table.get("watermark"):
        columns += f", WATERMARK {table['watermark']}"
    return (
        f"CREATE TABLE {name} ({columns}) WITH ("
        f"'connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"
    )


def fixture_path(stem: str) -> Path:
    return FIXTURE_DIR / f"{stem}.json"


def canonical_time(hour: int, minute: int, second: int, nano: int) -> str:
    """``HH:MM:SS`` plus the fraction without trailing zeros: precision is the type's business.

    >>> canonical_time(1, 2, 3, 450_000_000), canonical_time(0, 0, 0, 0)
    ('01:02:03.45', '00:00:00')
    """
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    if nano:
        text += "." + f"{nano:09d}".rstrip("0")
    return text


def canonical_float(value: float) -> float | str:
    """JSON has no NaN or infinities: those become Java's spelling."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value
