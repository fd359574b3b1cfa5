"""An option bag that is consumed as it is read: whatever is left over is an error.

That one rule gives "unknown option 'topc', did you mean 'topic'?" for every connector
and format without each of them checking by hand (Arroyo's habit).
"""

from __future__ import annotations

from collections.abc import Iterable

from catalog.errors import OptionError, did_you_mean

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
# Flink's labels (TimeUtils) and a few more; below a millisecond rounds down
_DURATION_UNITS: dict[str, float] = {
    "ms": 1, "milli": 1, "millis": 1, "millisecond": 1, "milliseconds": 1,
    "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
    "min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000, "m": 60_000,
    "h": 3_600_000, "hour": 3_600_000, "hours": 3_600_000,
    "d": 86_400_000, "day": 86_400_000, "days": 86_400_000,
    "\u00b5s": 0.001, "micro": 0.001, "micros": 0.001, "microsecond": 0.001, "microseconds": 0.001,
    "ns": 1e-6, "nano": 1e-6, "nanos": 1e-6, "nanosecond": 1e-6, "nanoseconds": 1e-6,
}  # fmt: skip


def parse_duration_ms(value: str, key: str = "value") -> int:
    """Flink's duration syntax: ``10 s``, ``500ms``, ``1 min``; a bare number is ms."""
    text = value.strip().lower()
    num = text.rstrip("abcdefghijklmnopqrstuvwxyz\u00b5 ").strip()
    unit = text[len(num) :].strip() or "ms"
    try:
        amount = float(num)
    except ValueError:
        raise OptionError(
            f"'{key}' = '{value}' is not a duration", hint="write it like '10 s' or '500 ms'"
        ) from None
    if unit not in _DURATION_UNITS:
        raise OptionError(
            f"'{key}' = '{value}' has an unknown time unit '{unit}'",
            hint="use ms, s, min, h or d",
        )
    return int(amount * _DURATION_UNITS[unit])


def format_duration_ms(ms: int) -> str:
    """A duration as Flink writes one, in its largest whole unit.

    >>> format_duration_ms(86_400_000), format_duration_ms(5_400_000), format_duration_ms(1500)
    ('1 d', '90 min', '1500 ms')
    """
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def parse_bool(value: str, key: str = "value") -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise OptionError(f"'{key}' = '{value}' is not a boolean", hint="use 'true' or 'false'")


def parse_int(value: str, key: str = "value") -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise OptionError(f"'{key}' = '{value}' is not an integer") from None


class OptionBag:
    """WITH options of one table; each ``get_*`` consumes its key."""

    def __init__(self, options: dict[str, str], where: str) -> None:
        self._left = dict(options)
        self._all = dict(options)
        self.where = where

    def has(self, key: str) -> bool:
        return key in self._all

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self._left.pop(key, None)
        if value is None:
            return self._all.get(key, default)
        return value

    def require(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise OptionError(f"{self.where}: the required option '{key}' is missing")
        return value

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self.get(key)
        return default if value is None else parse_int(value, key)

    def get_bool(self, key: str, default: bool) -> bool:
        value = self.get(key)
        return default if value is None else parse_bool(value, key)

    def get_duration_ms(self, key: str, default: int | None = None) -> int | None:
        value = self.get(key)
        return default if value is None else parse_duration_ms(value, key)

    def get_choice(self, key: str, choices: Iterable[str], default: str | None = None) -> str | None:
        value = self.get(key)
        if value is None:
            return default
        allowed = list(choices)
        if value.lower() not in [c.lower() for c in allowed]:
            raise OptionError(
                f"{self.where}: '{key}' = '{value}' is not one of {', '.join(allowed)}",
                hint=did_you_mean(value, allowed),
            )
        return value.lower()

    def prefixed(self, prefix: str) -> dict[str, str]:
        """Consume every key under ``prefix`` and return them without it."""
        found = {k[len(prefix) :]: v for k, v in self._all.items() if k.startswith(prefix)}
        for k in list(self._left):
            if k.startswith(prefix):
                del self._left[k]
        return found

    def finish(self, known: Iterable[str] = ()) -> None:
        """Raise for the first option nobody consumed, suggesting the closest known key."""
        if not self._left:
            return
        key = sorted(self._left)[0]
        pool = list(known) or list(self._all)
        raise OptionError(f"{self.where}: unknown option '{key}'", hint=did_you_mean(key, pool))
