"""The planner: Flink SQL text and a catalog in, a physical plan or EXPLAIN text out.

No I/O, no threads, no import of ``runtime``: another tool can ``import planner`` with
nothing but sqlglot installed::

    import planner
    from catalog import Catalog

    cat = Catalog()
    for stmt in planner.parse(ddl_text):
        cat.create(planner.create_table(stmt, cat))
    physical = planner.plan("INSERT INTO out SELECT ...", cat)
    print(planner.explain("INSERT INTO out SELECT ...", cat))
    document = physical.to_json()
"""

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.api import (
        alter_table,
        create_table,
        create_view,
        describe_fields,
        explain,
        logical_plan,
        plan,
        query_columns,
    )
    from planner.errors import ParseError, PlanError, UnsupportedError
    from planner.parse import parse, parse_expression, split_statements
    from planner.physical import PhysicalPlan

# Loaded on first use (PEP 562): a process that only runs a plan (a Ray subtask actor
# imports ``planner.physical``, which imports this package first) does not pay for the
# parser, binder and sqlglot that only planning needs.
_LAZY = {
    "alter_table": "planner.api",
    "create_table": "planner.api",
    "create_view": "planner.api",
    "query_columns": "planner.api",
    "describe_fields": "planner.api",
    "explain": "planner.api",
    "logical_plan": "planner.api",
    "plan": "planner.api",
    "ParseError": "planner.errors",
    "PlanError": "planner.errors",
    "UnsupportedError": "planner.errors",
    "parse": "planner.parse",
    "parse_expression": "planner.parse",
    "split_statements": "planner.parse",
    "PhysicalPlan": "planner.physical",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute '{name}'")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


class _Planner(ModuleType):
    """``planner.parse`` and ``planner.explain`` stay the functions although modules of
    those names exist: loading such a submodule sets it as an attribute of its package,
    which would hide the function the lazy ``__getattr__`` gives."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Planner


__all__ = [
    "ParseError",
    "PhysicalPlan",
    "PlanError",
    "UnsupportedError",
    "alter_table",
    "create_table",
    "create_view",
    "describe_fields",
    "explain",
    "logical_plan",
    "parse",
    "parse_expression",
    "plan",
    "query_columns",
    "split_statements",
]
