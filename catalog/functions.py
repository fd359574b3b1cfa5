"""User-defined functions as the catalog keeps them: a name, where the Python object lives
and the signature the planner types calls with.

The signature is read from the Python object once, when the function is created (by the
session, which may import modules); the planner then needs no I/O to type a call, and a
``--catalog`` file restores the function without importing anything until a job runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.types import DataType, parse_type

FUNC_TYPES = ("general", "arrow", "pandas")
"""PyFlink's ``func_type``: one row per call, or whole Arrow / pandas columns per call."""

KINDS = ("scalar", "table", "aggregate")
"""What a call gives: one value per row (``@udf``), rows per row (``@udtf``, used in
``LATERAL TABLE``) or one value per group (``@udaf``)."""


@dataclass(frozen=True)
class FunctionDef:
    """A Python function callable from SQL.

    ``target`` is ``'package.module.attr'`` for ``CREATE FUNCTION ... AS``, None for a
    function registered from Python (``session.create_function``), which lives only as long
    as its session and is therefore always temporary. A table function's ``result_type``
    is a ROW of its columns (``f0``, ``f1``, ... as in Flink); an aggregate function keeps
    the accumulator type it declared (shown only: accumulators are pickled) and whether it
    can ``retract`` (needed over an updating input).
    """

    name: str
    input_types: tuple[DataType, ...]
    result_type: DataType
    target: str | None = None
    func_type: str = "general"
    deterministic: bool = True
    temporary: bool = False
    system: bool = False
    language: str = "PYTHON"
    kind: str = "scalar"
    accumulator_type: DataType | None = None
    retract: bool = False

    def signature(self) -> str:
        """``name(STRING, STRING) -> BIGINT``, as SHOW and DESCRIBE FUNCTION print it."""
        args = ", ".join(t.sql() for t in self.input_types)
        return f"{self.name}({args}) -> {self.result_type.sql()}"

    @property
    def result_columns(self) -> tuple[tuple[str, DataType], ...]:
        """A table function's columns (name, type); a scalar's one value as ``f0``."""
        t = self.result_type
        if t.name == "ROW" and self.kind == "table":
            return tuple(zip(t.field_names, t.children))
        return (("f0", t),)


def function_to_json(f: FunctionDef) -> dict[str, Any]:
    return {
        "name": f.name,
        "input_types": [t.sql() for t in f.input_types],
        "result_type": f.result_type.sql(),
        "target": f.target,
        "func_type": f.func_type,
        "deterministic": f.deterministic,
        "temporary": f.temporary,
        "system": f.system,
        "language": f.language,
        "kind": f.kind,
        "accumulator_type": f.accumulator_type.sql() if f.accumulator_type is not None else None,
        "retract": f.retract,
    }


def function_from_json(d: dict[str, Any]) -> FunctionDef:
    return FunctionDef(
        name=d["name"],
        input_types=tuple(parse_type(t) for t in d["input_types"]),
        result_type=parse_type(d["result_type"]),
        target=d.get("target"),
        func_type=d.get("func_type", "general"),
        deterministic=d.get("deterministic", True),
        temporary=d.get("temporary", False),
        system=d.get("system", False),
        language=d.get("language", "PYTHON"),
        kind=d.get("kind", "scalar"),
        accumulator_type=parse_type(d["accumulator_type"]) if d.get("accumulator_type") else None,
        retract=d.get("retract", False),
    )
