"""Statements sqlglot parses for us with the Flink dialect: queries, INSERT, CREATE VIEW,
DROP and ALTER TABLE (CREATE TABLE is ``tables``); constructs we cannot run are refused
here by name and position.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.tokens import TokenType

from catalog.errors import SqlStreamError
from planner import statements as st
from planner.expressions import AlterTableOptions, AlterTableResetOptions
from planner.read.tables import TableReader, _table_name
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
            table=_table_name(target),
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
            name=_table_name(target),
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
            name=_table_name(tables[0]),
            if_exists=bool(node.args.get("exists")),
            temporary=bool(node.args.get("temporary")),
            **self.pos,
        )

    def alter(self, node: exp.Alter) -> st.Statement:
        actions = node.args.get("actions") or []
        name = _table_name(node.this)
        if len(actions) != 1:
            raise self.unsupported("ALTER TABLE with several actions")
        action = actions[0]
        if isinstance(action, AlterTableOptions):
            return st.AlterTableSet(name=name, options=self.options(action.expressions), **self.pos)
        if isinstance(action, AlterTableResetOptions):
            return st.AlterTableReset(name=name, keys=tuple(k.name for k in action.expressions), **self.pos)
        if isinstance(action, exp.AlterRename):
            return st.AlterTableRename(name=name, new_name=_table_name(action.this), **self.pos)
        words = self.words[3:5] if len(self.words) > 3 else ["..."]
        raise self.unsupported(
            f"ALTER TABLE ... {' '.join(w for w in words if w.isidentifier())}",
            self.tokens[3] if len(self.tokens) > 3 else None,
        )


def _target_and_columns(node: exp.Insert | exp.Create) -> tuple[exp.Expr, tuple[str, ...]]:
    """The table or view named by ``INSERT INTO t (a, b)`` / ``CREATE VIEW v (a, b)``, and the
    column list when there is one."""
    target = node.this
    if isinstance(target, exp.Schema):
        return target.this, tuple(c.name for c in target.expressions)
    return target, ()
