"""Options several connectors share."""

from __future__ import annotations

from catalog.connectors.spec import Guarantee, OptionType
from catalog.connectors.spec import option as _o

DELIVERY = _o(
    "sink.delivery-guarantee",
    OptionType.ENUM,
    choices=("exactly-once", "at-least-once", "none"),
)
PARALLELISM = _o("sink.parallelism", OptionType.INT)
ALL_GUARANTEES = (Guarantee.EXACTLY_ONCE, Guarantee.AT_LEAST_ONCE, Guarantee.NONE)
