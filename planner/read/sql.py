"""Statements sqlglot parses for us with the Flink dialect: queries, INSERT, CREATE VIEW,
DROP and ALTER TABLE (CREATE TABLE is ``tables``); constructs we cannot run are refused
here by name and position.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.tokens import Token, TokenType

from catalog.errors import SqlStreamError
from catalog.schema import Watermark
from planner import statements as st
from planner.expressions import (
    AlterTableDrop,
    AlterTableOptions,
    AlterTableResetOptions,
    AlterTableSchema,
)
from planner.read.tables import TableReader
from planner.script import DIALECT


class SqlReader(TableReader):
    """Reads the statements sqlglot parses."""

    # -- statements read by sqlglot --
    def sqlglot_statement(self) -> st.Statement:
        parser = DIALECT.parser()
        try:
            nodes = parser.parse(self.tokens, self.script.sql)
        except SqlglotParseError as e:
            raise self.script.translate(e) from None
        if len(nodes) != 1 or nodes[0] is None:
            raise self.parse_error("expected one statement")
        node = nodes[0]
        self.script.locate(node)
        try:
            return self.convert(node)
        except SqlStreamError as e:
            raise e.with_position(self.line, self.col) from None

    def convert(self, node: exp.Expr) -> st.Statement:
        if isinstance(node, exp.Command):
            if self.starts("ALTER", "TABLE") and len(self.tokens) > 3:
                raise self.unsupported(f"ALTER TABLE ... {self.tokens[3].text.upper()}", self.tokens[3])
            raise self.unsupported(" ".join(self.words[:2]))
        for group in node.find_all(exp.Group):
            if not group.expressions and not any(
                group.args.get(k) for k in ("cube", "rollup", "grouping_sets", "all")
            ):
                raise self.parse_error("GROUP BY needs at least one expression", self.tokens[-1])
        if isinstance(node, exp.Query):
            return st.Query(query=node, **self.pos)
        if isinstance(node, exp.Values):  # VALUES (1, 'a'), ... alone: a query, as in Flink
            return st.Query(query=exp.select("*").from_(node), **self.pos)
        if isinstance(node, exp.Insert):
            return self.insert(node)
        if isinstance(node, exp.Create):
            kind = node.text("kind").upper()
            return self.create_table(node) if kind == "TABLE" else self.create_view(node)
        if isinstance(node, exp.Drop):
            return self.drop(node)
        if isinstance(node, exp.Alter):
            return self.alter(node)
        raise self.unsupported(" ".join(self.words[:2]))

    def insert(self, node: exp.Insert) -> st.Insert:
        target, columns = _target_and_columns(node)
        if node.args.get("partition") or (isinstance(target, exp.Table) and target.args.get("partition")):
            raise self.unsupported("INSERT ... PARTITION")
        query = node.expression
        if isinstance(query, exp.Values):
            query = exp.select("*").from_(query.copy())
        if not isinstance(query, exp.Query):
            raise self.parse_error("INSERT needs a query: INSERT INTO t SELECT ...")
        return st.Insert(
            table=self.table_name(target),
            query=query,
            columns=columns,
            overwrite=bool(node.args.get("overwrite")),
            on_conflict=self.on_conflict(node.args.get("conflict")),
            target=target,
            **self.pos,
        )

    def on_conflict(self, conflict: exp.OnConflict | None) -> str | None:
        """Flink's ON CONFLICT DO DEDUPLICATE | ERROR | NOTHING; PostgreSQL's forms (a
        conflict target, DO UPDATE SET, ON DUPLICATE KEY) are no Flink SQL."""
        if conflict is None:
            return None
        action = conflict.text("action").upper()
        other = any(conflict.args.get(k) for k in ("duplicate", "expressions", "conflict_keys", "constraint"))
        if other or action not in ("DO DEDUPLICATE", "DO ERROR", "DO NOTHING"):
            raise self.unsupported(f"ON CONFLICT {action or '...'}".strip())
        return action.split()[1]

    def create_view(self, node: exp.Create) -> st.CreateView:
        target, columns = _target_and_columns(node)
        query = node.expression
        if not isinstance(query, exp.Query):
            raise self.parse_error("CREATE VIEW needs AS followed by a query")
        depth = 0
        as_token = None
        for tok in self.tokens:
            depth += tok.token_type == TokenType.L_PAREN
            depth -= tok.token_type == TokenType.R_PAREN
            if depth == 0 and tok.token_type == TokenType.ALIAS:
                as_token = tok
                break
        assert as_token is not None
        query_start = self.tokens[self.tokens.index(as_token) + 1].start
        query_sql = self.script.sql[query_start : self.tokens[-1].end + 1]
        props = node.args.get("properties")
        temporary = any(isinstance(p, exp.TemporaryProperty) for p in (props.expressions if props else ()))
        return st.CreateView(
            name=self.table_name(target),
            query=query,
            query_sql=query_sql,
            columns=columns,
            temporary=temporary,
            if_not_exists=bool(node.args.get("exists")),
            **self.pos,
        )

    def drop(self, node: exp.Drop) -> st.Statement:
        kind = node.text("kind").upper()
        cls = st.DropTable if kind == "TABLE" else st.DropView
        tables = node.args.get("tables") or [node.this]
        if len(tables) != 1:
            raise self.unsupported(f"DROP {kind} of several {kind.lower()}s at once")
        return cls(
            name=self.table_name(tables[0]),
            if_exists=bool(node.args.get("exists")),
            temporary=bool(node.args.get("temporary")),
            **self.pos,
        )

    def alter(self, node: exp.Alter) -> st.Statement:
        actions = node.args.get("actions") or []
        name = self.table_name(node.this)
        if len(actions) != 1:
            raise self.unsupported("ALTER TABLE with several actions")
        action = actions[0]
        exists = bool(node.args.get("exists"))
        if isinstance(action, AlterTableOptions):
            options = self.options(action.expressions)
            return st.AlterTableSet(name=name, options=options, if_exists=exists, **self.pos)
        if isinstance(action, AlterTableResetOptions):
            keys = tuple(k.name for k in action.expressions)
            return st.AlterTableReset(name=name, keys=keys, if_exists=exists, **self.pos)
        if isinstance(action, exp.AlterRename):
            new_name = self.table_name(action.this)
            return st.AlterTableRename(name=name, new_name=new_name, if_exists=exists, **self.pos)
        if isinstance(action, AlterTableSchema):
            return self.alter_schema(name, action, exists)
        if isinstance(action, AlterTableDrop):
            return self.alter_drop(name, action, exists)
        if isinstance(action, exp.RenameColumn):
            old, new = action.this, action.args["to"]
            return st.AlterTableRenameColumn(
                name=name, old=old.name, new=new.name, at=self.spot(old), if_exists=exists, **self.pos
            )
        words = self.words[3:5] if len(self.words) > 3 else ["..."]
        raise self.unsupported(
            f"ALTER TABLE ... {' '.join(w for w in words if w.isidentifier())}",
            self.tokens[3] if len(self.tokens) > 3 else None,
        )

    def alter_schema(self, name: str, action: AlterTableSchema, exists: bool) -> st.AlterTableSchema:
        """ADD | MODIFY's items; two watermarks or two primary keys are refused here, as in
        CREATE TABLE (the catalog's table is checked when the statement runs)."""
        columns: list[st.AlterColumn] = []
        watermark = watermark_at = key_at = None
        key: tuple[str, ...] = ()
        for item in action.expressions:
            if isinstance(item, exp.Constraint) and len(item.expressions) == 1:
                item = item.expressions[0]  # CONSTRAINT name PRIMARY KEY (...): the name is dropped
            if isinstance(item, exp.ColumnDef):
                column, in_key = self.column(item)
                position = item.args.get("position")  # sqlglot's FIRST | AFTER c
                where = position.text("position").upper() if position is not None else ""
                after = position.this.name if position is not None and where == "AFTER" else None
                at = self.spot(item)
                columns.append(st.AlterColumn(column, at, where == "FIRST", after))
                if in_key:
                    key, key_at = self.set_key(key, (column.name,), item), at
            elif isinstance(item, exp.WatermarkColumnConstraint):
                where = self.keyword_before("WATERMARK", self.node_token(item))
                if watermark is not None:
                    raise self.parse_error("a table may declare only one WATERMARK", where)
                watermark = Watermark(item.this.name, item.expression.sql(dialect=DIALECT))
                watermark_at = self.spot(where)
            elif isinstance(item, exp.PrimaryKey):
                self.check_enforced(item)
                key = self.set_key(key, tuple(c.name for c in item.expressions), item)
                key_at = self.spot(self.keyword_before("PRIMARY", self.node_token(item)))
            else:
                text = item.sql(dialect=DIALECT).split("(")[0].strip()
                raise self.unsupported(f"constraint {text}", self.node_token(item))
        return st.AlterTableSchema(
            name=name,
            action=action.text("kind"),
            columns=tuple(columns),
            watermark=watermark,
            watermark_at=watermark_at,
            primary_key=key,
            primary_key_at=key_at,
            if_exists=exists,
            **self.pos,
        )

    def alter_drop(self, name: str, action: AlterTableDrop, exists: bool) -> st.AlterTableDrop:
        kind = action.text("kind")
        if kind == "CONSTRAINT":
            raise self.unsupported(
                "ALTER TABLE ... DROP CONSTRAINT",
                self.keyword_before("CONSTRAINT", self.node_token(action)),
                hint="a table's one constraint is its primary key: ALTER TABLE t DROP PRIMARY KEY",
            )
        columns = tuple((c.name, self.spot(c)) for c in action.expressions)
        word = "PRIMARY" if kind == "PRIMARY KEY" else "WATERMARK"
        what = next((t for t in self.tokens[3:] if t.text.upper().split(" ")[0] == word), None)
        return st.AlterTableDrop(
            name=name,
            columns=columns,
            at=self.spot(what) if what is not None and not columns else None,
            primary_key=kind == "PRIMARY KEY",
            watermark=kind == "WATERMARK",
            if_exists=exists,
            **self.pos,
        )

    def spot(self, at: exp.Expr | Token | int) -> st.Spot:
        """Where a node (its first token) or a token is, for an error raised when the
        statement runs."""
        where = self.node_token(at) if isinstance(at, exp.Expr) else at
        return st.Spot(*self.script.position(where if isinstance(where, int) else where.start))


def _target_and_columns(node: exp.Insert | exp.Create) -> tuple[exp.Expr, tuple[str, ...]]:
    """The table or view named by ``INSERT INTO t (a, b)`` / ``CREATE VIEW v (a, b)``, and the
    column list when there is one."""
    target = node.this
    if isinstance(target, exp.Schema):
        return target.this, tuple(c.name for c in target.expressions)
    return target, ()
