"""Configuration keys a user can SET, with Flink's names, defaults and checks.

Any key is accepted (Flink's client accepts any key, and connectors read their own), but
a key we do not know is reported with a warning that suggests the closest known key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from catalog.errors import OptionError, closest
from catalog.options import parse_bool, parse_duration_ms, parse_int


def _choice(*values: str) -> Callable[[str, str], None]:
    def check(value: str, key: str) -> None:
        if value.upper().replace("-", "_") not in {v.upper().replace("-", "_") for v in values}:
            raise OptionError(f"'{key}' = '{value}' is not one of {', '.join(values)}")

    return check


def _duration(value: str, key: str) -> None:
    parse_duration_ms(value, key)


def _int(value: str, key: str) -> None:
    parse_int(value, key)


def _bool(value: str, key: str) -> None:
    parse_bool(value, key)


def _ports(value: str, key: str) -> None:
    from sqlstream.prometheus import parse_ports

    parse_ports(value)


@dataclass(frozen=True)
class Key:
    name: str
    default: str | None
    description: str
    check: Callable[[str, str], None] | None = None


KEYS: dict[str, Key] = {
    k.name: k
    for k in [
        Key("execution.runtime-mode", "streaming", "streaming or batch", _choice("streaming", "batch")),
        Key("execution.checkpointing.interval", None, "how often to checkpoint; unset: never", _duration),
        Key("execution.checkpointing.mode", "EXACTLY_ONCE", "EXACTLY_ONCE or AT_LEAST_ONCE",
            _choice("EXACTLY_ONCE", "AT_LEAST_ONCE")),
        Key("execution.checkpointing.min-pause", "0 ms", "least time between two checkpoints", _duration),
        Key("execution.checkpointing.timeout", "10 min", "abort a checkpoint taking longer", _duration),
        Key("execution.checkpointing.max-concurrent-checkpoints", "1", "checkpoints in flight", _int),
        Key("execution.checkpointing.tolerable-failed-checkpoints", "0",
            "failed checkpoints before the job fails", _int),
        Key("restart-strategy.type", None, "none or fixed-delay (the default with checkpointing): "
            "a failed job restarts from its newest checkpoint"),
        Key("restart-strategy.fixed-delay.attempts", "3", "restarts before the job fails for good", _int),
        Key("restart-strategy.fixed-delay.delay", "1 s", "pause before a restart", _duration),
        Key("execution.savepoint.path", None, "resume the next job from this savepoint or checkpoint"),
        Key("execution.savepoint.ignore-unclaimed-state", "false",
            "restore from a checkpoint of another query, skipping the state no operator claims", _bool),
        Key("sqlstream.checkpoint.resume", "none",
            "latest: resume a job from the newest complete checkpoint of its pipeline.name "
            "(what 'sqlstream run' does unless --fresh); none: start fresh", _choice("latest", "none")),
        Key("state.checkpoints.dir", "checkpoints", "where checkpoints are written"),
        Key("state.checkpoints.num-retained", "1", "complete checkpoints to keep", _int),
        Key("parallelism.default", "1", "parallelism of operators", _int),
        Key("table.exec.source.idle-timeout", "0 ms", "after this, an idle input stops holding "
            "back the watermark (0: never)", _duration),
        Key("sql-client.execution.result-mode", "table", "table, changelog or tableau",
            _choice("table", "changelog", "tableau")),
        Key("sql-client.execution.max-table-result.rows", "1000000", "rows kept in table mode", _int),
        Key("sql-client.display.max-column-width", "30", "truncate wider values", _int),
        Key("pipeline.name", None, "the job's name (also names its checkpoints)"),
        Key("pipeline.auto-watermark-interval", "200 ms", "how often watermarks are emitted", _duration),
        Key("table.local-time-zone", "UTC", "time zone of TIMESTAMP_LTZ values and PROCTIME()"),
        Key("table.dml-sync", "false", "INSERT waits for the job to finish", _bool),
        Key("table.exec.late-rows.sink", None, "a table that keeps the rows window operators "
            "drop as late (columns operator, event_time, watermark_time, row_json)"),
        Key("metrics.reporter.prom.port", None, "serve the jobs' metrics to Prometheus at "
            "http://host:PORT/metrics (a range '9250-9260' takes the first free port)", _ports),
        Key("metrics.reporter.prom.host", "0.0.0.0", "address the Prometheus endpoint listens on"),
    ]
}  # fmt: skip


class Config(Mapping[str, str]):
    """The session's SET values over the defaults."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        for k, v in (values or {}).items():
            self.set(k, v)

    def set(self, key: str, value: str) -> str | None:
        """Set a key; returns a warning for a key we do not know."""
        known = KEYS.get(key)
        if known and known.check:
            known.check(value, key)
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
