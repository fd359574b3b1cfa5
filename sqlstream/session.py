"""The Session: the public Python API, and what the CLI and REPL drive.

>>> import sqlstream
>>> s = sqlstream.connect()
>>> _ = s.execute('''CREATE TABLE nums (n BIGINT) WITH (
...     'connector' = 'datagen', 'number-of-rows' = '5',
...     'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '5')''')
>>> s.sql("SELECT n * 10 AS x FROM nums WHERE n > 2").fetchall()
[(30,), (40,), (50,)]
>>> s.close()
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import planner
from catalog import Catalog, DuckDBCatalog, TableDef, ViewDef
from catalog.config import (
    DML_SYNC,
    PROMETHEUS_HOST,
    PROMETHEUS_PORT,
    REST_BIND_ADDRESS,
    REST_PORT,
    RUNTIME_MODE,
)
from catalog.errors import CatalogError, SqlStreamError
from catalog.store import CatalogDef, DatabaseDef, ObjectPath, said_at
from catalog.table import redact
from planner import statements as st
from planner.ddl import show_create_catalog, show_create_table, show_create_view
from planner.functions import FUNCTIONS
from planner.physical import PhysicalPlan
from runtime.state.inspect import newest
from sqlstream.config import KEYS, Config
from sqlstream.jobs import JobManager, QueryHandle
from sqlstream.prometheus import MetricsServer
from sqlstream.results import Result, ResultKind
from sqlstream.state import OPERATOR_COLUMNS, locate, open_newest, operator_rows, run_state_query, state_calls

if TYPE_CHECKING:  # the dashboard's HTTP server is imported only when one is served
    from sqlstream.web.server import Dashboard

DASHBOARD_KEYS = (REST_PORT.name, REST_BIND_ADDRESS.name)


class Session:
    """A catalog, a configuration and the jobs started from them."""

    def __init__(self, catalog: Catalog | None = None, config: dict[str, str] | None = None) -> None:
        self.catalog = catalog or Catalog()
        self.config = Config(config)
        self.jobs = JobManager()
        self.dashboard: Dashboard | None = None
        self.python_path: list[str] = []  # the running script's folder, for CREATE FUNCTION
        self.serve_dashboard()

    # ---- statements ------------------------------------------------------------------
    def execute(self, sql: str) -> Result:
        """Run one or more statements in order and return the last one's result."""
        results = self.execute_script(sql)
        if not results:
            return Result.ok("nothing to run")
        return results[-1]

    def execute_script(self, sql: str) -> list[Result]:
        """Run every statement of a script, in order; stops at the first error (raised)."""
        return [self.execute_statement(s) for s in planner.parse(sql)]

    def sql(self, query: str) -> QueryHandle:
        """Start a query; the handle gives its rows (``fetchall()`` for a bounded one) or
        iterates over its changelog."""
        result = self.execute(query)
        if result.query is None:
            raise SqlStreamError("sql() takes a SELECT query", hint="use execute() for other statements")
        return result.query

    def create_function(self, name: str, fn: Any) -> None:
        """Make a Python function callable from this session's SQL as ``name``, without a
        module file: a ``@udf``-decorated function or a plain one with type annotations."""
        from sqlstream import functions  # it imports DuckDB: only a session with user functions loads it

        functions.register(self.catalog, name, fn)

    def execute_statement(self, s: st.Statement) -> Result:
        """Run one statement; a catalog's error (a missing catalog, database or table) is
        said where the statement names it."""
        try:
            return self._execute(s)
        except CatalogError as e:
            name = getattr(s, "name", None) or getattr(s, "table", None)
            said = said_at(e, name) if isinstance(name, str) else e
            raise said.with_position(s.line, s.col) from None

    def _execute(self, s: st.Statement) -> Result:
        if isinstance(s, st.CreateFunction | st.DropFunction | st.DescribeFunction):
            from sqlstream import functions

            return functions.run(s, self.catalog, self.config.effective(), self.python_path)
        if isinstance(s, st.CreateTable) and s.query is not None:
            return self._create_table_as(s)
        if isinstance(s, st.CreateTable):
            table = planner.create_table(s, self.catalog)
            created = self.catalog.create(table, if_not_exists=s.if_not_exists)
            return Result.ok(f"Table '{s.name}' created." if created else f"Table '{s.name}' exists.")
        if isinstance(s, st.CreateView):
            view = planner.create_view(s, self.catalog, self.config.effective())
            created = self.catalog.create(view, if_not_exists=s.if_not_exists)
            return Result.ok(f"View '{s.name}' created." if created else f"View '{s.name}' exists.")
        if isinstance(s, st.DropTable):
            dropped = self.catalog.drop(s.name, TableDef, if_exists=s.if_exists)
            return Result.ok(f"Table '{s.name}' dropped." if dropped else f"Table '{s.name}' does not exist.")
        if isinstance(s, st.DropView):
            dropped = self.catalog.drop(s.name, ViewDef, if_exists=s.if_exists)
            return Result.ok(f"View '{s.name}' dropped." if dropped else f"View '{s.name}' does not exist.")
        if isinstance(s, st.AlterTableSet | st.AlterTableReset | st.AlterSchemaStatement):
            altered = planner.alter_table(s, self.catalog)
            if altered is None:  # IF EXISTS, and no such table
                return Result.ok(f"Table '{s.name}' does not exist.")
            self.catalog.alter(altered)
            return Result.ok(f"Table '{s.name}' altered.")
        if isinstance(s, st.AlterTableRename):
            if s.if_exists and self.catalog.get(s.name) is None:
                return Result.ok(f"Table '{s.name}' does not exist.")
            table = self.catalog.table(s.name)
            catalog, database, _ = self.catalog.qualify(s.name)  # Flink renames inside its database
            new_name = s.new_name.parts[-1] if isinstance(s.new_name, ObjectPath) else s.new_name
            self.catalog.create(replace(table, name=ObjectPath([catalog, database, new_name])))
            self.catalog.drop(s.name, TableDef)
            return Result.ok(f"Table '{s.name}' renamed to '{s.new_name}'.")
        if isinstance(s, st.Set):
            if s.key is None:
                rows = sorted(redact(self.config.effective()).items())  # no s3.secret-key
                return Result.table(["key", "value"], [(k, v) for k, v in rows])
            previous = self.config.explicit().get(s.key)
            warning = self.config.set(s.key, s.value or "")
            try:
                news = self._dashboard_news(s.key)
            except SqlStreamError:  # the port is taken: the SET did not happen
                self.config.reset(s.key)
                if previous is not None:
                    self.config.set(s.key, previous)
                raise
            return Result.ok("Configuration set." + news, [warning] if warning else [])
        if isinstance(s, st.Reset):
            self.config.reset(s.key)
            message = "Configuration reset." if s.key is None else f"'{s.key}' reset."
            return Result.ok(message + self._dashboard_news(s.key))
        if isinstance(s, st.Show):
            return self._show(s)
        if isinstance(s, st.Use | st.CreateDatabase | st.DropDatabase | st.AlterDatabase):
            return self._database_statement(s)
        if isinstance(s, st.CreateCatalog | st.DropCatalog):
            return self._catalog_statement(s)
        if isinstance(s, st.Describe):
            return self._describe(s.name)
        if isinstance(s, st.DescribeCatalog):
            return self._describe_catalog(s)
        if isinstance(s, st.Explain):
            return Result.text(planner.explain(s.statement, self.catalog, self.config.effective()))
        if isinstance(s, st.Insert | st.StatementSet):
            return self._submit(planner.plan(s, self.catalog, self.config.effective()), s.sql)
        if isinstance(s, st.Query) and state_calls(s.query):
            columns, found = run_state_query(s.query, self.newest_checkpoint, self.config)
            return Result.table(columns, found)
        if isinstance(s, st.Query):
            plan = planner.plan(s, self.catalog, self.config.effective())
            query = self.jobs.query(plan, s.sql)
            return Result(ResultKind.QUERY, query=query, columns=query.columns)
        if isinstance(s, st.StopJob):
            handle = self.jobs.get(s.job_id)
            if s.savepoint:  # as Flink's SQL client: a table with the savepoint's path
                path = handle.stop_with_savepoint()
                return Result.table(["savepoint_path"], [(path,)])
            handle.cancel()
            return Result.ok(f"Job '{handle.id}' stopped.")
        raise SqlStreamError(f"{type(s).__name__} is not supported yet", line=s.line, col=s.col)

    def _database_statement(self, s: st.Statement) -> Result:
        """USE, CREATE / DROP / ALTER DATABASE: errors said at the statement."""
        try:
            if isinstance(s, st.Use) and s.database is None:
                assert s.catalog is not None
                self.catalog.use_catalog(s.catalog)
            elif isinstance(s, st.Use):
                assert s.database is not None
                self.catalog.use_database(s.catalog, s.database)
            elif isinstance(s, st.CreateDatabase):
                db = DatabaseDef(s.name, s.comment, dict(s.properties))
                if not self.catalog.create_database(s.catalog, db, s.if_not_exists):
                    return Result.ok(f"Database '{s.name}' exists.")
                return Result.ok(f"Database '{s.name}' created.")
            elif isinstance(s, st.DropDatabase):
                if not self.catalog.drop_database(s.catalog, s.name, s.if_exists, s.cascade):
                    return Result.ok(f"Database '{s.name}' does not exist.")
                return Result.ok(f"Database '{s.name}' dropped.")
            elif isinstance(s, st.AlterDatabase):
                self.catalog.alter_database(s.catalog, s.name, s.properties)
                return Result.ok(f"Database '{s.name}' altered.")
        except CatalogError as e:
            raise e.with_position(s.line, s.col) from None
        return Result.ok("Execute statement succeeded.")

    def _catalog_statement(self, s: st.CreateCatalog | st.DropCatalog) -> Result:
        """CREATE / DROP CATALOG: errors said at the statement."""
        try:
            if isinstance(s, st.CreateCatalog):
                created = self.catalog.create_catalog(s.name, s.options, s.if_not_exists, s.comment)
                return Result.ok(f"Catalog '{s.name}' {'created' if created else 'exists'}.")
            dropped = self.catalog.drop_catalog(s.name, s.if_exists)
            return Result.ok(f"Catalog '{s.name}' {'dropped' if dropped else 'does not exist'}.")
        except CatalogError as e:
            raise e.with_position(s.line, s.col) from None

    def _submit(self, plan: PhysicalPlan, sql: str) -> Result:
        server = self._serve_metrics()
        handle = self.jobs.submit(plan, sql)
        result = Result(ResultKind.JOB, job=handle)
        result.message = f"Job '{handle.id}' submitted ({handle.name}); {handle.guarantee_text}."
        if server is not None:
            result.message += f" Metrics: {server.url}"
        if DML_SYNC.get(self.config):
            handle.wait()
        return result

    def _create_table_as(self, s: st.CreateTable) -> Result:
        """CREATE TABLE ... AS SELECT, as Flink runs it: the table (with the query's
        columns) created, then the INSERT of the query into it submitted as a job; with IF
        NOT EXISTS and the table there already, only the INSERT. A query that cannot be
        planned into the new table leaves no table behind."""
        assert s.query is not None
        table = planner.create_table(s, self.catalog, self.config.effective())
        created = self.catalog.create(table, if_not_exists=s.if_not_exists)
        # the query's columns by name when the table declares columns of its own (NULL)
        columns = planner.query_columns(s.query, self.catalog, self.config.effective()) if s.declared else ()
        insert = st.Insert(table=s.name, query=s.query, columns=columns, sql=s.sql, line=s.line, col=s.col)
        try:
            plan = planner.plan(insert, self.catalog, self.config.effective())
        except BaseException:
            if created:
                self.catalog.drop(s.name, TableDef)
            raise
        result = self._submit(plan, s.sql)
        result.message = f"Table '{s.name}' {'created' if created else 'exists'}. {result.message}"
        return result

    def newest_checkpoint(self, job: str) -> str:
        """The newest complete checkpoint of a job of this session (by id), or of any job
        by its ``pipeline.name`` under ``state.checkpoints.dir``."""
        handle = next((h for h in self.jobs.all() if h.id == job or h.id.startswith(job)), None)
        if handle is None:
            return locate(job, self.config)
        storage = handle.job.checkpoint_storage
        if storage is None:
            raise SqlStreamError(
                f"job '{handle.id}' takes no checkpoints, so it has no state to read",
                hint="SET 'execution.checkpointing.interval' before starting the job",
            )
        return newest(storage.root, storage.job_name, handle.job.config)

    def _serve_metrics(self) -> MetricsServer | None:
        ports = PROMETHEUS_PORT.get(self.config)
        if not ports:
            return None
        return self.jobs.serve_metrics(ports, PROMETHEUS_HOST.get(self.config) or "0.0.0.0")

    # ---- SHOW / DESCRIBE -------------------------------------------------------------
    def _show(self, s: st.Show) -> Result:
        what = s.what.lower()
        if what in ("tables", "views"):
            kind = TableDef if what == "tables" else ViewDef
            try:
                names = self.catalog.listed(kind, s.name)
            except CatalogError as e:
                raise e.with_position(s.line, s.col) from None
            return Result.table([f"{what[:-1]} name"], [(n,) for n in names if _like(s, n)])
        if what in ("functions", "user_functions"):
            users = [f.name for f in self.catalog.functions()]
            names = users if what == "user_functions" else sorted([*FUNCTIONS, *users], key=str.upper)
            return Result.table(["function name"], [(f,) for f in names if _like(s, f)])
        if what == "modules":  # Flink's built-in functions are its one module, core
            return Result.table(["module name"], [("core",)])
        if what == "full_modules":
            return Result.table(["module name", "used"], [("core", True)])
        if what == "jobs":
            columns = ["job id", "job name", "status", "rows/s", "rows out", "started"]
            rows = [h.summary() for h in self.jobs.all()]
            if self.dashboard is not None:  # where to look at each job
                columns.append("dashboard")
                rows = [(*row, self.dashboard.job_url(h.id)) for row, h in zip(rows, self.jobs.all())]
            result = Result.table(columns, rows)
            result.full_width = ("dashboard",)
            return result
        if what == "state" and s.name:
            job = s.name
            with open_newest(lambda: self.newest_checkpoint(job), self.config) as reader:
                return Result.table(OPERATOR_COLUMNS, operator_rows(reader))
        if what == "catalogs":
            return Result.table(["catalog name"], [(c,) for c in self.catalog.catalogs() if _like(s, c)])
        if what == "databases":
            try:
                databases = self.catalog.databases(s.name)
            except CatalogError as e:
                raise e.with_position(s.line, s.col) from None
            return Result.table(["database name"], [(d,) for d in databases if _like(s, d)])
        if what == "current_catalog":
            return Result.table(["current catalog name"], [(self.catalog.current_catalog,)])
        if what == "current_database":
            return Result.table(["current database name"], [(self.catalog.current_database,)])
        if what in ("create_table", "create_view") and s.name:
            obj = self.catalog.resolve(s.name)
            if isinstance(obj, TableDef):
                return Result.text(show_create_table(obj))
            return Result.text(show_create_view(obj))
        if what == "create_catalog" and s.name:
            return Result.text(show_create_catalog(self._created_catalog(s.name, s)))
        if what == "columns" and s.name:
            described = self._describe(s.name)
            described.rows = [r for r in described.rows if _like(s, r[0])]
            return described
        raise SqlStreamError(f"SHOW {what.upper()} is not supported", line=s.line, col=s.col)

    def _created_catalog(self, name: str, s: st.Statement) -> CatalogDef:
        """A catalog CREATE CATALOG made: the default one has no description, as in Flink."""
        try:
            found = self.catalog.catalog_named(name)
        except CatalogError as e:
            raise e.with_position(s.line, s.col) from None
        if not found.options:
            raise CatalogError(
                f"Cannot obtain metadata information from Catalog {found.name}.",
                hint="only a catalog made with CREATE CATALOG has one",
                line=s.line,
                col=s.col,
            )
        return found

    def _describe_catalog(self, s: st.DescribeCatalog) -> Result:
        """Flink's rows: name, type and comment; EXTENDED adds each other option."""
        found = self._created_catalog(s.name, s)
        rows: list[tuple[Any, ...]] = [
            ("name", found.name),
            ("type", found.options.get("type", "")),
            ("comment", found.comment),
        ]
        if s.extended:
            rows += [(f"option:{k}", v) for k, v in sorted(found.options.items()) if k != "type"]
        return Result.table(["info name", "info value"], rows)

    def _describe(self, name: str) -> Result:
        obj = self.catalog.resolve(name)
        fields = planner.describe_fields(name, self.catalog, self.config.effective())
        pk = obj.schema.primary_key if isinstance(obj, TableDef) else ()
        rows: list[tuple[Any, ...]] = []
        # A batch query has no event time (Flink plans a view's query without rowtime
        # attributes; PROCTIME() stays one); a table's declared rowtime stays in its schema.
        batch_view = not isinstance(obj, TableDef) and RUNTIME_MODE.get(self.config) == "batch"
        for f in fields:
            extras = ""
            if isinstance(obj, TableDef):
                col = obj.schema.find(f.name)
                if col is not None and col.expr:
                    extras = f"AS {col.expr}"
                elif col is not None and col.kind.value == "metadata":
                    extras = f"METADATA FROM '{col.metadata_key or col.name}'" + (
                        " VIRTUAL" if col.virtual else ""
                    )
            watermark = ""
            if isinstance(obj, TableDef) and obj.schema.watermark and obj.schema.watermark.column == f.name:
                watermark = obj.schema.watermark.expr
            type_text = f.type.with_nullable(True).sql()
            if f.time_attribute and not (batch_view and f.time_attribute == "rowtime"):
                type_text += f" *{f.time_attribute.upper()}*"
            rows.append(
                (
                    f.name,
                    type_text,
                    f.type.nullable,
                    f"PRI({', '.join(pk)})" if f.name in pk else None,
                    extras or None,
                    watermark or None,
                )
            )
        return Result.table(["name", "type", "null", "key", "extras", "watermark"], rows)

    # ---- the dashboard ---------------------------------------------------------------
    def serve_dashboard(self) -> Dashboard | None:
        """Serve the dashboard as ``rest.port`` and ``rest.bind-address`` say: start it,
        move it, keep it, or stop it (``rest.port`` unset). Raises when the port is taken."""
        port = REST_PORT.get(self.config)
        host = (REST_BIND_ADDRESS.get(self.config) or "").strip() or "127.0.0.1"
        current = self.dashboard
        if port is not None and current is not None and current.host == host and port in (0, current.port):
            return current
        if current is not None and port is not None and port == current.port:
            current.close()  # same port, another address: free it first
            current = self.dashboard = None
        dashboard = None
        if port is not None:
            from sqlstream.web.server import Dashboard

            dashboard = Dashboard(self.jobs.all, host, port)
            dashboard.start()  # before the old one goes: a taken port changes nothing
        if current is not None:
            current.close()
        self.dashboard = dashboard
        return dashboard

    def _dashboard_news(self, key: str | None) -> str:
        if key is not None and key not in DASHBOARD_KEYS:
            return ""
        before = self.dashboard
        after = self.serve_dashboard()
        if after is None:
            return " Dashboard stopped." if before is not None else ""
        return f" Dashboard at {after.url}"

    # ---- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        """Cancel running jobs, stop the dashboard and release the catalog file."""
        if self.dashboard is not None:
            self.dashboard.close()
            self.dashboard = None
        self.jobs.shutdown()
        if isinstance(self.catalog, DuckDBCatalog):
            self.catalog.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _like(s: st.Show, name: str) -> bool:
    return s.like is None or s.like.matches(name)


def connect(catalog: str | Path | None = None, config: dict[str, str] | None = None) -> Session:
    """A new session; ``catalog`` names a DuckDB file that keeps tables between runs."""
    try:
        store: Catalog = DuckDBCatalog(catalog) if catalog else Catalog()
    except CatalogError:
        raise
    return Session(store, config)


__all__ = ["KEYS", "Session", "connect"]
