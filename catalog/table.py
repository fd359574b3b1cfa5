"""Table and view definitions held by the catalog."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from catalog.schema import Schema

# Option keys whose values are secrets: never printed back (SHOW CREATE, EXPLAIN, logs).
SECRET_MARKERS = ("password", "secret", "sasl.jaas.config", "ssl.key", "token", "credential")


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(m in lowered for m in SECRET_MARKERS)


# A password inside another value: libpq's ``password=...`` (a DSN), a JDBC URL's
# ``?password=...``, or a URL's ``user:password@``.
_EMBEDDED = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]+)")
_USERINFO = re.compile(r"(://[^/:@\s]+:)([^@/\s]+)(@)")


def redact_value(value: str) -> str:
    """``value`` with an embedded password replaced.

    >>> redact_value("host=db user=app password='s e' dbname=x")
    'host=db user=app password=****** dbname=x'
    >>> redact_value("postgresql://app:pw@db/x"), redact_value("jdbc:postgresql://db/x?password=pw&ssl=1")
    ('postgresql://app:******@db/x', 'jdbc:postgresql://db/x?password=******&ssl=1')
    """
    return _USERINFO.sub(r"\1******\3", _EMBEDDED.sub(r"\1******", value))


def redact(options: dict[str, str]) -> dict[str, str]:
    """The options with secret values replaced, for anything shown to a person."""
    return {k: ("******" if is_secret(k) else redact_value(v)) for k, v in options.items()}


@dataclass(frozen=True)
class TableDef:
    """A table declared with CREATE TABLE: a schema plus connector options."""

    name: str
    schema: Schema
    options: dict[str, str] = field(default_factory=dict)
    temporary: bool = False
    comment: str | None = None
    # PARTITIONED BY: the columns whose values name a file table's directories (dt=.../hr=...)
    partition_keys: tuple[str, ...] = ()

    @property
    def connector(self) -> str:
        return self.options.get("connector", "")

    def with_options(self, updates: dict[str, str]) -> TableDef:
        return replace(self, options={**self.options, **updates})

    def to_json(self) -> dict[str, Any]:
        from catalog.serde import table_to_json

        return table_to_json(self)


@dataclass(frozen=True)
class ViewDef:
    """A view: its query text (Flink SQL), re-planned wherever it is used."""

    name: str
    query: str
    temporary: bool = False
    columns: tuple[str, ...] = ()
    comment: str | None = None
    # the catalog and database its query's names resolve in: those current when it was
    # created (None: the default ones), as Flink expands a view's names at CREATE VIEW
    scope: tuple[str, str] | None = None
