"""Option handling shared by the PostgreSQL source, sink and lookup client."""

from __future__ import annotations

from catalog.connectors import CONNECTORS
from catalog.options import OptionBag
from planner.physical import SinkSpec, SourceSpec


def options_bag(options: dict[str, str], table: str) -> OptionBag:
    return OptionBag(options, f"table '{table}'")


def finish_options(bag: OptionBag, connector: str) -> None:
    """Consume the keys the other side (source, sink, lookup) reads, then fail on any key
    the connector does not know."""
    known = [*CONNECTORS[connector].keys, "connector"]
    for key in known:
        bag.get(key)
    bag.finish(known)


def connector_name(spec: SinkSpec | SourceSpec) -> str:
    name = spec.connector.lower()
    return name if name in ("jdbc", "postgres") else "postgres"
