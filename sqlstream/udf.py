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


def signature(fn: Any) -> tuple[tuple[DataType, ...], DataType, str, bool]:
    """(input types, result type, func_type, deterministic) of a decorated or annotated
    function; a type that is neither declared nor annotated is a :class:`UdfError`."""
    if isinstance(fn, ScalarFunction):
        func, declared_in, declared_out = fn.func, fn.input_types, fn.result_type
        func_type, deterministic, name = fn.func_type, fn.deterministic, fn.name
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
