"""Connector lookup: names to ``SourceReader`` / ``SinkWriter`` classes.

A connector module registers its classes at import time::

    from runtime.connectors.registry import register_sink, register_source
    register_source("datagen", DatagenSource)

``create_source`` / ``create_sink`` import ``runtime.connectors.<module>`` lazily the first
time a connector name is asked for (``upsert-kafka`` lives in ``upsert_kafka``).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import pyarrow as pa

from catalog.errors import OptionError, did_you_mean
from planner.physical import SinkSpec, SourceSpec
from runtime.connectors.base import SinkWriter, SourceReader, SubtaskContext

T = TypeVar("T")

_SOURCES: dict[str, type[SourceReader]] = {}
_SINKS: dict[str, type[SinkWriter]] = {}
_KNOWN = ("datagen", "filesystem", "print", "blackhole", "kafka", "upsert-kafka", "values")


def register_source(name: str, cls: type[SourceReader]) -> None:
    _SOURCES[name.lower()] = cls


def register_sink(name: str, cls: type[SinkWriter]) -> None:
    _SINKS[name.lower()] = cls


def module_name(connector: str) -> str:
    return "runtime.connectors." + connector.lower().replace("-", "_")


def _load(name: str) -> None:
    try:
        importlib.import_module(module_name(name))
    except ModuleNotFoundError as e:
        if e.name != module_name(name):
            raise


def _find(table: str, connector: str, kind: str, found: dict[str, T]) -> T:
    """The class registered for ``connector``, importing its module the first time."""
    name = connector.lower()
    if name not in found:
        _load(name)
    cls = found.get(name)
    if cls is None:
        raise OptionError(
            f"table '{table}': no {kind} implementation for connector '{connector}'",
            hint=did_you_mean(name, sorted(set(found) | set(_KNOWN))),
        )
    return cls


def create_source(spec: SourceSpec, ctx: SubtaskContext) -> SourceReader:
    return _find(spec.table, spec.connector, "source", _SOURCES)(spec, ctx)


def create_sink(spec: SinkSpec, ctx: SubtaskContext) -> SinkWriter:
    return _find(spec.table, spec.connector, "sink", _SINKS)(spec, ctx)


class LookupClient(Protocol):
    """What a lookup join asks of a connector (``runtime/operators/lookup_join.py``):
    ``lookup(keys)`` returns the matching table rows, a column ``__lookup_row`` (which row
    of ``keys`` each match belongs to) followed by the table's columns."""

    async def open(self) -> None: ...

    async def lookup(self, keys: pa.RecordBatch) -> pa.RecordBatch: ...

    async def close(self) -> None: ...


_LOOKUPS: dict[str, Callable[[SourceSpec, Sequence[str]], LookupClient]] = {}


def register_lookup(name: str, factory: Callable[[SourceSpec, Sequence[str]], LookupClient]) -> None:
    _LOOKUPS[name.lower()] = factory


def create_lookup(spec: SourceSpec, key_columns: Sequence[str]) -> LookupClient:
    name = spec.connector.lower()
    if name not in _LOOKUPS:
        _load(name)
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(module_name(name) + "_lookup")
    factory = _LOOKUPS.get(name)
    if factory is None:
        raise OptionError(f"table '{spec.table}': connector '{spec.connector}' cannot be looked up")
    return factory(spec, key_columns)
