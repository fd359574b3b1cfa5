"""Running user-defined Python functions: finding the Python object a catalog entry names,
and installing it on an operator's DuckDB connection so that the SQL an operator runs
calls it.

Both kinds go through DuckDB's Arrow UDF interface, which hands a function whole columns
(DuckDB vectors of up to 2048 rows) and releases nothing per row: a vectorized function
(``func_type='arrow'`` / ``'pandas'``) is called once per vector; a row function is called
in a tight loop (``map`` over the vector's columns as Python lists). Measured here (see
``benchmarks/README.md``) this loop is on par with DuckDB's own per-row ("native") UDFs
and, unlike them, can name the row a function failed on. A projection whose items are plain
columns and calls on plain columns skips DuckDB: :func:`direct_call` runs the same
function on the whole batch, which saves DuckDB's per-vector conversions.

A failure inside a function becomes a :class:`FunctionFailedError` naming the function,
the input values and the function's own traceback (the engine's frames cut off).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from catalog.config import UDF_ERRORS_IGNORE
from catalog.errors import SqlStreamError
from catalog.functions import FunctionDef
from planner.physical import ROW_KIND_COLUMN, UDF_ERRORS_FIELDS, UDF_ERRORS_OUTPUT, PhysicalPlan
from runtime.arrow_types import to_arrow
from runtime.messages import Message, SideOutput
from runtime.metrics import OperatorMetrics

if TYPE_CHECKING:
    import duckdb

_PYTHON_OBJECT = "python-object:"
_objects: dict[str, Any] = {}
_failures: dict[str, FunctionFailedError] = {}
_lock = threading.Lock()


class FunctionLoadError(SqlStreamError):
    """A function's module cannot be imported or lacks the attribute named."""


class FunctionFailedError(SqlStreamError):
    """A user function raised, or returned something its declared type cannot hold."""

    function = ""  # its name


def dead_letters(
    operator: str, failed: Sequence[tuple[pa.RecordBatch, FunctionFailedError]]
) -> pa.RecordBatch:
    """The udf-errors output (``planner/udf_errors.py``) for input rows (one-row batches)
    a function failed on: the operator, the function, the row as JSON and the error."""
    rows = [
        json.dumps({k: v for k, v in b.to_pylist()[0].items() if k != ROW_KIND_COLUMN}, default=str)
        for b, _ in failed
    ]
    return pa.RecordBatch.from_arrays(
        [
            pa.array([operator] * len(failed), pa.string()),
            pa.array([e.function for _, e in failed], pa.string()),
            pa.array(rows, pa.string()),
            pa.array([e.message for _, e in failed], pa.string()),
        ],
        names=[f.name for f in UDF_ERRORS_FIELDS],
    )


def keeps_errors(node_id: int, plan: PhysicalPlan) -> bool:
    """Whether a side sink reads the node's udf-errors output (``table.exec.udf-errors.sink``)."""
    return any(e.source == node_id and e.output == UDF_ERRORS_OUTPUT for n in plan.nodes for e in n.inputs)


def catches_errors(node_id: int, plan: PhysicalPlan, config: Mapping[str, str]) -> bool:
    """Whether the node goes on without the rows a function raised on: it keeps them
    (:func:`keeps_errors`) or drops them (``table.exec.udf-errors.ignore``)."""
    return keeps_errors(node_id, plan) or bool(UDF_ERRORS_IGNORE.get(config))


def failed_rows(
    operator: str,
    failed: Sequence[tuple[pa.RecordBatch, FunctionFailedError]],
    keep: bool,
    metrics: OperatorMetrics,
) -> list[Message]:
    """The udf-errors output for the rows a function raised on (none when they are only
    dropped), each counted in the ``udf_errors`` metric."""
    metrics.udf_errors += len(failed)
    return [SideOutput(dead_letters(operator, failed), UDF_ERRORS_OUTPUT)] if keep and failed else []


def hold(obj: Any) -> str:
    """A target naming a Python object registered in this process (``session.create_function``)."""
    key = f"{_PYTHON_OBJECT}{id(obj)}"
    _objects[key] = obj
    return key


def load(target: str, search_path: Iterable[str] = ()) -> Any:
    """The object ``'package.module.attr'`` names, importing the module with the folders of
    ``search_path`` (``python.files`` / ``python.pythonpath``, the script's folder) on
    ``sys.path``."""
    if target.startswith(_PYTHON_OBJECT):
        if target not in _objects:
            raise FunctionLoadError("the Python function registered from another process is gone")
        return _objects[target]
    module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise FunctionLoadError(
            f"'{target}' does not name a Python function", hint="write AS 'package.module.function'"
        )
    for folder in search_path:
        folder = str(Path(folder).expanduser())
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise FunctionLoadError(
            f"cannot import module '{module_name}' for '{target}': {e}",
            hint="put its folder on 'python.pythonpath' or its file on 'python.files'",
        ) from None
    except Exception as e:  # the module's own code failed while importing
        raise FunctionLoadError(f"importing module '{module_name}' failed: {type(e).__name__}: {e}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise FunctionLoadError(f"module '{module_name}' has no attribute '{attr}'") from None


def install(
    con: duckdb.DuckDBPyConnection, functions: Sequence[FunctionDef], search_path: Iterable[str] = ()
) -> None:
    """Make the scalar ones of ``functions`` callable by name in ``con``'s SQL (table and
    aggregate functions are called by their operators, not by DuckDB)."""
    import duckdb.func  # here, not at import: every job imports this module (its errors), few call DuckDB

    paths = tuple(search_path)
    for fdef in functions:
        if fdef.kind != "scalar":
            continue
        obj = load(fdef.target or "", paths)
        con.create_function(
            fdef.name,
            _with_arity(make_vectorized(fdef, obj), len(fdef.input_types)),
            [con.sqltype(t.duckdb()) for t in fdef.input_types],
            con.sqltype(fdef.result_type.duckdb()),
            type=duckdb.func.ARROW,
            null_handling=duckdb.func.SPECIAL,
            side_effects=not fdef.deterministic,
        )


_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$", re.DOTALL)
_ARGS = re.compile(r'\s*"((?:[^"]|"")*)"\s*(?:,|$)')


@dataclass(frozen=True)
class DirectCall:
    """A projection that is one call of a Python scalar function on plain columns
    (``f("a", "b")``), run on a whole batch without DuckDB (see :func:`direct_call`)."""

    function: Callable[..., pa.Array]
    columns: tuple[str, ...]
    types: tuple[pa.DataType, ...]  # the arguments' declared Arrow types

    def __call__(self, batch: pa.RecordBatch) -> pa.Array:
        args = []
        for name, t in zip(self.columns, self.types):
            column = batch.column(name)
            args.append(column if column.type == t else column.cast(t))
        return self.function(*args)


def direct_call(sql: str, functions: Sequence[FunctionDef], search_path: Iterable[str]) -> DirectCall | None:
    """The :class:`DirectCall` that DuckDB SQL ``sql`` is, if it is one call of a scalar
    function of ``functions`` whose arguments are all column references; else None.

    Why: DuckDB hands a Python function its input in vectors of 2048 rows, converting each
    to Arrow and back; a projection of plain columns and such calls (``SELECT k, f(v)``) is
    run on the whole batch instead, one call of the function's loop per batch (measured in
    ``benchmarks/README.md``: about 1.8 times the rows per CPU-second of the DuckDB path)."""
    m = _CALL.match(sql.strip())
    if m is None:
        return None
    fdef = next((f for f in functions if f.kind == "scalar" and f.name.lower() == m.group(1).lower()), None)
    inner = m.group(2).strip()
    if fdef is None or not inner:
        return None
    names = []
    pos = 0
    while pos < len(inner):
        arg = _ARGS.match(inner, pos)
        if arg is None or arg.end() == pos:
            return None
        names.append(arg.group(1).replace('""', '"'))
        pos = arg.end()
    if len(names) != len(fdef.input_types):
        return None
    function = make_vectorized(fdef, load(fdef.target or "", search_path))
    return DirectCall(function, tuple(names), tuple(to_arrow(t) for t in fdef.input_types))


def _with_arity(fn: Callable[..., pa.Array], n: int) -> Callable[..., pa.Array]:
    """DuckDB counts a function's parameters: give the ``*columns`` wrapper exactly n."""
    params = [inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(n)]
    fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return fn


def failure_in(error: BaseException) -> FunctionFailedError | None:
    """The user function's failure that a DuckDB error carries: DuckDB hands the caller only
    the message text, the job reports the typed error (with its hint) instead."""
    text = str(error)
    with _lock:  # the first one the text quotes (a chained error quotes older ones after it)
        found = [(text.find(m), f) for m, f in _failures.items() if m in text]
    return min(found, key=lambda x: x[0])[1] if found else None


def _record(err: FunctionFailedError) -> FunctionFailedError:
    with _lock:
        if len(_failures) > 64:
            _failures.clear()
        _failures[err.message] = err
    return err


def make_vectorized(fdef: FunctionDef, obj: Any) -> Callable[..., pa.Array]:
    """A function from Arrow columns to an Arrow column of ``fdef.result_type``."""
    func = getattr(obj, "func", obj)  # a ScalarFunction wrapper, or the plain function
    result_type = to_arrow(fdef.result_type)
    if fdef.func_type == "general":
        return _row_loop(fdef, func, result_type)

    def vectorized(*columns: pa.ChunkedArray | pa.Array) -> pa.Array:
        arrays = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns]
        args: list[Any] = [a.to_pandas() for a in arrays] if fdef.func_type == "pandas" else arrays
        try:
            out = func(*args)
        except Exception as e:
            raise function_failed(fdef, e, _first_rows(arrays)) from None
        return _as_column(fdef, out, result_type, len(arrays[0]) if arrays else None)

    return vectorized


def _row_loop(
    fdef: FunctionDef, func: Callable[..., Any], result_type: pa.DataType
) -> Callable[..., pa.Array]:
    def rows(*columns: pa.ChunkedArray | pa.Array) -> pa.Array:
        lists = [c.to_pylist() for c in columns]
        out: list[Any] = []
        try:
            # map runs the loop in C; extend keeps what came back before a failure, so the
            # failing row is the next one, found without calling the function again
            out.extend(map(func, *lists))
        except Exception as e:
            raise function_failed(fdef, e, repr(tuple(col[len(out)] for col in lists))) from None
        return _as_column(fdef, out, result_type, None)

    return rows


def _as_column(fdef: FunctionDef, out: Any, result_type: pa.DataType, length: int | None) -> pa.Array:
    try:
        if isinstance(out, pa.ChunkedArray):
            out = out.combine_chunks()
        if not isinstance(out, pa.Array):
            out = (
                pa.Array.from_pandas(out, type=result_type)
                if hasattr(out, "to_numpy")
                else pa.array(out, type=result_type)
            )
        if out.type != result_type:
            out = out.cast(result_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
        raise wrong_result(fdef, str(e)) from None
    if length is not None and len(out) != length:
        raise wrong_result(fdef, f"{len(out)} values came back for {length} rows")
    return out


def wrong_result(fdef: FunctionDef, why: str) -> FunctionFailedError:
    err = FunctionFailedError(
        f"function {fdef.name} returned a value that is not {fdef.result_type.sql()}: {why}",
        hint=f"its declared signature is {fdef.signature()}",
    )
    err.function = fdef.name
    return _record(err)


def function_failed(fdef: FunctionDef, e: BaseException, inputs: str) -> FunctionFailedError:
    tb = e.__traceback__.tb_next if e.__traceback__ is not None else None  # cut our own frame
    own = "".join(traceback.format_exception(type(e), e, tb)).rstrip()
    err = FunctionFailedError(f"function {fdef.name} raised {type(e).__name__} on input {inputs}:\n{own}")
    err.function = fdef.name
    return _record(err)


def _first_rows(arrays: list[pa.Array], n: int = 3) -> str:
    """The start of a failing vector's input, for the error message."""
    rows = list(zip(*(a.slice(0, n).to_pylist() for a in arrays), strict=True))
    more = f" ... ({len(arrays[0])} rows)" if arrays and len(arrays[0]) > n else ""
    return ", ".join(repr(r) for r in rows) + more
