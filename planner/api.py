"""The planner's public entry points: SQL text and a catalog in, plans and EXPLAIN out.

>>> from catalog import Catalog
>>> cat = Catalog()
>>> for ddl in [
...     "CREATE TABLE src (k INT, v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10')",
...     "CREATE TABLE out (k INT, v BIGINT) WITH ('connector' = 'blackhole')",
... ]:
...     cat.create(create_table(parse(ddl)[0], cat))
True
True
>>> [n.kind for n in plan("INSERT INTO out SELECT k, v * 2 FROM src WHERE k > 1", cat).nodes]
['source', 'calc', 'sink']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from sqlglot import exp

from catalog.config import (
    BATCH_ONE_QUERY,
    LATE_ROWS_SINK,
    PIPELINE_NAME,
    RUNTIME_MODE,
    UDF_ERRORS_IGNORE,
    UDF_ERRORS_SINK,
)
from catalog.connectors import configure_table, table_info
from catalog.errors import CatalogError, SqlStreamError, did_you_mean
from catalog.schema import Column, ColumnKind, Schema
from catalog.store import Catalog, identifier, said_at
from catalog.table import TableDef, ViewDef
from planner import alter_schema, batch_fusion, table_like
from planner import statements as st
from planner.bind.scope import Scope
from planner.binder import Binder
from planner.errors import PlanError
from planner.explain import explain_plan
from planner.late_rows import late_rows_nodes
from planner.logical import BoundField, LogicalNode, Scan
from planner.parse import parse, parse_expression
from planner.physical import LATE_ROWS_FIELDS, UDF_ERRORS_FIELDS, Field, PhysicalPlan
from planner.physical_planner import PhysicalPlanner
from planner.refusals import refuse, refuse_rewritten
from planner.rules import apply_rules
from planner.typecheck import infer
from planner.udf import used_functions
from planner.udf_errors import check_covered, udf_errors_nodes

PlannableStatement = st.Insert | st.StatementSet | st.Query


def _parse_query(sql: str) -> exp.Expr:
    statements = parse(sql)
    if len(statements) != 1 or not isinstance(statements[0], st.Query):
        raise PlanError("a view must be defined by a single query")
    return statements[0].query


def _binder(catalog: Catalog, config: Mapping[str, str]) -> Binder:
    return Binder(catalog, config, parse_expression, _parse_query)


def _located(error: SqlStreamError, statement: st.Statement) -> SqlStreamError:
    """Shift a position inside a statement to a position in the whole script."""
    if error.line is None:
        error.line, error.col = statement.line, statement.col
    elif getattr(error, "_relative", False):
        if error.line == 1:
            error.col = (error.col or 1) + statement.col - 1
        error.line += statement.line - 1
    return error


def _refuse(
    check: Callable[[LogicalNode], None],
    roots: Sequence[LogicalNode],
    parts: Sequence[st.Statement],
    statement: st.Statement,
) -> None:
    """Run ``check`` on each INSERT's (or the query's) plan; a refusal points into the script."""
    for root, part in zip(roots, parts):
        try:
            check(root)
        except SqlStreamError as e:
            located = _located(e, part)
            raise (_located(located, statement) if part is not statement else located) from None


def to_statement(sql_or_statement: str | st.Statement) -> st.Statement:
    if isinstance(sql_or_statement, st.Statement):
        return sql_or_statement
    parsed = parse(sql_or_statement)
    if len(parsed) != 1:
        raise PlanError(f"expected one statement, got {len(parsed)}")
    return parsed[0]


def logical_plan(
    statement: PlannableStatement, catalog: Catalog, config: Mapping[str, str] | None = None
) -> list[LogicalNode]:
    """The logical plan roots of a query, an INSERT or a statement set (one per INSERT)."""
    binder = _binder(catalog, config or {})
    try:
        if isinstance(statement, st.Query):
            return [binder.bind_select(statement.query)]
        if isinstance(statement, st.Insert):
            return [
                binder.bind_insert(
                    statement.table,
                    statement.query,
                    statement.columns,
                    statement.on_conflict,
                    statement.target,
                )
            ]
        if isinstance(statement, st.StatementSet):
            roots: list[LogicalNode] = []
            for ins in statement.inserts:
                try:
                    roots.append(
                        binder.bind_insert(ins.table, ins.query, ins.columns, ins.on_conflict, ins.target)
                    )
                except SqlStreamError as e:
                    raise _located(e, ins) from None
            return roots
    except SqlStreamError as e:
        raise _located(e, statement) from None
    raise PlanError(f"{type(statement).__name__} cannot be planned")


def plan(
    sql: str | st.Statement,
    catalog: Catalog,
    config: Mapping[str, str] | None = None,
) -> PhysicalPlan:
    """The physical plan of one INSERT, statement set or query.

    Raises a ``SqlStreamError`` that names the problem and its line and column.
    """
    statement = to_statement(sql)
    if isinstance(statement, st.Explain):
        statement = statement.statement
    if not isinstance(statement, st.Insert | st.StatementSet | st.Query):
        raise PlanError(
            f"only queries, INSERT and statement sets have a plan, not {type(statement).__name__}",
            line=statement.line,
            col=statement.col,
        )
    cfg = dict(config or {})
    roots = logical_plan(statement, catalog, cfg)
    parts = statement.inserts if isinstance(statement, st.StatementSet) else [statement]
    _refuse(refuse, roots, parts, statement)
    rewritten, applied = apply_rules(roots)
    _refuse(refuse_rewritten, rewritten, parts, statement)
    name = PIPELINE_NAME.get(cfg) or _default_name(statement, catalog)
    try:
        physical = PhysicalPlanner(cfg).plan(rewritten, name, applied)
        late_table = LATE_ROWS_SINK.get(cfg)
        if late_table and not isinstance(statement, st.Query):
            table = _side_table(catalog, LATE_ROWS_SINK.name, late_table, LATE_ROWS_FIELDS)
            physical = replace(physical, nodes=physical.nodes + late_rows_nodes(physical.nodes, table, cfg))
    except SqlStreamError as e:
        raise _located(e, statement) from None
    if catalog.functions():
        physical = replace(physical, functions=used_functions(physical.to_json(indent=None), catalog))
    errors_table = UDF_ERRORS_SINK.get(cfg)  # also takes the rows a division by zero fails on
    scalars = [f.name for f in physical.functions if f.kind != "aggregate"]
    if physical.functions:
        if errors_table and UDF_ERRORS_IGNORE.get(cfg):
            raise PlanError(
                f"'{UDF_ERRORS_SINK.name}' keeps the rows a Python function raised on, "
                f"'{UDF_ERRORS_IGNORE.name}' drops them: set only one",
                hint=f"RESET '{UDF_ERRORS_IGNORE.name}' to keep them in '{errors_table}'",
            )
        policy = UDF_ERRORS_SINK.name if errors_table and not isinstance(statement, st.Query) else None
        if UDF_ERRORS_IGNORE.get(cfg):
            policy = UDF_ERRORS_IGNORE.name
        if policy is not None:
            try:
                check_covered(physical.nodes, scalars, policy)
            except SqlStreamError as e:
                raise _located(e, statement) from None
    if errors_table and not isinstance(statement, st.Query):
        try:
            table = _side_table(catalog, UDF_ERRORS_SINK.name, errors_table, UDF_ERRORS_FIELDS)
            extra = udf_errors_nodes(physical.nodes, scalars, table, cfg)
        except SqlStreamError as e:
            raise _located(e, statement) from None
        physical = replace(physical, nodes=physical.nodes + extra)
    side_sinks = late_table or (errors_table and not isinstance(statement, st.Query))
    one_query = RUNTIME_MODE.get(cfg) == "batch" and BATCH_ONE_QUERY.get(cfg)
    if one_query and not side_sinks and not physical.functions:
        physical = batch_fusion.fuse(physical)
    return physical


def _side_table(catalog: Catalog, key: str, name: str, fields: tuple[Field, ...]) -> TableDef:
    """The table a side-sink setting (``table.exec.late-rows.sink``, ...) names."""
    obj = catalog.get(name)
    if not isinstance(obj, TableDef):
        raise PlanError(
            f"'{key}' = '{name}' names no table",
            hint=did_you_mean(name, [t.name for t in catalog.tables()])
            or f"CREATE TABLE it first, with columns {', '.join(f.name for f in fields)}",
        )
    return obj


def explain(sql: str | st.Statement, catalog: Catalog, config: Mapping[str, str] | None = None) -> str:
    """EXPLAIN text: operators, keys, windows, watermarks, changelog modes, state,
    parallelism and delivery guarantees."""
    return explain_plan(plan(sql, catalog, config))


def _default_name(statement: st.Statement, catalog: Catalog) -> str:
    """Flink's job name: ``insert-into_`` and the sinks, by identifier (``t`` in the default
    database, as before there were others; ``db.t`` in another one)."""
    if isinstance(statement, st.Insert):
        return f"insert-into_{identifier(catalog.qualify(statement.table))}"
    if isinstance(statement, st.StatementSet):
        return "insert-into_" + "_".join(identifier(catalog.qualify(i.table)) for i in statement.inserts)
    return "collect"


# ---- DDL ------------------------------------------------------------------------------


def create_table(
    statement: st.Statement | str, catalog: Catalog, config: Mapping[str, str] | None = None
) -> TableDef:
    """A validated table definition: its options against the connector's spec, its
    computed columns and watermark bound (so their types are known and mistakes are caught
    at CREATE time, as Flink does). Takes a parsed CREATE TABLE or its text. A CREATE TABLE
    ... AS SELECT's columns are its query's (bound in ``config``'s mode), time attributes
    as plain timestamps, as Flink's CTAS makes them."""
    statement = to_statement(statement)
    if not isinstance(statement, st.CreateTable):
        raise PlanError(
            f"expected CREATE TABLE, got {type(statement).__name__}", line=statement.line, col=statement.col
        )
    try:
        if statement.like is not None:
            try:
                source = catalog.resolve(statement.like.source)
            except CatalogError as e:
                raise said_at(e, statement.like.source) from None
            if not isinstance(source, TableDef):
                raise CatalogError(
                    f"Source table '{statement.like.source}' of the LIKE clause can not be a VIEW"
                )
            statement = table_like.merge(statement, source)
        if statement.query is not None:
            fields = _binder(catalog, config or {}).bind_query(statement.query, {}).fields
            columns = tuple(Column(f.name, f.type) for f in fields)
            statement = replace(statement, schema=_declared_with(statement.declared, columns))
        table = TableDef(
            name=statement.name,
            schema=statement.schema,
            options=dict(statement.options),
            temporary=statement.temporary,
            comment=statement.comment,
            partition_keys=statement.partition_keys,
        )
        configure_table(table_info(table))  # every option and the rules between them
        return _type_computed_columns(table, catalog)
    except SqlStreamError as e:
        raise _located(e, statement) from None


def alter_table(
    statement: st.AlterSchemaStatement | st.AlterTableSet | st.AlterTableReset, catalog: Catalog
) -> TableDef | None:
    """The table an ALTER TABLE makes (its options set or reset, or its schema changed by
    ``planner.alter_schema``), checked as its CREATE TABLE would be; None when the
    statement says IF EXISTS and there is no such table or view (Flink does nothing then)."""
    if statement.if_exists and catalog.get(statement.name) is None:
        return None
    try:
        table = catalog.table(statement.name)
        if isinstance(statement, st.AlterTableSet):
            table = table.with_options(statement.options)
        elif isinstance(statement, st.AlterTableReset):
            table = replace(
                table, options={k: v for k, v in table.options.items() if k not in statement.keys}
            )
        else:
            table = alter_schema.apply(statement, table)
    except SqlStreamError as e:
        raise _located(e, statement) from None
    create = st.CreateTable(
        table.name,
        table.schema,
        table.options,
        table.temporary,
        comment=table.comment,
        partition_keys=table.partition_keys,
        sql=statement.sql,
        line=statement.line,
        col=statement.col,
    )
    return create_table(create, catalog)


def query_columns(query: exp.Query, catalog: Catalog, config: Mapping[str, str]) -> tuple[str, ...]:
    """The names of a query's columns, as a CTAS inserts them into its table."""
    return tuple(f.name for f in _binder(catalog, config).bind_query(query, {}).fields)


def _declared_with(declared: st.Declared | None, query: tuple[Column, ...]) -> Schema:
    """A CTAS's table: the columns it declares that its query does not give first, then the
    query's, each typed as declared where both name it (the insert casts as INSERT does), with
    the declared key and watermark (FLIP-463)."""
    if declared is None:
        return Schema(query)
    own = {c.name.lower(): c for c in declared.columns}
    given = {c.name.lower() for c in query}
    new = [c for c in declared.columns if c.name.lower() not in given]
    merged = [own.get(c.name.lower(), c) for c in query]
    return Schema.keyed([*new, *merged], declared.watermark, declared.primary_key)


def _type_computed_columns(table: TableDef, catalog: Catalog) -> TableDef:
    computed = [c for c in table.schema.columns if c.kind == ColumnKind.COMPUTED]
    if not computed and table.schema.watermark is None:
        return table
    binder = _binder(catalog, {})
    base = [c for c in table.schema.columns if c.kind != ColumnKind.COMPUTED]
    scan = Scan(tuple(BoundField(c.name, c.type) for c in base), table)
    scope = Scope.of(scan, {table.name})
    columns: list[Column] = []
    for col in table.schema.columns:
        if col.kind == ColumnKind.COMPUTED:
            try:
                bound = binder.bind_expr(parse_expression(col.expr or ""), scope)
                col = replace(col, type=infer(bound, scan.field_type))
            except SqlStreamError as e:
                # named, as Flink names it; its position was in the expression's own text,
                # which the statement's replaces (an ALTER TABLE may not even show the column)
                e.message = f"Invalid expression for computed column '{col.name}' AS {col.expr}: {e.message}"
                e.line = e.col = None
                raise
        columns.append(col)
    typed = replace(table, schema=Schema(tuple(columns), table.schema.watermark, table.schema.primary_key))
    binder.scan(typed)  # binds the watermark expression: a bad one fails here, not at run time
    return typed


def create_view(
    statement: st.CreateView, catalog: Catalog, config: Mapping[str, str] | None = None
) -> ViewDef:
    """A view whose query binds now, so a typo fails at CREATE VIEW."""
    view = ViewDef(
        name=statement.name,
        query=statement.query_sql,
        temporary=statement.temporary,
        columns=statement.columns,
    )
    try:
        node = _binder(catalog, config or {}).bind_query(statement.query, {})
    except SqlStreamError as e:
        raise _located(e, statement) from None
    if view.columns and len(view.columns) != len(node.fields):
        raise PlanError(
            f"view '{view.name}' lists {len(view.columns)} columns but its query has {len(node.fields)}",
            line=statement.line,
            col=statement.col,
        )
    return view


def describe_fields(name: str, catalog: Catalog, config: Mapping[str, str] | None = None) -> list[BoundField]:
    """Output columns of a table or view as queries see them (time attributes marked), in
    the execution mode of ``config`` (a view's window functions bind by it)."""
    obj = catalog.resolve(name)
    binder = _binder(catalog, config or {})
    if isinstance(obj, TableDef):
        return list(binder.scan(obj, reading=False).fields)
    return list(binder.bind_view_query(obj).fields)
