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

from planner.api import (
    create_table,
    create_view,
    describe_fields,
    explain,
    logical_plan,
    plan,
)
from planner.errors import ParseError, PlanError, UnsupportedError
from planner.parse import parse, parse_expression, split_statements
from planner.physical import PhysicalPlan

__all__ = [
    "ParseError",
    "PhysicalPlan",
    "PlanError",
    "UnsupportedError",
    "create_table",
    "create_view",
    "describe_fields",
    "explain",
    "logical_plan",
    "parse",
    "parse_expression",
    "plan",
    "split_statements",
]
