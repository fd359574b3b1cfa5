"""Catalogs: where table and view definitions live between statements.

``Catalog`` holds every catalog of a session, each with its databases, as Flink's
CatalogManager does: ``default_catalog`` (with ``default_database``) always, and the
``generic_in_memory`` catalogs a script creates. ``DuckDBCatalog`` writes every change to
``default_catalog`` through to a DuckDB file so tables and databases survive a REPL restart
(``--catalog PATH``). Temporary objects and other catalogs are never persisted.

A table or view is keyed by (catalog, database, name), lower-cased (lookups are
case-insensitive); its ``name`` is its identifier: the plain name in
``default_catalog.default_database`` (so job names, sink names and checkpoints made before
there were databases stay the same), ``db.t`` in another database of ``default_catalog``,
``cat.db.t`` in another catalog.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from catalog.errors import CatalogError, SqlStreamError, did_you_mean
from catalog.functions import FunctionDef, function_from_json, function_to_json
from catalog.serde import object_from_json, table_to_json, view_to_json
from catalog.table import TableDef, ViewDef

CatalogObject = TableDef | ViewDef

CATALOG_NAME = "default_catalog"
DATABASE_NAME = "default_database"
IN_MEMORY = "generic_in_memory"  # the one catalog type there is, as Flink names it
IN_MEMORY_DATABASE = "default"  # its default database ('default-database'), as Flink's

Key = tuple[str, str, str]  # catalog, database, object name: as created (lower-cased to look up)
_DEFAULT = (CATALOG_NAME, DATABASE_NAME)
_Object = TypeVar("_Object", bound=TableDef | ViewDef)


class ObjectPath(str):
    """A table or view name as a statement writes it, ``[[catalog.]database.]name``: a
    string for messages (``default_database.t`` reads ``t``, as it always did) that keeps
    its parts, which the catalog resolves against the current catalog and database when
    the statement runs (a script's ``USE`` comes between parsing and running).

    >>> p = ObjectPath(["default_database", "t"]); (p, p.parts)
    ('t', ('default_database', 't'))
    >>> ObjectPath(["sales", "orders"])
    'sales.orders'
    """

    parts: tuple[str, ...]
    at: tuple[int, int] | None  # its line and column in the script, for errors about it

    def __new__(cls, parts: Sequence[str], at: tuple[int, int] | None = None) -> ObjectPath:
        parts = tuple(parts)
        if len(parts) > 3:
            raise CatalogError(
                f"'{'.'.join(parts)}' names more than catalog, database and table",
                hint="write [catalog.][database.]name",
            )
        *path, name = parts
        defaults = [CATALOG_NAME, DATABASE_NAME][-len(path) :] if path else []
        shown = name if [p.lower() for p in path] == defaults else ".".join(parts)
        self = super().__new__(cls, shown)
        self.parts, self.at = parts, at
        return self

    def __reduce__(self) -> tuple[type[ObjectPath], tuple[tuple[str, ...], tuple[int, int] | None]]:
        return ObjectPath, (self.parts, self.at)  # copied and pickled with its parts


def said_at(error: SqlStreamError, name: str) -> SqlStreamError:
    """``error`` (about ``name``) said where the statement writes the name, when it knows."""
    at = name.at if isinstance(name, ObjectPath) else None
    return error.with_position(*at) if at else error


def identifier(key: Key) -> str:
    """A table's name as stored and shown: plain in the default catalog and database.

    >>> identifier(("default_catalog", "default_database", "t")), identifier(("default_catalog", "db", "t"))
    ('t', 'db.t')
    """
    catalog, database, name = key
    if catalog.lower() == CATALOG_NAME:
        return name if database.lower() == DATABASE_NAME else f"{database}.{name}"
    return f"{catalog}.{database}.{name}"


def _lower(key: Key) -> Key:
    return (key[0].lower(), key[1].lower(), key[2].lower())


@dataclass(frozen=True)
class DatabaseDef:
    """A database made with CREATE DATABASE: a comment and properties (ALTER DATABASE SET)."""

    name: str
    comment: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogDef:
    """A catalog made with CREATE CATALOG (or the default one)."""

    name: str
    default_database: str
    options: dict[str, str] = field(default_factory=dict)
    comment: str | None = None


class Catalog:
    """Catalogs, their databases and the tables and views in them, with the current
    catalog and database that unqualified names resolve against. Lookups are
    case-insensitive, as in Flink's default."""

    def __init__(self) -> None:
        self._objects: dict[Key, CatalogObject] = {}
        self._functions: dict[str, FunctionDef] = {}
        self._catalogs: dict[str, CatalogDef] = {CATALOG_NAME: CatalogDef(CATALOG_NAME, DATABASE_NAME)}
        self._databases: dict[tuple[str, str], DatabaseDef] = {
            (CATALOG_NAME, DATABASE_NAME): DatabaseDef(DATABASE_NAME)
        }
        self.current_catalog = CATALOG_NAME
        self.current_database = DATABASE_NAME

    # ---- names ---------------------------------------------------------------------
    def qualify(self, name: str, within: tuple[str, str] | None = None) -> Key:
        """The (catalog, database, name) a table or view name means: the one resolution
        every reader calls. An ``ObjectPath`` (as a statement writes it) is completed with
        ``within`` (a view's own catalog and database) or the current ones; a plain string
        is an identifier as ``identifier`` makes it (``t``, ``db.t``, ``cat.db.t``). Raises
        when the catalog or database does not exist."""
        if isinstance(name, ObjectPath):
            parts = name.parts
        elif (CATALOG_NAME, DATABASE_NAME, name.lower()) in self._objects or "." not in name:
            parts = (CATALOG_NAME, DATABASE_NAME, name)
        else:
            parts = tuple(name.split("."))
            parts = (CATALOG_NAME, *parts) if len(parts) == 2 else parts
        catalog, database = within or (self.current_catalog, self.current_database)
        if len(parts) == 3:
            catalog, database = parts[0], parts[1]
        elif len(parts) == 2:
            database = parts[0]
        return (*self.database_of(catalog, database), parts[-1])

    def catalog_named(self, name: str) -> CatalogDef:
        found = self._catalogs.get(name.lower())
        if found is None:
            raise CatalogError(
                f"catalog '{name}' does not exist",
                hint=did_you_mean(name, self.catalogs())
                or f"CREATE CATALOG {name} WITH ('type' = '{IN_MEMORY}') makes one",
            )
        return found

    def database_of(self, catalog: str, database: str) -> tuple[str, str]:
        """The catalog and database as they were created; raises when either does not exist."""
        cat = self.catalog_named(catalog)
        found = self._databases.get((cat.name.lower(), database.lower()))
        if found is None:
            raise CatalogError(
                f"database '{database}' does not exist in catalog '{cat.name}'",
                hint=did_you_mean(database, self.databases(cat.name))
                or f"CREATE DATABASE {database} makes one",
            )
        return cat.name, found.name

    # ---- reads ---------------------------------------------------------------------
    def get(self, name: str, within: tuple[str, str] | None = None) -> CatalogObject | None:
        """The table or view, or None: also when its catalog or database does not exist
        (``... IF EXISTS``); ``table`` and ``resolve`` say which part is missing."""
        try:
            return self._objects.get(_lower(self.qualify(name, within)))
        except CatalogError:
            return None

    def table(self, name: str, within: tuple[str, str] | None = None) -> TableDef:
        self.qualify(name, within)  # raises for a catalog or database that does not exist
        obj = self.get(name, within)
        if isinstance(obj, TableDef):
            return obj
        if isinstance(obj, ViewDef):
            raise CatalogError(f"'{name}' is a view, not a table")
        raise CatalogError(f"table '{name}' not found", hint=did_you_mean(name, self.names()))

    def resolve(self, name: str, within: tuple[str, str] | None = None) -> CatalogObject:
        self.qualify(name, within)  # raises for a catalog or database that does not exist
        obj = self.get(name, within)
        if obj is None:
            hint = did_you_mean(name, self.names()) or ("create it first with CREATE TABLE ... WITH (...)")
            raise CatalogError(f"table or view '{name}' not found", hint=hint)
        return obj

    def names(self) -> list[str]:
        """The identifiers of every table and view (plain ones: the default database's)."""
        return sorted(o.name for o in self._objects.values())

    def tables(self) -> list[TableDef]:
        """Every table of every catalog, by identifier."""
        return sorted((o for o in self._objects.values() if isinstance(o, TableDef)), key=lambda o: o.name)

    def views(self) -> list[ViewDef]:
        return sorted((o for o in self._objects.values() if isinstance(o, ViewDef)), key=lambda o: o.name)

    def listed(self, kind: type[CatalogObject], database: str | None = None) -> list[str]:
        """The names of a database's tables or views (SHOW TABLES [FROM|IN [c.]db]): the
        current database's, or ``database`` as written (``db`` or ``cat.db``)."""
        if database is None:
            catalog, db = self.current_catalog, self.current_database
        else:
            *head, db = database.parts if isinstance(database, ObjectPath) else database.split(".")
            catalog = head[0] if head else self.current_catalog
        cat, db = self.database_of(catalog, db)
        where = (cat.lower(), db.lower())
        # the name as created: the identifier ends with it (the key is lower-cased)
        return sorted(
            (
                o.name[len(o.name) - len(k[2]) :]
                for k, o in self._objects.items()
                if k[:2] == where and isinstance(o, kind)
            ),
            key=str.lower,
        )

    # ---- writes --------------------------------------------------------------------
    def create(self, obj: CatalogObject, if_not_exists: bool = False, replace: bool = False) -> bool:
        """Add an object, named as written (resolved against the current catalog and
        database). Returns False when it existed and ``if_not_exists`` was given."""
        key = self.qualify(obj.name)
        existing = self._objects.get(_lower(key))
        if existing is not None and not replace:
            if if_not_exists:
                return False
            kind = "view" if isinstance(existing, ViewDef) else "table"
            raise CatalogError(
                f"{kind} '{obj.name}' already exists",
                hint="use IF NOT EXISTS, or DROP it first",
            )
        obj = _renamed(obj, identifier(key))
        current = (self.current_catalog, self.current_database)
        if (
            isinstance(obj, ViewDef)
            and obj.scope is None
            and (current[0].lower(), current[1].lower()) != _DEFAULT
        ):
            obj = dataclasses.replace(obj, scope=current)  # its names keep meaning what they meant here
        self._objects[_lower(key)] = obj
        self._saved(key, obj)
        return True

    def drop(self, name: str, kind: type[CatalogObject], if_exists: bool = False) -> bool:
        word = "view" if kind is ViewDef else "table"
        try:
            key = self.qualify(name)
        except CatalogError:
            if if_exists:  # as Flink: nothing there to drop
                return False
            raise
        existing = self._objects.get(_lower(key))
        if existing is None or not isinstance(existing, kind):
            if if_exists:
                return False
            if existing is not None:
                other = "view" if isinstance(existing, ViewDef) else "table"
                raise CatalogError(f"'{name}' is a {other}, not a {word}", hint=f"use DROP {other.upper()}")
            raise CatalogError(f"{word} '{name}' not found", hint=did_you_mean(name, self.names()))
        del self._objects[_lower(key)]
        self._dropped(key, existing)
        return True

    def alter(self, table: TableDef) -> None:
        key = self.qualify(table.name)
        table = _renamed(table, identifier(key))
        self._objects[_lower(key)] = table
        self._saved(key, table)

    # ---- databases (CREATE / DROP / ALTER / USE DATABASE) ------------------------------
    def databases(self, catalog: str | None = None) -> list[str]:
        cat = self.catalog_named(catalog or self.current_catalog).name.lower()
        return sorted((d.name for (c, _), d in self._databases.items() if c == cat), key=str.lower)

    def database(self, catalog: str | None, name: str) -> DatabaseDef:
        cat, db = self.database_of(catalog or self.current_catalog, name)
        return self._databases[(cat.lower(), db.lower())]

    def create_database(self, catalog: str | None, db: DatabaseDef, if_not_exists: bool = False) -> bool:
        """Returns False when it existed and ``if_not_exists`` was given."""
        cat = self.catalog_named(catalog or self.current_catalog).name
        key = (cat.lower(), db.name.lower())
        if key in self._databases:
            if if_not_exists:
                return False
            raise CatalogError(
                f"database '{db.name}' already exists in catalog '{cat}'", hint="use IF NOT EXISTS"
            )
        self._databases[key] = db
        self._database_saved(cat, db)
        return True

    def alter_database(self, catalog: str | None, name: str, properties: Mapping[str, str]) -> None:
        cat, db = self.database_of(catalog or self.current_catalog, name)
        old = self._databases[(cat.lower(), db.lower())]
        new = dataclasses.replace(old, properties={**old.properties, **properties})
        self._databases[(cat.lower(), db.lower())] = new
        self._database_saved(cat, new)

    def drop_database(
        self, catalog: str | None, name: str, if_exists: bool = False, cascade: bool = False
    ) -> bool:
        """DROP DATABASE: refused for the current database, and (RESTRICT, the default) for
        one that holds tables or views; CASCADE drops them too."""
        try:
            cat, db = self.database_of(catalog or self.current_catalog, name)
        except CatalogError:
            if if_exists:
                return False
            raise
        where = (cat.lower(), db.lower())
        if where == (self.current_catalog.lower(), self.current_database.lower()):
            raise CatalogError(
                "Cannot drop a database which is currently in use.",
                hint="USE another database first",
            )
        inside = [(k, o) for k, o in self._objects.items() if k[:2] == where]
        if inside and not cascade:
            raise CatalogError(
                f"database '{db}' in catalog '{cat}' is not empty",
                hint="DROP DATABASE ... CASCADE drops its tables and views too",
            )
        for key, obj in inside:
            del self._objects[key]
            self._dropped((cat, db, key[2]), obj)
        dropped = self._databases.pop(where)
        self._database_dropped(cat, dropped)
        return True

    def use_database(self, catalog: str | None, name: str) -> None:
        self.current_catalog, self.current_database = self.database_of(catalog or self.current_catalog, name)

    # ---- catalogs (CREATE / DROP / USE CATALOG) ----------------------------------------
    def catalogs(self) -> list[str]:
        return sorted((c.name for c in self._catalogs.values()), key=str.lower)

    def create_catalog(
        self, name: str, options: Mapping[str, str], if_not_exists: bool = False, comment: str | None = None
    ) -> bool:
        """A ``generic_in_memory`` catalog (the one type there is), with its default
        database. Returns False when it existed and ``if_not_exists`` was given."""
        if name.lower() in self._catalogs:
            if if_not_exists:
                return False
            raise CatalogError(f"catalog '{name}' already exists", hint="use IF NOT EXISTS")
        rest = dict(options)
        kind = rest.pop("type", None)
        if kind is None:
            raise CatalogError(
                f"CREATE CATALOG {name} needs the option 'type'", hint=f"WITH ('type' = '{IN_MEMORY}')"
            )
        if kind != IN_MEMORY:
            raise CatalogError(
                f"catalog type '{kind}' is not supported",
                hint=f"sqlstream has '{IN_MEMORY}' catalogs only: WITH ('type' = '{IN_MEMORY}')",
            )
        default = rest.pop("default-database", IN_MEMORY_DATABASE)
        if rest:
            unknown = sorted(rest)[0]
            raise CatalogError(
                f"unknown option '{unknown}' for a '{IN_MEMORY}' catalog",
                hint=did_you_mean(unknown, ["type", "default-database"])
                or "its options are 'type' and 'default-database'",
            )
        self._catalogs[name.lower()] = CatalogDef(name, default, dict(options), comment)
        self._databases[(name.lower(), default.lower())] = DatabaseDef(default)
        return True

    def drop_catalog(self, name: str, if_exists: bool = False) -> bool:
        """Forget a catalog and what it holds (a file catalog's file keeps its tables)."""
        found = self._catalogs.get(name.lower())
        if found is None:
            if if_exists:
                return False
            self.catalog_named(name)  # raises, with a hint
        if name.lower() == self.current_catalog.lower():
            raise CatalogError(
                "Cannot drop a catalog which is currently in use.", hint="USE CATALOG another one first"
            )
        cat = name.lower()
        self._objects = {k: o for k, o in self._objects.items() if k[0] != cat}
        self._databases = {k: d for k, d in self._databases.items() if k[0] != cat}
        del self._catalogs[cat]
        return True

    def use_catalog(self, name: str) -> None:
        """USE CATALOG: its default database becomes the current one too, as in Flink."""
        found = self.catalog_named(name)
        self.current_catalog, self.current_database = found.name, found.default_database

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

    def _saved(self, key: Key, obj: CatalogObject) -> None:
        pass

    def _dropped(self, key: Key, obj: CatalogObject) -> None:
        pass

    def _database_saved(self, catalog: str, db: DatabaseDef) -> None:
        pass

    def _database_dropped(self, catalog: str, db: DatabaseDef) -> None:
        pass


def _renamed(obj: _Object, name: str) -> _Object:
    return obj if type(obj.name) is str and obj.name == name else dataclasses.replace(obj, name=name)


class DuckDBCatalog(Catalog):
    """``default_catalog`` persisted in a DuckDB file: one row per object, its JSON
    definition, and one per database made with CREATE DATABASE. The default database's
    objects keep the table and keys they had before there were databases, so older files
    load unchanged; the other databases' objects have a table of their own."""

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
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sqlstream_databases (name VARCHAR PRIMARY KEY, definition JSON)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sqlstream_database_objects "
            "(database VARCHAR, name VARCHAR, definition JSON, PRIMARY KEY (database, name))"
        )
        for name, definition in self._db.execute(
            "SELECT name, definition FROM sqlstream_databases ORDER BY name"
        ).fetchall():
            d = json.loads(definition)
            db = DatabaseDef(d["name"], d.get("comment"), dict(d.get("properties", {})))
            self._databases[(CATALOG_NAME, name)] = db
        for name, definition in self._db.execute(
            "SELECT name, definition FROM sqlstream_catalog ORDER BY name"
        ).fetchall():
            self._objects[(CATALOG_NAME, DATABASE_NAME, name)] = object_from_json(json.loads(definition))
        for database, name, definition in self._db.execute(
            "SELECT database, name, definition FROM sqlstream_database_objects ORDER BY database, name"
        ).fetchall():
            self._objects[(CATALOG_NAME, database, name)] = object_from_json(json.loads(definition))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sqlstream_functions (name VARCHAR PRIMARY KEY, definition JSON)"
        )
        for name, definition in self._db.execute(
            "SELECT name, definition FROM sqlstream_functions"
        ).fetchall():
            self._functions[name] = function_from_json(json.loads(definition))

    def _saved(self, key: Key, obj: CatalogObject) -> None:
        catalog, database, name = _lower(key)
        if obj.temporary or catalog != CATALOG_NAME:
            return
        data = json.dumps(table_to_json(obj) if isinstance(obj, TableDef) else view_to_json(obj))
        if database == DATABASE_NAME:
            self._db.execute("INSERT OR REPLACE INTO sqlstream_catalog VALUES (?, ?)", [name, data])
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO sqlstream_database_objects VALUES (?, ?, ?)", [database, name, data]
            )

    def _dropped(self, key: Key, obj: CatalogObject) -> None:
        catalog, database, name = _lower(key)
        if catalog != CATALOG_NAME:
            return
        if database == DATABASE_NAME:
            self._db.execute("DELETE FROM sqlstream_catalog WHERE name = ?", [name])
        else:
            self._db.execute(
                "DELETE FROM sqlstream_database_objects WHERE database = ? AND name = ?", [database, name]
            )

    def _database_saved(self, catalog: str, db: DatabaseDef) -> None:
        if catalog.lower() != CATALOG_NAME:
            return
        data = {"name": db.name, "comment": db.comment, "properties": db.properties}
        self._db.execute(
            "INSERT OR REPLACE INTO sqlstream_databases VALUES (?, ?)", [db.name.lower(), json.dumps(data)]
        )

    def _database_dropped(self, catalog: str, db: DatabaseDef) -> None:
        if catalog.lower() == CATALOG_NAME:
            self._db.execute("DELETE FROM sqlstream_databases WHERE name = ?", [db.name.lower()])

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
