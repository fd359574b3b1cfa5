"""Python functions for SQL, with PyFlink's decorator shape so that existing PyFlink UDF
modules need few changes.

>>> @udf(result_type='BIGINT')
... def add_one(i: int) -> int:
...     return i + 1
>>> add_one(41)
42
>>> inputs, result, func_type, deterministic = signature(add_one)
>>> [t.sql() for t in inputs], result.sql(), func_type, deterministic
(['BIGINT'], 'BIGINT', 'general', True)

A plain annotated function needs no decorator: ``def f(s: str | None, c: str) -> int`` is
``STRING, STRING -> BIGINT``. ``func_type='arrow'`` (or ``'pandas'``) functions take and
return whole columns, once per batch, and are the fast way to run Python over a stream.

Table functions (``@udtf``) yield rows for ``LATERAL TABLE(f(x))``; aggregate functions
(``@udaf`` over an :class:`AggregateFunction`) fold a group's rows into an accumulator, and
vectorized ones (``@udaf(func_type='pandas')`` over a plain function) take a window's
values as pandas Series:

>>> @udtf(result_types=['STRING', 'INT'])
... def words(line: str):
...     for w in line.split():
...         yield w, len(w)
>>> [t.sql() for t in signature(words)[0]], signature(words)[1].sql()
(['STRING'], 'ROW<`f0` STRING, `f1` INT>')
"""

from __future__ import annotations

import datetime
import decimal
import inspect
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from catalog.errors import SqlStreamError
from catalog.functions import FUNC_TYPES
from catalog.types import DataType, parse_type

TypeLike = str | DataType

_PY_TYPES: dict[Any, str] = {
    str: "STRING",
    int: "BIGINT",
    float: "DOUBLE",
    bool: "BOOLEAN",
    bytes: "BYTES",
    decimal.Decimal: "DECIMAL(38, 18)",
    datetime.datetime: "TIMESTAMP(6)",
    datetime.date: "DATE",
    datetime.time: "TIME",
}


class UdfError(SqlStreamError):
    """A Python function that cannot be used from SQL (bad signature, module not found)."""


class TableFunction:
    """PyFlink's base class of a table function: ``eval`` yields the rows of one call
    (tuples, or single values for a one-column function)."""

    def open(self, function_context: Any = None) -> None:
        """Called once per subtask before the first ``eval``."""

    def eval(self, *args: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Called once per subtask after the last ``eval``."""


class AggregateFunction:
    """PyFlink's base class of an aggregate function. ``accumulate`` folds one row into
    the accumulator (in place), ``retract`` takes one out (needed over an updating input),
    ``merge`` folds other accumulators in, ``get_value`` reads the result."""

    def create_accumulator(self) -> Any:
        raise NotImplementedError

    def accumulate(self, accumulator: Any, *args: Any) -> None:
        raise NotImplementedError

    def get_value(self, accumulator: Any) -> Any:
        raise NotImplementedError

    def merge(self, accumulator: Any, accumulators: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no merge")

    def open(self, function_context: Any = None) -> None:
        """Called once per subtask before the first call."""

    def close(self) -> None:
        """Called once per subtask at the end."""


class PandasAggregateFunction(AggregateFunction):
    """A vectorized aggregate (PyFlink's ``@udaf(func_type='pandas')``): ``func`` takes
    each argument's values over a whole group or window as a pandas Series and returns one
    value. Window and OVER operators call ``func`` on the rows they keep, once per window
    or frame (``runtime.operators.udaf``); elsewhere (a batch GROUP BY) the accumulator is
    the list of argument rows and ``get_value`` calls ``func`` on them. It cannot retract,
    and PyFlink supports it only where a group's rows are all known (windows, bounded OVER
    frames, batch mode)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def create_accumulator(self) -> list[tuple[Any, ...]]:
        return []

    def accumulate(self, accumulator: list[tuple[Any, ...]], *args: Any) -> None:
        accumulator.append(args)

    def get_value(self, accumulator: list[tuple[Any, ...]]) -> Any:
        import pandas as pd

        columns = list(zip(*accumulator)) if accumulator else []
        return self.func(*(pd.Series(c) for c in columns))

    def __repr__(self) -> str:
        return f"<pandas aggregate {getattr(self.func, '__name__', self.func)}>"


class ScalarFunction:
    """A Python callable with the SQL signature it was declared with (PyFlink's
    ``UserDefinedScalarFunctionWrapper``); calling it calls the function."""

    def __init__(
        self,
        func: Callable[..., Any],
        input_types: Sequence[TypeLike] | None,
        result_type: TypeLike | None,
        func_type: str,
        deterministic: bool,
        name: str | None,
    ) -> None:
        if func_type not in FUNC_TYPES:
            raise UdfError(f"func_type must be one of {', '.join(FUNC_TYPES)}, not {func_type!r}")
        self.func = func
        self.input_types = None if input_types is None else tuple(_sql_type(t) for t in input_types)
        self.result_type = None if result_type is None else _sql_type(result_type)
        self.func_type = func_type
        self.deterministic = deterministic
        self.name = name or getattr(func, "__name__", "udf")

    def __call__(self, *args: Any) -> Any:
        return self.func(*args)

    def __repr__(self) -> str:
        return f"<udf {self.name}>"


def udf(
    f: Callable[..., Any] | None = None,
    input_types: Sequence[TypeLike] | TypeLike | None = None,
    result_type: TypeLike | None = None,
    deterministic: bool | None = None,
    name: str | None = None,
    func_type: str = "general",
) -> Any:
    """Declare a scalar function, as PyFlink's ``pyflink.table.udf.udf`` does: used bare
    (``@udf``), with arguments (``@udf(result_type='BIGINT')``) or called on a function."""
    inputs = [input_types] if isinstance(input_types, str | DataType) else input_types

    def wrap(fn: Callable[..., Any]) -> ScalarFunction:
        return ScalarFunction(fn, inputs, result_type, func_type, deterministic is not False, name)

    return wrap if f is None else wrap(f)


class TableFunctionWrapper:
    """A table function with its declared SQL signature (PyFlink's
    ``UserDefinedTableFunctionWrapper``); ``eval`` is the function that yields rows."""

    kind = "table"

    def __init__(
        self,
        func: Callable[..., Any] | TableFunction,
        input_types: Sequence[TypeLike] | None,
        result_types: Sequence[TypeLike] | TypeLike,
        deterministic: bool,
        name: str | None,
    ) -> None:
        self.function = func() if isinstance(func, type) else func
        self.eval: Callable[..., Any] = (
            self.function.eval if isinstance(self.function, TableFunction) else self.function
        )
        self.input_types = None if input_types is None else tuple(_sql_type(t) for t in input_types)
        outs = [result_types] if isinstance(result_types, str | DataType) else list(result_types)
        if not outs:
            raise UdfError("a table function needs result_types: the SQL types of its columns")
        self.result_types = tuple(_sql_type(t) for t in outs)
        self.deterministic = deterministic
        self.name = name or getattr(self.eval, "__name__", "udtf")
        if self.name == "eval":
            self.name = type(self.function).__name__

    def __call__(self, *args: Any) -> Any:
        return self.eval(*args)

    def __repr__(self) -> str:
        return f"<udtf {self.name}>"


class AggregateFunctionWrapper:
    """An aggregate function with its declared SQL signature (PyFlink's
    ``UserDefinedAggregateFunctionWrapper``)."""

    kind = "aggregate"

    def __init__(
        self,
        func: AggregateFunction | type,
        input_types: Sequence[TypeLike] | None,
        result_type: TypeLike | None,
        accumulator_type: TypeLike | None,
        func_type: str,
        deterministic: bool,
        name: str | None,
    ) -> None:
        if func_type not in ("general", "pandas"):
            raise UdfError(f"an aggregate function's func_type is 'general' or 'pandas', not {func_type!r}")
        if func_type == "pandas":
            if isinstance(func, type | AggregateFunction) or not callable(func):
                raise UdfError(
                    f"a func_type='pandas' aggregate function is a plain function of pandas Series, "
                    f"not {func!r}",
                    hint="def f(v: pd.Series) -> float: return v.mean()",
                )
            if result_type is None:
                shown = getattr(func, "__name__", func)
                raise UdfError(f"pandas aggregate function {shown!r} needs result_type")
            func = PandasAggregateFunction(func)
        self.function = func() if isinstance(func, type) else func
        if not isinstance(self.function, AggregateFunction):
            raise UdfError(
                f"{self.function!r} is not an AggregateFunction",
                hint="subclass sqlstream.udf.AggregateFunction (create_accumulator, accumulate, get_value)",
            )
        self.func_type = func_type
        self.input_types = None if input_types is None else tuple(_sql_type(t) for t in input_types)
        declared = result_type
        if declared is None and hasattr(self.function, "get_result_type"):
            declared = self.function.get_result_type()
        self.result_type = None if declared is None else _sql_type(declared)
        acc = accumulator_type
        if acc is None and hasattr(self.function, "get_accumulator_type"):
            acc = self.function.get_accumulator_type()
        self.accumulator_type = None if acc is None else _sql_type(acc)
        self.deterministic = deterministic
        self.name = name or (
            getattr(getattr(self.function, "func", self.function), "__name__", None)
            or type(self.function).__name__
        )

    @property
    def retracts(self) -> bool:
        """Whether the function overrides ``retract`` (so it can run over -U/-D rows)."""
        return callable(getattr(self.function, "retract", None))

    def __repr__(self) -> str:
        return f"<udaf {self.name}>"


def udtf(
    f: Callable[..., Any] | TableFunction | type | None = None,
    input_types: Sequence[TypeLike] | TypeLike | None = None,
    result_types: Sequence[TypeLike] | TypeLike | None = None,
    deterministic: bool | None = None,
    name: str | None = None,
) -> Any:
    """Declare a table function, as PyFlink's ``pyflink.table.udf.udtf`` does: a generator
    (or a :class:`TableFunction`) yielding the rows of each call, with ``result_types``
    the SQL types of its columns."""
    inputs = [input_types] if isinstance(input_types, str | DataType) else input_types

    def wrap(fn: Callable[..., Any] | TableFunction | type) -> TableFunctionWrapper:
        if result_types is None:
            raise UdfError(f"udtf {getattr(fn, '__name__', fn)!r} needs result_types=[...]")
        return TableFunctionWrapper(fn, inputs, result_types, deterministic is not False, name)

    return wrap if f is None else wrap(f)


def udaf(
    f: AggregateFunction | type | None = None,
    input_types: Sequence[TypeLike] | TypeLike | None = None,
    result_type: TypeLike | None = None,
    accumulator_type: TypeLike | None = None,
    deterministic: bool | None = None,
    name: str | None = None,
    func_type: str = "general",
) -> Any:
    """Declare an aggregate function, as PyFlink's ``pyflink.table.udf.udaf`` does: an
    :class:`AggregateFunction` (instance or class) with its input, result and accumulator
    types (read from ``accumulate``'s and ``get_value``'s annotations when not declared);
    or, with ``func_type='pandas'``, a plain function from pandas Series to one value
    (:class:`PandasAggregateFunction`), used in windows, bounded OVER frames and batch mode."""
    inputs = [input_types] if isinstance(input_types, str | DataType) else input_types

    def wrap(fn: AggregateFunction | type) -> AggregateFunctionWrapper:
        return AggregateFunctionWrapper(
            fn, inputs, result_type, accumulator_type, func_type, deterministic is not False, name
        )

    return wrap if f is None else wrap(f)


def signature(fn: Any) -> tuple[tuple[DataType, ...], DataType, str, bool]:
    """(input types, result type, func_type, deterministic) of a decorated or annotated
    function; a type that is neither declared nor annotated is a :class:`UdfError`. A
    table function's result is the ROW of its columns ``f0``, ``f1``, ..."""
    skip = 0  # leading parameters that are not SQL arguments (an aggregate's accumulator)
    if isinstance(fn, ScalarFunction):
        func, declared_in, declared_out = fn.func, fn.input_types, fn.result_type
        func_type, deterministic, name = fn.func_type, fn.deterministic, fn.name
    elif isinstance(fn, TableFunctionWrapper):
        func, declared_in = fn.eval, fn.input_types
        declared_out = DataType(
            "ROW", children=fn.result_types, field_names=tuple(f"f{i}" for i in range(len(fn.result_types)))
        )
        func_type, deterministic, name = "general", fn.deterministic, fn.name
    elif isinstance(fn, AggregateFunctionWrapper):
        declared_in, declared_out = fn.input_types, fn.result_type
        func_type, deterministic, name = fn.func_type, fn.deterministic, fn.name
        if isinstance(fn.function, PandasAggregateFunction):
            func = fn.function.func
        else:
            func, skip = fn.function.accumulate, 1
        if declared_out is None:
            declared_out = _annotated(
                typing.get_type_hints(fn.function.get_value).get("return"), f"the result of {name}"
            )
    elif callable(fn):
        func, declared_in, declared_out = fn, None, None
        func_type, deterministic, name = "general", True, getattr(fn, "__name__", repr(fn))
    else:
        raise UdfError(f"{fn!r} is not a function")
    try:
        params = list(inspect.signature(func).parameters.values())
        hints = typing.get_type_hints(func)
    except (TypeError, ValueError, NameError) as e:
        raise UdfError(f"cannot read the signature of {name}: {e}") from None
    params = params[skip:]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in params):
        raise UdfError(f"function {name} must take positional arguments only, one per SQL argument")
    if declared_in is not None:
        if len(declared_in) != len(params):
            raise UdfError(
                f"function {name} declares {len(declared_in)} input type(s) "
                f"but takes {len(params)} argument(s)"
            )
        inputs = declared_in
    else:
        inputs = tuple(_annotated(hints.get(p.name), f"argument '{p.name}' of {name}") for p in params)
    result = (
        declared_out if declared_out is not None else _annotated(hints.get("return"), f"the result of {name}")
    )
    return inputs, result, func_type, deterministic


def _annotated(hint: Any, what: str) -> DataType:
    """The SQL type of a Python annotation: ``str | None`` is a nullable STRING."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    sql = _PY_TYPES.get(hint)
    if sql is None:
        shown = "no annotation" if hint is None else f"annotation {getattr(hint, '__name__', hint)}"
        raise UdfError(
            f"{what} has {shown}: its SQL type is unknown",
            hint="annotate it with str, int, float, bool, bytes, Decimal, date or datetime, "
            "or declare it: @udf(input_types=[...], result_type=...)",
        )
    return parse_type(sql)


def _sql_type(t: TypeLike) -> DataType:
    if isinstance(t, DataType):
        return t
    try:
        return parse_type(str(t))
    except SqlStreamError as e:
        raise UdfError(f"unknown SQL type {t!r}: {e}") from None
