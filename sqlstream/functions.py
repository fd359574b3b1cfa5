"""User functions at the front door: CREATE / DROP / DESCRIBE FUNCTION and
``session.create_function``. Importing a function's module and reading its signature
happens here, once, when the function is created; the catalog keeps the signature, so
planning never imports anything.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

from catalog.config import python_search_path
from catalog.errors import CatalogError
from catalog.functions import FunctionDef
from catalog.store import Catalog
from planner import statements as st
from planner.functions import FUNCTIONS
from planner.udf import check_name
from runtime import udf as runtime_udf
from sqlstream.results import Result
from sqlstream.udf import AggregateFunctionWrapper, TableFunctionWrapper, UdfError, signature


def define(name: str, obj: Any, target: str, temporary: bool = False, system: bool = False) -> FunctionDef:
    """The catalog entry of Python object ``obj``: a ``@udf``, ``@udtf`` or ``@udaf``, or a
    plain annotated function (scalar)."""
    check_name(name)
    try:
        inputs, result, func_type, deterministic = signature(obj)
    except UdfError as e:
        raise UdfError(f"function {name}: {e.message}", hint=e.hint) from None
    if func_type == "pandas" and importlib.util.find_spec("pandas") is None:
        raise UdfError(f"function {name} is func_type='pandas' but pandas is not installed")
    aggregate = obj if isinstance(obj, AggregateFunctionWrapper) else None
    return FunctionDef(
        name=name,
        input_types=inputs,
        result_type=result,
        target=target,
        func_type=func_type,
        deterministic=deterministic,
        temporary=temporary,
        system=system,
        kind="table" if isinstance(obj, TableFunctionWrapper) else "aggregate" if aggregate else "scalar",
        accumulator_type=aggregate.accumulator_type if aggregate else None,
        retract=aggregate.retracts if aggregate else False,
    )


def search_path(config: Mapping[str, str], extra: Sequence[str]) -> list[str]:
    """Where modules are found: ``python.files``, ``python.pythonpath``, then the script's folder."""
    return [*python_search_path(config), *extra]


def run(s: st.Statement, catalog: Catalog, config: Mapping[str, str], extra_path: Sequence[str]) -> Result:
    """Run CREATE FUNCTION, DROP FUNCTION or DESCRIBE FUNCTION."""
    if isinstance(s, st.CreateFunction):
        if s.if_not_exists and catalog.function(s.name) is not None:
            return Result.ok(f"Function '{s.name}' exists.")
        obj = runtime_udf.load(s.target, search_path(config, extra_path))
        fdef = define(s.name, obj, s.target, temporary=s.temporary, system=s.system)
        catalog.create_function(fdef, if_not_exists=s.if_not_exists)
        return Result.ok(f"Function '{s.name}' created: {fdef.signature()}.")
    if isinstance(s, st.DropFunction):
        existing = catalog.function(s.name)
        if existing is not None and existing.temporary != s.temporary:
            word = "a temporary" if existing.temporary else "not a temporary"
            raise CatalogError(
                f"function '{s.name}' is {word} function",
                hint="DROP TEMPORARY FUNCTION drops temporary ones, DROP FUNCTION the others",
            )
        dropped = catalog.drop_function(s.name, if_exists=s.if_exists)
        return Result.ok(
            f"Function '{s.name}' dropped." if dropped else f"Function '{s.name}' does not exist."
        )
    assert isinstance(s, st.DescribeFunction)
    return describe(catalog, s.name)


def describe(catalog: Catalog, name: str) -> Result:
    """Flink's DESCRIBE FUNCTION: one (info name, info value) row per property."""
    f = catalog.function(name)
    if f is None:
        if name.upper() in FUNCTIONS:
            return Result.table(
                ["info name", "info value"], [("is system function", True), ("kind", "BUILT-IN")]
            )
        raise CatalogError(f"function '{name}' not found", hint="SHOW FUNCTIONS lists them")
    rows: list[tuple[str, Any]] = [
        ("is system function", f.system),
        ("is temporary", f.temporary),
        ("class name", f.target if f.target and not f.target.startswith("python-object:") else "<session>"),
        ("function language", f.language),
        ("kind", f.kind.upper()),
        ("func type", f.func_type),
        ("is deterministic", f.deterministic),
        ("signature", f.signature()),
    ]
    if f.kind == "aggregate":
        rows.append(("accumulator type", f.accumulator_type.sql() if f.accumulator_type else "<pickled>"))
        rows.append(("can retract", f.retract))
    return Result.table(["info name", "info value"], rows)


def register(catalog: Catalog, name: str, fn: Any) -> FunctionDef:
    """``session.create_function``: a temporary function backed by a live Python object."""
    fdef = define(name, fn, runtime_udf.hold(fn), temporary=True)
    existing = catalog.function(name)
    if existing is not None and existing.temporary:
        catalog.drop_function(name)
    catalog.create_function(fdef)
    return fdef
