"""CREATE TABLE: columns (physical, computed, metadata), constraints, the watermark, the
primary key and the WITH options, read from sqlglot's tree into a ``catalog.schema.Schema``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from catalog.errors import SqlStreamError
from catalog.schema import Column, ColumnKind, Schema, Watermark
from catalog.store import ObjectPath
from catalog.types import DataType, parse_type
from planner import statements as st
from planner.expressions import MetadataColumnConstraint
from planner.read.base import ReaderBase
from planner.script import DIALECT

# Type of a computed column before the planner infers it (see planner.api.create_table).
UNKNOWN_TYPE = DataType("NULL")
PROCTIME_TYPE = DataType("TIMESTAMP_LTZ", 3, nullable=False)


class TableReader(ReaderBase):
    """Reads CREATE TABLE and WITH options."""

    def table_name(self, node: exp.Expr | None) -> str:
        """A table or view name as written, knowing where it is (errors about it say so)."""
        if isinstance(node, exp.Table):
            at = self.node_token(node)
            offset = at if isinstance(at, int) else at.start
            return ObjectPath([p.name for p in node.parts], self.script.position(offset))
        if node is None:
            return ""
        return node.name

    def options(self, props: Sequence[exp.Expr]) -> dict[str, str]:
        out: dict[str, str] = {}
        for p in props:
            key, value = p.args.get("this"), p.args.get("value")
            if not (isinstance(key, exp.Literal) and key.is_string) or not (
                isinstance(value, exp.Literal) and value.is_string
            ):
                raise self.parse_error(
                    f"option {p.sql(dialect=DIALECT)} must be written as 'key' = 'value'",
                    self.node_token(p),
                    hint="quote both the key and the value with single quotes",
                )
            out[key.name] = value.name
        return out

    def create_table(self, node: exp.Create) -> st.CreateTable:
        query = node.expression
        schema_node = node.this
        props = node.args.get("properties")
        like = (
            next((p for p in props.expressions if isinstance(p, exp.LikeProperty)), None) if props else None
        )
        if query is not None:
            if not isinstance(query, exp.Query):
                raise self.parse_error("CREATE TABLE ... AS takes a query: CREATE TABLE t AS SELECT ...")
            if like is not None:
                raise self.unsupported(
                    "CREATE TABLE ... AS SELECT with LIKE",
                    hint="the table's columns are the query's: CREATE TABLE t WITH (...) AS SELECT ...",
                )
        declared = None  # a CTAS's own columns, key and watermark, merged with the query's columns
        if query is not None and isinstance(schema_node, exp.Schema) and schema_node.expressions:
            columns, watermark, key = self.schema_parts(schema_node)
            declared = st.Declared(tuple(columns), watermark, key)
        if not isinstance(schema_node, exp.Schema):
            if (like is None and query is None) or not isinstance(schema_node, exp.Table):
                raise self.parse_error("CREATE TABLE needs a column list: CREATE TABLE t (a INT, ...)")
            schema_node = exp.Schema(this=schema_node, expressions=[])  # from LIKE's table or AS's query
        options: dict[str, str] = {}
        temporary, comment = False, None
        partition_keys: tuple[str, ...] = ()
        for p in props.expressions if props else ():
            if isinstance(p, exp.LikeProperty):
                continue
            if isinstance(p, exp.TemporaryProperty):
                temporary = True
            elif isinstance(p, exp.SchemaCommentProperty):
                comment = p.this.name
            elif isinstance(p, exp.PartitionedByProperty) and isinstance(p.this, exp.Schema):
                partition_keys = self.partition_keys(p.this)
            elif type(p) is exp.Property:
                options.update(self.options([p]))
            else:
                text = p.sql(dialect=DIALECT).split("(")[0].strip() or type(p).__name__
                raise self.unsupported(text, self.keyword_before(text.split()[0], self.node_token(p)))
        if like is not None or query is not None:  # the columns are known when the statement runs
            return st.CreateTable(
                name=self.table_name(schema_node.this),
                schema=Schema(()),
                options=options,
                temporary=temporary,
                if_not_exists=bool(node.args.get("exists")),
                comment=comment,
                partition_keys=partition_keys,
                like=self.table_like(like, *self.schema_parts(schema_node)) if like is not None else None,
                query=query if isinstance(query, exp.Query) else None,
                declared=declared,
                **self.pos,
            )
        return st.CreateTable(
            name=self.table_name(schema_node.this),
            schema=self.schema(schema_node),
            options=options,
            temporary=temporary,
            if_not_exists=bool(node.args.get("exists")),
            comment=comment,
            partition_keys=partition_keys,
            **self.pos,
        )

    def table_like(
        self,
        node: exp.LikeProperty,
        columns: list[Column],
        watermark: Watermark | None,
        primary_key: tuple[str, ...],
    ) -> st.TableLike:
        """The LIKE clause; as Flink's parser, a feature named twice and OVERWRITING of
        CONSTRAINTS or PARTITIONS (there is only one of each) are refused here."""
        at = next((t for t in self.tokens if t.token_type == TokenType.LIKE), None)
        options: list[tuple[str, str]] = []
        for p in node.expressions:
            strategy, feature = str(p.this), p.args["value"].name
            if any(f == feature for _, f in options):
                raise self.parse_error("Each like option feature can be declared only once.", at)
            if strategy == "OVERWRITING" and feature in ("CONSTRAINTS", "PARTITIONS"):
                raise self.parse_error(f"Illegal merging strategy 'OVERWRITING' for '{feature}' option.", at)
            options.append((strategy, feature))
        source = self.table_name(node.this)
        return st.TableLike(source, tuple(options), tuple(columns), watermark, primary_key)

    def partition_keys(self, node: exp.Schema) -> tuple[str, ...]:
        """``PARTITIONED BY (dt, hr)``: plain column names, each once."""
        keys: list[str] = []
        for item in node.expressions:
            if not isinstance(item, exp.Identifier | exp.Column):
                raise self.parse_error("PARTITIONED BY takes column names", self.node_token(item))
            if item.name in keys:
                message = f"column '{item.name}' is named twice in PARTITIONED BY"
                raise self.parse_error(message, self.node_token(item))
            keys.append(item.name)
        return tuple(keys)

    def schema(self, node: exp.Schema) -> Schema:
        return Schema.keyed(*self.schema_parts(node))

    def schema_parts(self, node: exp.Schema) -> tuple[list[Column], Watermark | None, tuple[str, ...]]:
        """The columns, watermark and primary key as declared, not yet checked against
        each other (a LIKE table's may name the source table's columns)."""
        columns: list[Column] = []
        watermark = None
        primary_key: tuple[str, ...] = ()
        for item in node.expressions:
            if isinstance(item, exp.Constraint) and len(item.expressions) == 1:
                item = item.expressions[0]  # CONSTRAINT name PRIMARY KEY (...): the name is dropped
            if isinstance(item, exp.ColumnDef):
                column, in_key = self.column(item)
                columns.append(column)
                if in_key:
                    primary_key = self.set_key(primary_key, (column.name,), item)
            elif isinstance(item, exp.WatermarkColumnConstraint):
                if watermark is not None:
                    where = self.keyword_before("WATERMARK", self.node_token(item))
                    raise self.parse_error("a table may declare only one WATERMARK", where)
                watermark = Watermark(item.this.name, item.expression.sql(dialect=DIALECT))
            elif isinstance(item, exp.PrimaryKey):
                self.check_enforced(item)
                primary_key = self.set_key(primary_key, tuple(c.name for c in item.expressions), item)
            else:
                text = item.sql(dialect=DIALECT).split("(")[0].strip()
                raise self.unsupported(f"constraint {text}", self.node_token(item))
        return columns, watermark, primary_key

    def set_key(self, current: tuple[str, ...], new: tuple[str, ...], node: exp.Expr) -> tuple[str, ...]:
        if current:
            raise self.parse_error(
                "a table may declare only one PRIMARY KEY",
                self.keyword_before("PRIMARY", self.node_token(node)),
            )
        return new

    def check_enforced(self, node: exp.Expr) -> None:
        options = [o.sql() if isinstance(o, exp.Expr) else str(o) for o in node.args.get("options") or ()]
        if not any(o.upper() == "NOT ENFORCED" for o in options):
            raise self.parse_error(
                "Flink does not enforce primary keys, so PRIMARY KEY must say NOT ENFORCED",
                self.keyword_before("PRIMARY", self.node_token(node)),
                hint="write PRIMARY KEY (...) NOT ENFORCED",
            )

    def column(self, node: exp.ColumnDef) -> tuple[Column, bool]:
        name = node.name
        kind = node.args.get("kind")
        computed = metadata = None
        not_null = in_key = False
        comment = None
        for c in node.constraints:
            k = c.args.get("kind")
            if isinstance(k, exp.ComputedColumnConstraint):
                computed = k
            elif isinstance(k, MetadataColumnConstraint):
                metadata = k
            elif isinstance(k, exp.NotNullColumnConstraint):
                not_null = not k.args.get("allow_null")
            elif isinstance(k, exp.PrimaryKeyColumnConstraint):
                self.check_enforced(k) if k.args.get("options") else self.check_enforced_at(node)
                in_key = True
            elif isinstance(k, exp.CommentColumnConstraint):
                comment = k.this.name
            else:
                text = c.sql(dialect=DIALECT).split("(")[0].strip()
                raise self.unsupported(f"column constraint {text}", self.node_token(node))
        if computed is not None:
            expr = computed.this.sql(dialect=DIALECT)
            is_proctime = expr.replace(" ", "").upper() == "PROCTIME()"
            ctype = PROCTIME_TYPE if is_proctime else UNKNOWN_TYPE
            return Column(name, ctype, ColumnKind.COMPUTED, expr=expr, comment=comment), in_key
        if kind is None:
            raise self.parse_error(f"column '{name}' needs a data type", self.node_token(node))
        dtype = self.data_type(kind, node)
        if not_null:
            dtype = dtype.with_nullable(False)
        if metadata is not None:
            key = metadata.this.name if metadata.this is not None else None
            return Column(
                name,
                dtype,
                ColumnKind.METADATA,
                metadata_key=key,
                virtual=bool(metadata.args.get("virtual")),
                comment=comment,
            ), in_key
        return Column(name, dtype, comment=comment), in_key

    def check_enforced_at(self, node: exp.Expr) -> None:
        raise self.parse_error(
            "Flink does not enforce primary keys, so PRIMARY KEY must say NOT ENFORCED",
            self.keyword_before("PRIMARY", self.next_after(node)),
            hint="write PRIMARY KEY NOT ENFORCED",
        )

    def next_after(self, node: exp.Expr) -> Token | int:
        """The last PRIMARY token of a column definition (its name is where we start)."""
        start = self.node_token(node)
        offset = start if isinstance(start, int) else start.start
        depth = 0
        last: Token | int = start
        for tok in self.tokens:
            if tok.start < offset:
                continue
            depth += tok.token_type == TokenType.L_PAREN
            depth -= tok.token_type == TokenType.R_PAREN
            if depth < 0 or (depth == 0 and tok.token_type == TokenType.COMMA):
                break
            last = tok
        return last

    def data_type(self, kind: exp.Expr, where: exp.Expr) -> DataType:
        text = kind.sql(dialect=DIALECT)
        try:
            return parse_type(text)
        except SqlStreamError as e:
            raise self.parse_error(e.message, self.node_token(where)) from None
