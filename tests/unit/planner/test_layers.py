"""The runtime reads only the planner's plan types: every planner module is either one of
them or forbidden to the runtime by the import-linter contract in pyproject.toml, so a new
planner module cannot slip past the contract unclassified."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import planner

ROOT = Path(__file__).resolve().parents[3]
PLAN_TYPES = {"planner.physical", "planner.window", "planner.numeric"}


def _runtime_contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c.get("source_modules") == ["runtime"])


def test_every_planner_module_is_a_plan_type_or_forbidden_to_the_runtime() -> None:
    modules = {f"planner.{m.name}" for m in pkgutil.iter_modules(planner.__path__)}
    forbidden = set(_runtime_contract()["forbidden_modules"])
    assert modules - PLAN_TYPES - forbidden == set(), "classify the new planner module in pyproject.toml"
    assert forbidden & PLAN_TYPES == set()
    assert forbidden <= modules, "the contract names a planner module that no longer exists"
