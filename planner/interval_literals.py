"""Compound interval literals (``INTERVAL '1:30' HOUR TO MINUTE``, ``'2-3' YEAR TO MONTH``)
read as Flink (Calcite's SqlIntervalQualifier) reads them, into one number of one unit.

DuckDB has no compound interval literal, so the planner turns each into months or
milliseconds. The text is checked as Calcite checks it: its fields match the qualifier,
a field after the first stays in range (months 0-11, hours 0-23, minutes and seconds
0-59), a leading ``-`` negates the whole interval, seconds take up to 3 fraction digits.

>>> compound_interval("1:30", "HOUR", "MINUTE")
('MILLISECOND', 5400000)
>>> compound_interval("-1 02:03:04.5", "DAY", "SECOND")
('MILLISECOND', -93784500)
>>> compound_interval("2-3", "YEAR", "MONTH")
('MONTH', 27)
"""

from __future__ import annotations

import re

from planner.errors import PlanError

_ORDER = ("DAY", "HOUR", "MINUTE", "SECOND")
_MS = {"DAY": 86_400_000, "HOUR": 3_600_000, "MINUTE": 60_000, "SECOND": 1_000}
_LIMIT = {"HOUR": 23, "MINUTE": 59, "SECOND": 59}
_SEPARATOR = {"DAY": " ", "HOUR": ":", "MINUTE": ":"}


def compound_interval(text: str, first: str, last: str) -> tuple[str, int]:
    """``(unit, amount)``: MONTH for YEAR TO MONTH, else MILLISECOND. Raises PlanError
    for text that does not fit the qualifier, with Calcite's wording."""
    first, last = first.upper().rstrip("S"), last.upper().rstrip("S")
    qualifier = f"INTERVAL {first} TO {last}"
    bad = PlanError(
        f"Illegal interval literal format '{text}' for {qualifier}",
        hint=_EXAMPLES.get((first, last), "see Flink's interval literals"),
    )
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if (first, last) == ("YEAR", "MONTH"):
        match = re.fullmatch(r"(\d+)-(\d+)", body)
        if match is None or int(match.group(2)) > 11:
            raise bad
        return "MONTH", sign * (int(match.group(1)) * 12 + int(match.group(2)))
    if first not in _ORDER or last not in _ORDER or _ORDER.index(first) >= _ORDER.index(last):
        raise PlanError(f"{qualifier} is not an interval qualifier")
    units = _ORDER[_ORDER.index(first) : _ORDER.index(last) + 1]
    pattern = "".join(r"(\d+)" + (re.escape(_SEPARATOR[u]) if u != units[-1] else "") for u in units)
    if last == "SECOND":
        pattern += r"(?:\.(\d{1,3}))?"
    match = re.fullmatch(pattern, body)
    if match is None:
        raise bad
    values = [int(v) for v in match.groups()[: len(units)]]
    if any(v > _LIMIT[u] for u, v in zip(units[1:], values[1:])):
        raise bad
    millis = sum(v * _MS[u] for u, v in zip(units, values))
    if last == "SECOND" and match.group(len(units) + 1):
        millis += int(match.group(len(units) + 1).ljust(3, "0"))
    return "MILLISECOND", sign * millis


_EXAMPLES = {
    ("YEAR", "MONTH"): "write years-months, e.g. INTERVAL '2-3' YEAR TO MONTH (months 0-11)",
    ("DAY", "HOUR"): "write days hours, e.g. INTERVAL '1 02' DAY TO HOUR",
    ("DAY", "MINUTE"): "write days hours:minutes, e.g. INTERVAL '1 02:03' DAY TO MINUTE",
    ("DAY", "SECOND"): "write days hours:minutes:seconds, e.g. INTERVAL '1 02:03:04.5' DAY TO SECOND",
    ("HOUR", "MINUTE"): "write hours:minutes, e.g. INTERVAL '1:30' HOUR TO MINUTE",
    ("HOUR", "SECOND"): "write hours:minutes:seconds, e.g. INTERVAL '1:02:03' HOUR TO SECOND",
    ("MINUTE", "SECOND"): "write minutes:seconds, e.g. INTERVAL '10:20.25' MINUTE TO SECOND",
}
