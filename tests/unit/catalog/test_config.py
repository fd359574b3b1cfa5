"""The one table of configuration keys: typed reads, defaults, checks, and every layer
reading through it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from catalog.config import (
    CHECKPOINTING_INTERVAL,
    CHECKPOINTING_MODE,
    KEYS,
    LOCAL_TIME_ZONE,
    PARALLELISM,
    RESTART_ATTEMPTS,
    RESTART_STRATEGY,
    checkpointing_enabled,
)
from catalog.errors import OptionError
from planner.physical_planner import delivery_guarantee
from runtime.checkpoint.coordinator import CheckpointConfig
from runtime.restart import RestartStrategy
from sqlstream.config import Config

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_default_parses_as_its_type(name: str) -> None:
    key = KEYS[name]
    value = key.get({})
    if key.default is None:
        assert value in (None, False)
    else:
        assert value is not None


def test_typed_values_and_flink_spellings() -> None:
    assert CHECKPOINTING_INTERVAL.get({"execution.checkpointing.interval": "1 min"}) == 60_000
    assert CHECKPOINTING_INTERVAL.get({}) is None
    assert CHECKPOINTING_MODE.get({"execution.checkpointing.mode": "at_least_once"}) == "AT_LEAST_ONCE"
    assert RESTART_STRATEGY.get({"restart-strategy.type": "fixeddelay"}) == "fixed-delay"
    assert PARALLELISM.get({"parallelism.default": "4"}) == 4
    assert not checkpointing_enabled({"execution.checkpointing.interval": "0 s"})


def test_a_bad_value_names_its_key() -> None:
    with pytest.raises(OptionError, match=r"execution\.checkpointing\.timeout"):
        CheckpointConfig.from_config({"execution.checkpointing.timeout": "soon"})
    with pytest.raises(OptionError, match=r"restart-strategy\.type"):
        Config().set("restart-strategy.type", "exponential-delay")


def test_set_of_an_unknown_key_warns_with_the_closest_known_key() -> None:
    cfg = Config()
    warning = cfg.set("execution.checkpointing.intervall", "1 s")
    assert warning is not None and "did you mean 'execution.checkpointing.interval'" in warning
    assert cfg["execution.checkpointing.intervall"] == "1 s"  # kept, as Flink's client does


def test_planner_and_runtime_read_the_same_values() -> None:
    config = {"execution.checkpointing.interval": "5 s", "execution.checkpointing.mode": "at-least-once"}
    runtime_view = CheckpointConfig.from_config(config)
    assert runtime_view.interval_ms == 5000 and not runtime_view.exactly_once
    # the planner sees the same mode: an exactly-once sink falls back to at-least-once
    assert delivery_guarantee("filesystem", {}, config).value == "at-least-once"
    assert RestartStrategy.from_config(config).attempts == RESTART_ATTEMPTS.get({})


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata", "GMT-03:00", "GMT+8"])
def test_a_time_zone_flink_takes_is_taken(zone: str) -> None:
    Config().set(LOCAL_TIME_ZONE.name, zone)


@pytest.mark.parametrize("zone", ["Mars/Base", "PST", "CET ", "+08:00", ""])
def test_a_time_zone_flink_refuses_is_refused_at_set_not_in_the_job(zone: str) -> None:
    """Before, an unknown zone was taken and the job failed inside DuckDB at its first row."""
    with pytest.raises(OptionError, match="is not a time zone") as e:
        Config().set(LOCAL_TIME_ZONE.name, zone)
    assert "America/Los_Angeles" in (e.value.hint or "")


_RAW_READ = re.compile(r"""\.get\(\s*["']([a-z][a-z0-9.-]+)["']""")


def test_no_layer_reads_a_known_key_with_its_own_default() -> None:
    """Defaults live once: ``config.get("parallelism.default", "1")`` anywhere else would be
    a second copy that can drift."""
    offenders = []
    for package in ("sqlstream", "planner", "runtime"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "connectors" in path.parts:
                continue  # a connector's own WITH options are read through its option spec
            for m in _RAW_READ.finditer(path.read_text()):
                if m.group(1) in KEYS:
                    offenders.append(f"{path.relative_to(ROOT)}: {m.group(1)}")
    assert offenders == []
