"""Catalogs: where table and view definitions live between statements.

``Catalog`` is in memory; ``DuckDBCatalog`` writes every change through to a DuckDB file so
tables survive a REPL restart (``--catalog PATH``). Temporary objects are never persisted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from catalog.errors import CatalogError, did_you_mean
from catalog.functions import FunctionDef, function_from_json, function_to_json
from catalog.serde import object_from_json, table_to_json, view_to_json
from catalog.table import TableDef, ViewDef

CatalogObject = TableDef | ViewDef

CATALOG_NAME = "default_catalog"
DATABASE_NAME = "default_database"


def object_name(parts: Sequence[str]) -> str:
    """The name of the table or view ``[catalog.[database.]]name`` in the one catalog and
    database there are, as Flink resolves a qualified name against its current ones:
    ``default_catalog.default_database.t`` and ``default_database.t`` are ``t``; another
    catalog or database does not exist (its name was ignored, and ``CREATE TABLE db.t``
    made a table no query could name).

    >>> object_name(["DEFAULT_CATALOG", "default_database", "t"]), object_name(["a.b"])
    ('t', 'a.b')
    """
    *path, name = parts
    if len(path) > 2:
        raise CatalogError(
            f"'{'.'.join(parts)}' names more than catalog, database and table",
            hint="write [catalog.][database.]name",
        )
    if len(path) == 2 and path[0].lower() != CATALOG_NAME:
        raise CatalogError(f"catalog '{path[0]}' does not exist", hint=f"the one catalog is {CATALOG_NAME}")
    if path and path[-1].lower() != DATABASE_NAME:
        raise CatalogError(
            f"database '{path[-1]}' does not exist in catalog '{CATALOG_NAME}'",
            hint=f"its one database is {DATABASE_NAME}",
        )
    return name


def check_current(catalog: str | None, database: str | None) -> None:
    """``USE CATALOG c`` or ``USE [c.]db``: only the one catalog and database exist."""
    object_name([*([catalog] if catalog else []), *([database] if database else [DATABASE_NAME]), "_"])


class Catalog:
    """Tables and views by name. Lookups are case-insensitive, as in Flink's default."""

    def __init__(self) -> None:
        self._objects: dict[str, CatalogObject] = {}
        self._functions: dict[str, FunctionDef] = {}

    # ---- reads ---------------------------------------------------------------------
    def get(self, name: str) -> CatalogObject | None:
        return self._objects.get(name.lower())

    def table(self, name: str) -> TableDef:
        obj = self.get(name)
        if isinstance(obj, TableDef):
            return obj
        if isinstance(obj, ViewDef):
            raise CatalogError(f"'{name}' is a view, not a table")
        raise CatalogError(f"table '{name}' not found", hint=did_you_mean(name, self.names()))

    def resolve(self, name: str) -> CatalogObject:
        obj = self.get(name)
        if obj is None:
            hint = did_you_mean(name, self.names()) or ("create it first with CREATE TABLE ... WITH (...)")
            raise CatalogError(f"table or view '{name}' not found", hint=hint)
        return obj

    def names(self) -> list[str]:
        return sorted(o.name for o in self._objects.values())

    def tables(self) -> list[TableDef]:
        return sorted((o for o in self._objects.values() if isinstance(o, TableDef)), key=lambda o: o.name)

    def views(self) -> list[ViewDef]:
        return sorted((o for o in self._objects.values() if isinstance(o, ViewDef)), key=lambda o: o.name)

    # ---- writes --------------------------------------------------------------------
    def create(self, obj: CatalogObject, if_not_exists: bool = False, replace: bool = False) -> bool:
        """Add an object. Returns False when it existed and ``if_not_exists`` was given."""
        existing = self.get(obj.name)
        if existing is not None and not replace:
            if if_not_exists:
                return False
            kind = "view" if isinstance(existing, ViewDef) else "table"
            raise CatalogError(
                f"{kind} '{obj.name}' already exists",
                hint="use IF NOT EXISTS, or DROP it first",
            )
        self._objects[obj.name.lower()] = obj
        self._saved(obj)
        return True

    def drop(self, name: str, kind: type[CatalogObject], if_exists: bool = False) -> bool:
        existing = self.get(name)
        word = "view" if kind is ViewDef else "table"
        if existing is None or not isinstance(existing, kind):
            if if_exists:
                return False
            if existing is not None:
                other = "view" if isinstance(existing, ViewDef) else "table"
                raise CatalogError(f"'{name}' is a {other}, not a {word}", hint=f"use DROP {other.upper()}")
            raise CatalogError(f"{word} '{name}' not found", hint=did_you_mean(name, self.names()))
        del self._objects[name.lower()]
        self._dropped(existing)
        return True

    def alter(self, table: TableDef) -> None:
        self._objects[table.name.lower()] = table
        self._saved(table)

    # ---- user functions (their own namespace, as in Flink) ---------------------------
    def function(self, name: str) -> FunctionDef | None:
        return self._functions.get(name.lower())

    def functions(self) -> list[FunctionDef]:
        return sorted(self._functions.values(), key=lambda f: f.name.lower())

    def create_function(self, f: FunctionDef, if_not_exists: bool = False) -> bool:
        """Add a function. Returns False when it existed and ``if_not_exists`` was given."""
        if f.name.lower() in self._functions:
            if if_not_exists:
                return False
            raise CatalogError(
                f"function '{f.name}' already exists", hint="use IF NOT EXISTS, or DROP FUNCTION it first"
            )
        self._functions[f.name.lower()] = f
        self._function_saved(f)
        return True

    def drop_function(self, name: str, if_exists: bool = False) -> bool:
        existing = self._functions.pop(name.lower(), None)
        if existing is None:
            if if_exists:
                return False
            hint = (
                did_you_mean(name, [f.name for f in self._functions.values()])
                or "SHOW USER FUNCTIONS lists them"
            )
            raise CatalogError(f"function '{name}' not found", hint=hint)
        self._function_dropped(existing)
        return True

    # Persistence hooks, no-ops in memory.
    def _function_saved(self, f: FunctionDef) -> None:
        pass

    def _function_dropped(self, f: FunctionDef) -> None:
        pass

    def _saved(self, obj: CatalogObject) -> None:
        pass

    def _dropped(self, obj: CatalogObject) -> None:
        pass


class DuckDBCatalog(Catalog):
    """A catalog persisted in a DuckDB file: one row per object, its JSON definition."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        import duckdb  # only this catalog needs it; the planner stays sqlglot-only

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise CatalogError(f"cannot open the catalog file '{self.path}': {exc}") from None
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sqlstream_catalog (name VARCHAR PRIMARY KEY, definition JSON)"
        )
        for name, definition in self._db.execute(
            "SELECT name, definition FROM sqlstream_catalog ORDER BY name"
        ).fetchall():
            obj = object_from_json(json.loads(definition))
            self._objects[name] = obj
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sqlstream_functions (name VARCHAR PRIMARY KEY, definition JSON)"
        )
        for name, definition in self._db.execute(
            "SELECT name, definition FROM sqlstream_functions"
        ).fetchall():
            self._functions[name] = function_from_json(json.loads(definition))

    def _saved(self, obj: CatalogObject) -> None:
        if obj.temporary:
            return
        data = table_to_json(obj) if isinstance(obj, TableDef) else view_to_json(obj)
        self._db.execute(
            "INSERT OR REPLACE INTO sqlstream_catalog VALUES (?, ?)",
            [obj.name.lower(), json.dumps(data)],
        )

    def _dropped(self, obj: CatalogObject) -> None:
        self._db.execute("DELETE FROM sqlstream_catalog WHERE name = ?", [obj.name.lower()])

    def _function_saved(self, f: FunctionDef) -> None:
        if f.temporary:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO sqlstream_functions VALUES (?, ?)",
            [f.name.lower(), json.dumps(function_to_json(f))],
        )

    def _function_dropped(self, f: FunctionDef) -> None:
        self._db.execute("DELETE FROM sqlstream_functions WHERE name = ?", [f.name.lower()])

    def close(self) -> None:
        self._db.close()
