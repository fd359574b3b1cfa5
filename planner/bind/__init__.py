"""The binder's parts, one concern a module, layered the way a query is read.

``scope`` (what names are visible), ``columns`` (resolving references in expressions),
``windows`` (window TVFs and group windows), ``aggregates`` (GROUP BY), ``joins``
(regular and lookup joins), ``relations`` (FROM: tables, views, subqueries), ``select`` (SELECT and UNION).
Each layer is a class that extends the one below; ``planner.binder.Binder`` is the top.
"""
