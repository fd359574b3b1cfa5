"""Time-zone names as Java's ``TimeZone.getTimeZone`` reads them, and CONVERT_TZ.

Flink's CONVERT_TZ (DateTimeUtils.convertTz) looks its zones up with java.util.TimeZone:
an IANA name, a custom ``GMT+08:00`` offset, or one of Java's old three-letter IDs
(``PST`` is America/Los_Angeles); a name it does not know is GMT, silently. DuckDB's ICU
knows the IANA names and offsets but fails on the others, so each name is resolved here,
at planning time, to one DuckDB accepts. The IANA list is the one Python's zoneinfo reads
(the tz database the process has, as DuckDB's ICU has its own copy of it).

>>> java_zone("PST"), java_zone("GMT+8"), java_zone("Nowhere/Zone"), java_zone("Asia/Kolkata")
('America/Los_Angeles', 'GMT+08:00', 'UTC', 'Asia/Kolkata')
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable

from sqlglot import exp

from planner.errors import UnsupportedError
from planner.lenient_time import lenient_timestamp
from planner.numeric import template

# java.time.ZoneId.SHORT_IDS, which java.util.TimeZone also resolves this way
_SHORT_IDS = {
    "ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo",
    "BST": "Asia/Dhaka", "CAT": "Africa/Harare", "CNT": "America/St_Johns", "CST": "America/Chicago",
    "CTT": "Asia/Shanghai", "EAT": "Africa/Addis_Ababa", "ECT": "Europe/Paris",
    "IET": "America/Indiana/Indianapolis", "IST": "Asia/Kolkata", "JST": "Asia/Tokyo",
    "MIT": "Pacific/Apia", "NET": "Asia/Yerevan", "NST": "Pacific/Auckland", "PLT": "Asia/Karachi",
    "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico", "PST": "America/Los_Angeles",
    "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh", "EST": "GMT-05:00",
    "MST": "GMT-07:00", "HST": "GMT-10:00",
}  # fmt: skip
_CUSTOM = re.compile(r"GMT([+-])(\d{1,2})(?::?(\d{2}))?")


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def java_zone(name: str) -> str:
    """The zone DuckDB should use for what Java's TimeZone.getTimeZone(name) gives."""
    custom = _CUSTOM.fullmatch(name)
    if custom:
        hours, minutes = int(custom.group(2)), int(custom.group(3) or 0)
        if hours <= 23 and minutes <= 59:
            return f"GMT{custom.group(1)}{hours:02d}:{minutes:02d}"
        return "UTC"
    if name in _SHORT_IDS:
        return _SHORT_IDS[name]
    if name in ("GMT", "UTC") or name in _known():
        return name
    return "UTC"  # Java: "the GMT zone if the given ID cannot be understood"


def _zone(arg: exp.Expr) -> exp.Expr | None:
    """A constant zone resolved, or None for a NULL one; anything else is refused."""
    if isinstance(arg, exp.Cast) and isinstance(arg.this, exp.Null):
        return None
    if not arg.is_string:
        raise UnsupportedError("CONVERT_TZ with a time zone that is not a constant")
    return exp.Literal.string(java_zone(arg.name))


def _convert_tz(n: exp.Anonymous) -> exp.Expr:
    """CONVERT_TZ(text, from, to): 'yyyy-MM-dd HH:mm:ss' read at the start of the text as a
    lenient SimpleDateFormat does (the rest ignored; NULL when it does not start so) as wall time in
    ``from``, printed as the wall time in ``to`` at that instant."""
    text, source, target = n.expressions
    zones = [_zone(source), _zone(target)]
    if zones[0] is None or zones[1] is None:
        return exp.cast(exp.null(), "VARCHAR")
    stamp = lenient_timestamp(text)
    assert stamp is not None
    return template(
        "strftime(timezone({t}, timezone({f}, {x})), '%Y-%m-%d %H:%M:%S')",
        x=stamp,
        f=zones[0],
        t=zones[1],
    )


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {"CONVERT_TZ": _convert_tz}
