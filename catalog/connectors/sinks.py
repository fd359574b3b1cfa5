"""Flink's ``print`` and ``blackhole`` sinks: a few options, no rules between them."""

from __future__ import annotations

from catalog.connectors.common import PARALLELISM
from catalog.connectors.spec import ChangelogMode, ConnectorSpec, OptionType
from catalog.connectors.spec import option as _o

PRINT = ConnectorSpec(
    "print",
    (
        _o("print-identifier"),
        _o("standard-error", OptionType.BOOL, default="false"),
        PARALLELISM,
    ),
    sink=True,
    sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.ALL),
)

BLACKHOLE = ConnectorSpec(
    "blackhole",
    (PARALLELISM,),
    sink=True,
    sink_changelog=(ChangelogMode.INSERT_ONLY, ChangelogMode.ALL),
)
