"""The session's configuration: SET values over the defaults of ``catalog.config``.

Any key is accepted (Flink's client accepts any key, and connectors read their own), but
a key we do not know is reported with a warning that suggests the closest known key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from catalog.config import KEYS, ConfigKey
from catalog.errors import closest

__all__ = ["KEYS", "Config", "ConfigKey"]


class Config(Mapping[str, str]):
    """The session's SET values over the defaults."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        for k, v in (values or {}).items():
            self.set(k, v)

    def set(self, key: str, value: str) -> str | None:
        """Set a key; returns a warning for a key we do not know."""
        known = KEYS.get(key)
        if known is not None:
            known.check(value)
        self._values[key] = value
        if known is None:
            best = closest(key, KEYS)
            suggestion = f"; did you mean '{best}'?" if best else ""
            return f"'{key}' is not a key sqlstream knows; it is kept{suggestion}"
        return None

    def reset(self, key: str | None = None) -> None:
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)

    def explicit(self) -> dict[str, str]:
        return dict(self._values)

    def effective(self) -> dict[str, str]:
        """Every known key with its value, set or default, plus the unknown keys set."""
        out = {k: v.default for k, v in KEYS.items() if v.default is not None}
        out.update(self._values)
        return out

    def __getitem__(self, key: str) -> str:
        if key in self._values:
            return self._values[key]
        known = KEYS.get(key)
        if known is None or known.default is None:
            raise KeyError(key)
        return known.default

    def __iter__(self) -> Iterator[str]:
        return iter(self.effective())

    def __len__(self) -> int:
        return len(self.effective())
