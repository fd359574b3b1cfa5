"""Bottom-up rebuilding of a logical tree, shared by the rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from planner.logical import Join, LogicalNode, Union


def transform_up(node: LogicalNode, fn: Callable[[LogicalNode], LogicalNode]) -> LogicalNode:
    """Rebuild ``node`` with each child transformed first, then apply ``fn`` to it."""
    return fn(with_inputs(node, tuple(transform_up(child, fn) for child in node.inputs)))


def with_inputs(node: LogicalNode, inputs: tuple[LogicalNode, ...]) -> LogicalNode:
    """``node`` over ``inputs`` (as many as ``node.inputs``, in their order), itself when
    they are its own."""
    if all(new is old for new, old in zip(inputs, node.inputs)):
        return node
    if isinstance(node, Union):
        return dataclasses.replace(node, children=inputs)
    if isinstance(node, Join):
        return dataclasses.replace(node, left=inputs[0], right=inputs[1])
    (child,) = inputs
    return dataclasses.replace(node, input=child)  # type: ignore[call-arg]
