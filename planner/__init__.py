"""The planner: Flink SQL text and a catalog in, a physical plan or EXPLAIN text out.

No I/O, no threads, no import of ``runtime``: another tool can ``import planner`` with
nothing but sqlglot installed.
"""
