"""Parsed statements: what ``planner.parse`` returns, one dataclass per statement kind.

Queries stay sqlglot expressions in our Flink dialect (``planner.dialect``); everything
else is plain data. Every statement knows its text and where it starts in the script, so
an error raised while binding or running it can point at the line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from catalog.schema import Column, Schema, Watermark


@dataclass(frozen=True)
class Statement:
    sql: str = field(default="", kw_only=True)  # the statement's text, without the ';'
    line: int = field(default=1, kw_only=True)  # 1-based position of its first token
    col: int = field(default=1, kw_only=True)


@dataclass(frozen=True)
class TableLike:
    """``LIKE source (INCLUDING ALL EXCLUDING OPTIONS ...)`` of a CREATE TABLE: the table
    whose definition the new one starts from, and the options as written, in order."""

    source: str
    options: tuple[tuple[str, str], ...] = ()  # (INCLUDING | EXCLUDING | OVERWRITING, feature)
    # what the new table declares itself, merged with the source's when the statement runs
    columns: tuple[Column, ...] = ()
    watermark: Watermark | None = None
    primary_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Declared:
    """Columns, watermark and primary key as written, not yet checked against each other:
    a CTAS's, merged with its query's columns when the statement runs."""

    columns: tuple[Column, ...]
    watermark: Watermark | None
    primary_key: tuple[str, ...]

    def find(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)


@dataclass(frozen=True)
class CreateTable(Statement):
    name: str
    schema: Schema
    options: dict[str, str]
    temporary: bool = False
    if_not_exists: bool = False
    comment: str | None = None
    partition_keys: tuple[str, ...] = ()
    like: TableLike | None = None
    query: exp.Query | None = None  # CREATE TABLE ... AS SELECT: the columns are the query's
    # a CTAS's own columns, key and watermark as written: Flink 2's CTAS puts its new
    # columns first, then the query's, a column of both typed as declared
    declared: Declared | None = None


@dataclass(frozen=True)
class CreateView(Statement):
    name: str
    query: exp.Query
    query_sql: str  # the query as the user wrote it, for SHOW CREATE VIEW
    columns: tuple[str, ...] = ()
    temporary: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropTable(Statement):
    name: str
    if_exists: bool = False
    temporary: bool = False


@dataclass(frozen=True)
class DropView(Statement):
    name: str
    if_exists: bool = False
    temporary: bool = False


@dataclass(frozen=True)
class AlterTableSet(Statement):
    name: str
    options: dict[str, str]
    if_exists: bool = False  # ALTER TABLE IF EXISTS: a missing table is no error


@dataclass(frozen=True)
class AlterTableReset(Statement):
    name: str
    keys: tuple[str, ...]
    if_exists: bool = False


@dataclass(frozen=True)
class AlterTableRename(Statement):
    name: str
    new_name: str
    if_exists: bool = False


@dataclass(frozen=True)
class Spot:
    """Where a part of a statement is written (1-based, in the whole script): an ALTER
    TABLE's refusal points at the column or constraint it is about, not at ALTER."""

    line: int
    col: int


@dataclass(frozen=True)
class AlterColumn:
    """A column of ALTER TABLE ADD | MODIFY and where it goes (``FIRST``, ``AFTER c``, or
    by default last for ADD and where it is for MODIFY). A MODIFY whose column has no
    COMMENT keeps the comment the column had, as Flink's does."""

    column: Column
    at: Spot
    first: bool = False
    after: str | None = None


@dataclass(frozen=True)
class AlterTableSchema(Statement):
    """``ALTER TABLE [IF EXISTS] t ADD | MODIFY <item> | (<item>, ...)``: columns, a
    watermark and a primary key, as Flink's ``SqlAlterTableAdd`` / ``SqlAlterTableModify``."""

    name: str
    action: str  # "ADD" | "MODIFY"
    columns: tuple[AlterColumn, ...] = ()
    watermark: Watermark | None = None
    watermark_at: Spot | None = None
    primary_key: tuple[str, ...] = ()
    primary_key_at: Spot | None = None
    if_exists: bool = False


@dataclass(frozen=True)
class AlterTableDrop(Statement):
    """``ALTER TABLE [IF EXISTS] t DROP c | (c, ...) | PRIMARY KEY | WATERMARK``."""

    name: str
    columns: tuple[tuple[str, Spot], ...] = ()
    at: Spot | None = None  # where PRIMARY KEY or WATERMARK is written
    primary_key: bool = False
    watermark: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class AlterTableRenameColumn(Statement):
    """``ALTER TABLE [IF EXISTS] t RENAME c TO new_c``."""

    name: str
    old: str
    new: str
    at: Spot
    if_exists: bool = False


AlterSchemaStatement = AlterTableSchema | AlterTableDrop | AlterTableRenameColumn


@dataclass(frozen=True)
class Insert(Statement):
    table: str
    query: exp.Query
    columns: tuple[str, ...] = ()
    overwrite: bool = False
    on_conflict: str | None = None  # ON CONFLICT DO <this>: DEDUPLICATE, ERROR or NOTHING
    target: exp.Expr | None = None  # the table as written: its OPTIONS hint, positions


@dataclass(frozen=True)
class StatementSet(Statement):
    inserts: tuple[Insert, ...]


@dataclass(frozen=True)
class Query(Statement):
    query: exp.Query


@dataclass(frozen=True)
class Set(Statement):
    key: str | None = None  # SET alone lists the configuration
    value: str | None = None


@dataclass(frozen=True)
class Reset(Statement):
    key: str | None = None  # RESET alone resets everything


@dataclass(frozen=True)
class Use(Statement):
    """USE CATALOG c (``catalog``) | USE [c.]db (``database``, and ``catalog`` if named)."""

    catalog: str | None = None
    database: str | None = None


@dataclass(frozen=True)
class CreateDatabase(Statement):
    """CREATE DATABASE [IF NOT EXISTS] [catalog.]name [COMMENT '...'] [WITH (...)]."""

    name: str
    catalog: str | None = None
    if_not_exists: bool = False
    comment: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DropDatabase(Statement):
    """DROP DATABASE [IF EXISTS] [catalog.]name [RESTRICT | CASCADE]."""

    name: str
    catalog: str | None = None
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class AlterDatabase(Statement):
    """ALTER DATABASE [catalog.]name SET (...)."""

    name: str
    catalog: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateCatalog(Statement):
    """CREATE CATALOG [IF NOT EXISTS] name [COMMENT '...'] WITH ('type' = '...', ...)."""

    name: str
    if_not_exists: bool = False
    options: dict[str, str] = field(default_factory=dict)
    comment: str | None = None


@dataclass(frozen=True)
class DropCatalog(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class Like:
    """SHOW ...'s ``[NOT] LIKE | ILIKE 'pattern'``: SQL's ``%`` and ``_``; ILIKE ignores case.

    >>> [Like("db%").matches(n) for n in ("db1", "DB2", "x")], Like("DB_", ilike=True).matches("db2")
    ([True, False, False], True)
    """

    pattern: str
    negated: bool = False
    ilike: bool = False

    def matches(self, name: str) -> bool:
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in self.pattern)
        found = re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL if self.ilike else re.DOTALL) is not None
        return found != self.negated


@dataclass(frozen=True)
class Show(Statement):
    """SHOW TABLES | VIEWS [FROM|IN [c.]db] | FUNCTIONS | JOBS | CATALOGS | DATABASES
    [FROM|IN c] | CURRENT CATALOG | CURRENT DATABASE | CREATE TABLE t | CREATE VIEW v |
    COLUMNS FROM t | STATE FOR JOB 'j' (``name``: the table, database, catalog or job);
    ``what`` is the lower-case, underscore-joined kind."""

    what: str
    name: str | None = None
    like: Like | None = None


@dataclass(frozen=True)
class Describe(Statement):
    name: str


@dataclass(frozen=True)
class Explain(Statement):
    statement: Statement
    details: tuple[str, ...] = ()  # e.g. ("json_execution_plan",), ("changelog_mode",)


@dataclass(frozen=True)
class StopJob(Statement):
    job_id: str
    savepoint: bool = False
    drain: bool = False


@dataclass(frozen=True)
class CreateFunction(Statement):
    """CREATE [TEMPORARY] [SYSTEM] FUNCTION [IF NOT EXISTS] name AS 'module.attr' LANGUAGE PYTHON."""

    name: str
    target: str
    temporary: bool = False
    system: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropFunction(Statement):
    name: str
    temporary: bool = False
    system: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class DescribeFunction(Statement):
    name: str


@dataclass(frozen=True)
class DescribeCatalog(Statement):
    name: str
    extended: bool = False
