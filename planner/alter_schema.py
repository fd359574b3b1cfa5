"""ALTER TABLE's schema changes: ADD, MODIFY and DROP of columns, the primary key and the
watermark, and RENAME of a column, applied to a catalog table by Flink's rules
(``AlterSchemaConverter``) with Flink 2.3's messages, each pointing at the part of the
statement it is about.

What is checked here is what needs the statement: a column added twice, one modified or
dropped that is not there, one dropped or renamed that a computed column, the watermark,
the partitioning or the primary key still uses. The table that results is then checked
as its CREATE TABLE would be (``planner.api.alter_table``): computed columns typed again,
the watermark bound (a rowtime of another type than TIMESTAMP(3) is refused there), the
connector's options.

Column names compare case-insensitively, as everywhere in our catalog (Flink's are
case-sensitive: there ``ADD A INT`` beside ``a`` makes a second column).
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from catalog.errors import CatalogError, did_you_mean
from catalog.schema import Column, ColumnKind, Schema, Watermark
from catalog.table import TableDef
from planner import statements as st
from planner.parse import parse_expression


def apply(statement: st.AlterSchemaStatement, table: TableDef) -> TableDef:
    """``table`` as ``statement`` changes it; its computed columns keep their old types
    until the table is checked again."""
    if isinstance(statement, st.AlterTableSchema):
        return replace(table, schema=_add_or_modify(statement, table.schema))
    if isinstance(statement, st.AlterTableDrop):
        return replace(table, schema=_drop(statement, table))
    return replace(table, schema=_rename(statement, table))


def _error(message: str, at: st.Spot | None, hint: str | None = None) -> CatalogError:
    return CatalogError(message, line=at.line if at else None, col=at.col if at else None, hint=hint)


# ---- ADD | MODIFY ----------------------------------------------------------------------


def _add_or_modify(s: st.AlterTableSchema, schema: Schema) -> Schema:
    order = [c.name for c in schema.columns]  # the names, in the new table's order
    columns = {c.name.lower(): c for c in schema.columns}
    named: set[str] = set()
    for item in s.columns:
        name = item.column.name
        if name.lower() in named:
            raise _error(f"Encounter duplicate column `{name}`.", item.at)
        named.add(name.lower())
        existing = schema.find(name)
        if s.action == "ADD" and existing is not None:
            raise _error(f"Column `{existing.name}` already exists in the table.", item.at)
        if s.action == "MODIFY" and existing is None:
            raise _error(
                f"Column `{name}` does not exist in the table.", item.at, did_you_mean(name, schema.names)
            )
        column = item.column
        if existing is not None:  # MODIFY keeps the name as declared, and a comment it does not replace
            name = existing.name
            column = replace(column, name=name, comment=column.comment or existing.comment)
        if existing is not None and (item.first or item.after):
            order.remove(existing.name)
        if item.first:
            order.insert(0, name)
        elif item.after:
            after = next((n for n in order if n.lower() == item.after.lower()), None)
            if after is None:
                raise _error(
                    f"Referenced column `{item.after}` by 'AFTER' does not exist in the table.", item.at
                )
            order.insert(order.index(after) + 1, name)
        elif existing is None:
            order.append(name)
        columns[name.lower()] = column
    new = [columns[n.lower()] for n in order]
    return Schema.keyed(new, _watermark(s, schema, new), _primary_key(s, schema, new))


def _watermark(s: st.AlterTableSchema, schema: Schema, columns: list[Column]) -> Watermark | None:
    old, new = schema.watermark, s.watermark
    if new is None:
        return old
    if s.action == "ADD" and old is not None:
        raise _error(
            f"The current table has already defined the watermark strategy `{old.column}` AS {old.expr}. "
            "You might want to drop it before adding a new one.",
            s.watermark_at,
        )
    if s.action == "MODIFY" and old is None:
        raise _error(
            "The current table does not define any watermark. You might want to add a new one.",
            s.watermark_at,
        )
    if not any(c.name.lower() == new.column.lower() for c in columns):
        names = ", ".join(c.name for c in columns)
        raise _error(
            f"Invalid column name '{new.column}' for rowtime attribute in watermark declaration. "
            f"Available columns are: [{names}]",
            s.watermark_at,
        )
    return new


def _primary_key(s: st.AlterTableSchema, schema: Schema, columns: list[Column]) -> tuple[str, ...]:
    old, new = schema.primary_key, s.primary_key
    if not new:
        return old
    if s.action == "ADD" and old:
        keys = ", ".join(f"`{k}`" for k in old)
        raise _error(
            f"The current table has already defined the primary key constraint [{keys}]. "
            "You might want to drop it before adding a new one.",
            s.primary_key_at,
        )
    if s.action == "MODIFY" and not old:
        raise _error(
            "The current table does not define any primary key constraint. You might want to add a new one.",
            s.primary_key_at,
        )
    constraint = "PK_" + "_".join(new)
    for k in new:
        column = next((c for c in columns if c.name.lower() == k.lower()), None)
        if column is None:
            raise _error(
                f"Invalid primary key '{constraint}'. Column '{k}' does not exist.", s.primary_key_at
            )
        if column.kind != ColumnKind.PHYSICAL:
            raise _error(
                f"Invalid primary key '{constraint}'. Column '{k}' is not a physical column.",
                s.primary_key_at,
            )
    return tuple(_renamed(k, columns) for k in new)


def _renamed(name: str, columns: list[Column]) -> str:
    return next((c.name for c in columns if c.name.lower() == name.lower()), name)


# ---- DROP and RENAME -------------------------------------------------------------------


class _References:
    """Which columns the table's computed columns, watermark, partitioning and primary key
    use (Flink's ``ReferencesManager``): a column still used cannot be dropped or renamed."""

    def __init__(self, table: TableDef) -> None:
        schema = table.schema
        self.schema = schema
        self.used_by: dict[str, set[str]] = {}  # column -> the computed columns using it
        self.uses: dict[str, set[str]] = {}  # computed column -> the columns it uses
        for c in schema.columns:
            if c.kind == ColumnKind.COMPUTED:
                for name in _columns_in(c.expr or "", schema):
                    self.used_by.setdefault(name, set()).add(c.name)
                    self.uses.setdefault(c.name, set()).add(name)
        self.watermark: set[str] = set()
        if schema.watermark is not None:
            rowtime = schema.find(schema.watermark.column)
            self.watermark = {rowtime.name} if rowtime else set()
            self.watermark |= _columns_in(schema.watermark.expr, schema)
        self.partition = {_renamed(k, list(schema.columns)) for k in table.partition_keys}

    def check(self, name: str, at: st.Spot) -> str:
        """The column's name as declared, if nothing but the primary key uses it."""
        column = self.schema.find(name)
        if column is None:
            raise _error(
                f"The column `{name}` does not exist in the base table.",
                at,
                did_you_mean(name, self.schema.names),
            )
        users = self.used_by.get(column.name)
        if users:
            listed = ", ".join(f"`{u}`" for u in sorted(users))
            raise _error(f"The column `{column.name}` is referenced by computed column {listed}.", at)
        if column.name in self.partition:
            raise _error(f"The column `{column.name}` is used as the partition keys.", at)
        if column.name in self.watermark:
            raise _error(f"The column `{column.name}` is referenced by watermark expression.", at)
        return column.name

    def drop(self, name: str, at: st.Spot) -> str:
        name = self.check(name, at)
        if any(k.lower() == name.lower() for k in self.schema.primary_key):
            raise _error(f"The column `{name}` is used as the primary key.", at)
        for used in self.uses.pop(name, set()):
            self.used_by[used].discard(name)
        return name


def _columns_in(sql: str, schema: Schema) -> set[str]:
    """The table's columns an expression (a computed column's, a watermark's) names."""
    found = (schema.find(c.name) for c in parse_expression(sql).find_all(exp.Column))
    return {c.name for c in found if c is not None}


def _drop(s: st.AlterTableDrop, table: TableDef) -> Schema:
    schema = table.schema
    if s.primary_key:
        if not schema.primary_key:
            raise _error("The current table does not define any primary key.", s.at)
        return Schema(schema.columns, schema.watermark)
    if s.watermark:
        if schema.watermark is None:
            raise _error("The current table does not define any watermark strategy.", s.at)
        return Schema(schema.columns, None, schema.primary_key)
    named: set[str] = set()
    for name, at in s.columns:
        if name.lower() in named:
            raise _error(f"Duplicate column `{name}`.", at)
        named.add(name.lower())
    refs = _References(table)
    # a computed column first, then what it uses: DROP (a, c) with c AS a + 1 drops both
    by_uses = sorted(s.columns, key=lambda c: -len(refs.uses.get(_renamed(c[0], list(schema.columns)), ())))
    dropped = {refs.drop(name, at) for name, at in by_uses}
    return Schema(
        tuple(c for c in schema.columns if c.name not in dropped), schema.watermark, schema.primary_key
    )


def _rename(s: st.AlterTableRenameColumn, table: TableDef) -> Schema:
    schema = table.schema
    old = _References(table).check(s.old, s.at)
    if schema.find(s.new) is not None and s.new.lower() != old.lower():
        raise _error(f"The column `{s.new}` already existed in table schema.", s.at)
    columns = tuple(replace(c, name=s.new) if c.name == old else c for c in schema.columns)
    key = tuple(s.new if k.lower() == old.lower() else k for k in schema.primary_key)
    return Schema(columns, schema.watermark, key)
