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


@dataclass(frozen=True)
class FunctionDef:
    """A scalar Python function callable from SQL.

    ``target`` is ``'package.module.attr'`` for ``CREATE FUNCTION ... AS``, None for a
    function registered from Python (``session.create_function``), which lives only as long
    as its session and is therefore always temporary.
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

    @property
    def kind(self) -> str:
        return "scalar"

    def signature(self) -> str:
        """``name(STRING, STRING) -> BIGINT``, as SHOW and DESCRIBE FUNCTION print it."""
        args = ", ".join(t.sql() for t in self.input_types)
        return f"{self.name}({args}) -> {self.result_type.sql()}"


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
    )
