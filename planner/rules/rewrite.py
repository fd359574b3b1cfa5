"""Bottom-up rebuilding of a logical tree, shared by the rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from planner.logical import Join, LogicalNode, Union


def transform_up(node: LogicalNode, fn: Callable[[LogicalNode], LogicalNode]) -> LogicalNode:
    """Rebuild ``node`` with each child transformed first, then apply ``fn`` to it."""
    if isinstance(node, Union):
        children = tuple(transform_up(c, fn) for c in node.children)
        if children != node.children:
            node = dataclasses.replace(node, children=children)
    elif isinstance(node, Join):
        left, right = transform_up(node.left, fn), transform_up(node.right, fn)
        if left is not node.left or right is not node.right:
            node = dataclasses.replace(node, left=left, right=right)
    elif hasattr(node, "input"):
        child = transform_up(node.input, fn)
        if child is not node.input:
            node = dataclasses.replace(node, input=child)  # type: ignore[call-arg]
    return fn(node)
