"""The registry: one table from connector names to their implementations.

Each connector is a package under ``runtime/connectors/`` whose ``__init__.py`` has an
``implementation()`` function; ``CONNECTORS`` below lists them, one line each (the recipe
is in ``README.md``). The functions import their modules only when a job first asks for
the connector, so a job that never writes to PostgreSQL never imports psycopg. What each
connector accepts and promises lives in ``catalog.connectors``; a test checks that the two
tables name the same connectors with the same capabilities.

``register_source`` / ``register_sink`` add a connector outside the table (or replace
one) for tests and embedders; production connectors never use them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from catalog.errors import OptionError, did_you_mean
from planner.physical import SinkSpec, SourceSpec
from runtime.connectors import blackhole, datagen, filesystem, kafka, postgres, postgres_cdc, values
from runtime.connectors import print as print_
from runtime.connectors.base import (
    Implementation,
    LookupClient,
    SinkWriter,
    SourceReader,
    SubtaskContext,
)

#: Every connector of the engine: its name in ``'connector' = '...'`` and its package.
CONNECTORS: dict[str, Callable[[], Implementation]] = {
    "blackhole": blackhole.implementation,
    "datagen": datagen.implementation,
    "filesystem": filesystem.implementation,
    "jdbc": postgres.implementation,
    "kafka": kafka.implementation,
    "postgres": postgres.implementation,
    "postgres-cdc": postgres_cdc.implementation,
    "print": print_.implementation,
    "upsert-kafka": kafka.upsert_implementation,
}

#: Connectors with no catalog spec (no table can name them): built by hand in plans, for
#: tests, and by the planner for SQL VALUES (the ``values`` source's ``query`` option).
TEST_CONNECTORS: dict[str, Callable[[], Implementation]] = {
    "values": values.implementation,
}

_EXTRA_SOURCES: dict[str, type[SourceReader]] = {}
_EXTRA_SINKS: dict[str, type[SinkWriter]] = {}


def register_source(name: str, cls: type[SourceReader]) -> None:
    """Use ``cls`` for sources of connector ``name`` (tests and embedders)."""
    _EXTRA_SOURCES[name.lower()] = cls


def register_sink(name: str, cls: type[SinkWriter]) -> None:
    """Use ``cls`` for sinks of connector ``name`` (tests and embedders)."""
    _EXTRA_SINKS[name.lower()] = cls


def implementation(connector: str) -> Implementation | None:
    """The implementation of ``connector`` from the table, or None if there is none."""
    name = connector.lower()
    load = CONNECTORS.get(name) or TEST_CONNECTORS.get(name)
    return load() if load is not None else None


def _missing(table: str, connector: str, kind: str) -> OptionError:
    return OptionError(
        f"table '{table}': no {kind} implementation for connector '{connector}'",
        hint=did_you_mean(connector.lower(), sorted({*CONNECTORS, *TEST_CONNECTORS})),
    )


def create_source(spec: SourceSpec, ctx: SubtaskContext) -> SourceReader:
    cls = _EXTRA_SOURCES.get(spec.connector.lower())
    if cls is None:
        impl = implementation(spec.connector)
        cls = impl.source if impl else None
    if cls is None:
        raise _missing(spec.table, spec.connector, "source")
    return cls(spec, ctx)


def create_sink(spec: SinkSpec, ctx: SubtaskContext) -> SinkWriter:
    cls = _EXTRA_SINKS.get(spec.connector.lower())
    if cls is None:
        impl = implementation(spec.connector)
        cls = impl.sink if impl else None
    if cls is None:
        raise _missing(spec.table, spec.connector, "sink")
    return cls(spec, ctx)


def create_lookup(spec: SourceSpec, key_columns: Sequence[str]) -> LookupClient:
    impl = implementation(spec.connector)
    if impl is None or impl.lookup is None:
        raise OptionError(f"table '{spec.table}': connector '{spec.connector}' cannot be looked up")
    return impl.lookup(spec, key_columns)


__all__ = [
    "CONNECTORS",
    "TEST_CONNECTORS",
    "LookupClient",
    "create_lookup",
    "create_sink",
    "create_source",
    "implementation",
    "register_sink",
    "register_source",
]
