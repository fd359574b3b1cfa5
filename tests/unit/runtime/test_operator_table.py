"""The runtime's table of operator classes, which it imports only when a plan uses a kind:
every kind the physical plan can name runs, and by the operator class meant for it."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from planner.physical import OperatorSpec
from runtime.graph import OPERATORS, operator_class
from runtime.operator import Operator

KINDS = sorted(
    next(f.default for f in dataclasses.fields(spec) if f.name == "kind")
    for spec in typing.get_args(OperatorSpec)
)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_the_physical_plan_has_its_operator(kind: str) -> None:
    cls = operator_class(kind)
    assert issubclass(cls, Operator)
    assert cls.__module__ == f"runtime.operators.{kind}"


def test_the_table_names_no_kind_the_plan_cannot_make() -> None:
    assert sorted(OPERATORS) == KINDS
