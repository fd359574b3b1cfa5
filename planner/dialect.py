"""Flink SQL as a sqlglot dialect: Spark's (backticks, STRING, Java date formats) plus
what Flink adds: window TVFs with DESCRIPTOR, watermarks, computed and metadata columns,
``FOR SYSTEM_TIME AS OF``, ``WITH ('k' = 'v')`` options and Flink's type names.

Every sqlglot subclass of the project lives in this module (nodes in
``planner.expressions``); private ``_parse_*`` hooks it overrides are pinned by
``tests/unit/planner/test_dialect_roundtrip.py``. Pinned to sqlglot 30.

>>> import sqlglot
>>> sqlglot.transpile("SELECT CAST(a AS TIMESTAMP(3)), 'it''s' FROM t", read=Flink, write=Flink)
["SELECT CAST(a AS TIMESTAMP(3)), 'it''s' FROM t"]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlglot import exp, parser
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy, rename_func
from sqlglot.dialects.spark import Spark
from sqlglot.generator import Generator
from sqlglot.generators.spark import SparkGenerator
from sqlglot.helper import seq_get
from sqlglot.parsers.spark import SparkParser
from sqlglot.tokens import TokenType

from planner import json_syntax
from planner.expressions import (
    WINDOW_KINDS,
    AlterTableDrop,
    AlterTableOptions,
    AlterTableResetOptions,
    AlterTableSchema,
    Collect,
    DateFormat,
    Descriptor,
    MatchRecognize,
    MetadataColumnConstraint,
    Percentile,
    WindowTVF,
)


def _percentile(args: list[exp.Expr]) -> Percentile:
    """PERCENTILE's arguments; after DISTINCT they come as one list (``DISTINCT v, p``)."""
    if len(args) == 1 and isinstance(args[0], exp.Distinct) and len(args[0].expressions) > 1:
        first, *rest = args[0].expressions
        args = [exp.Distinct(expressions=[first]), *rest]
    return Percentile.from_arg_list(args)


# Positional arguments after DATA and TIMECOL, per window kind (Flink's order).
_WINDOW_PARAMS = {
    "TUMBLE": ("size", "offset"),
    "HOP": ("slide", "size", "offset"),
    "CUMULATE": ("step", "size", "offset"),
    "SESSION": ("gap",),
}
# Flink's type names for sqlglot's types, where they differ from sqlglot's enum names.
_TYPE_NAMES = {
    exp.DType.TEXT: "STRING",
    exp.DType.BLOB: "BYTES",
    exp.DType.TIMESTAMPLTZ: "TIMESTAMP_LTZ",
    exp.DType.STRUCT: "ROW",
}


def _trim(args: list[exp.Expr], position: str) -> exp.Trim:
    return exp.Trim(this=seq_get(args, 0), expression=seq_get(args, 1), position=position)


def _group(index: exp.Expr | None, default: int) -> exp.Expr:
    if index is None:
        return exp.Literal.number(default)
    if isinstance(index, exp.Neg) and isinstance(index.this, exp.Literal) and index.this.is_int:
        return exp.Literal(this=f"-{index.this.name}", is_string=False)
    return index


def _literal_timestamp_type(literal: exp.Expr, data_type: exp.DataType) -> exp.DataType:
    if data_type.expressions or not literal.is_string:
        return data_type
    _, _, fraction = literal.name.strip().partition(".")
    digits = len(fraction.rstrip()) if fraction.rstrip().isdigit() else 0
    return exp.DataType.build(f"TIMESTAMP({digits})")


def _from_unixtime(args: list[exp.Expr], dialect: Dialect) -> exp.Expr:
    """FROM_UNIXTIME as sqlglot reads it, the Java pattern kept in the node's meta
    (``java_format``): SimpleDateFormat's letters ('u', 'G', 'Y', 'w') have no strftime
    spelling, and :mod:`planner.dateformat` formats them from the pattern as written."""
    node = SparkParser.FUNCTIONS["FROM_UNIXTIME"](args, dialect)
    fmt = seq_get(args, 1)
    if fmt is not None and fmt.is_string:
        node.meta["java_format"] = fmt.name
    return node


def unicode_unescape(text: str, escape: str = "\\") -> str:
    """The text of a Unicode literal, its escapes read as Calcite's SqlLiteral does: the
    escape character twice is itself, else it takes the next four characters as a
    hexadecimal UTF-16 unit (Integer.parseInt's reading: a sign may lead). Half of a
    surrogate pair left alone is '?', as Flink's UTF-8 text writes it.

    >>> unicode_unescape(r"a\\0041\\\\\\D83D\\DE00"), unicode_unescape("!00e9!!", "!")
    ('aA\\\\😀', 'é!')
    """
    units: list[int] = []
    i = 0
    while i < len(text):
        if text[i] != escape:
            units.extend(_utf16_units(text[i]))
            i += 1
        elif text[i + 1 : i + 2] == escape:
            units.append(ord(escape))
            i += 2
        else:
            digits = text[i + 1 : i + 5]
            if len(digits) < 4 or not re.fullmatch(r"[+-]?[0-9a-fA-F]+", digits):
                raise ValueError(
                    f"a Unicode escape is {escape} and four hexadecimal digits, not {escape}{digits}"
                )
            units.append(int(digits, 16) & 0xFFFF)
            i += 5
    data = b"".join(u.to_bytes(2, "little") for u in units)
    return re.sub("[\ud800-\udfff]", "?", data.decode("utf-16-le", errors="surrogatepass"))


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-le", errors="surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


LIKE_STRATEGIES = ("INCLUDING", "EXCLUDING", "OVERWRITING")
LIKE_FEATURES = ("ALL", "CONSTRAINTS", "GENERATED", "METADATA", "OPTIONS", "PARTITIONS", "WATERMARKS")


class FlinkParser(SparkParser):
    STRICT_CAST = True  # Flink's CAST fails on bad input; TRY_CAST returns NULL

    VERSION_PHRASES = {("FOR", "SYSTEM_TIME"): "TIMESTAMP"}

    # SESSION(ts, gap) is a legacy group window function
    FUNC_TOKENS = {*SparkParser.FUNC_TOKENS, TokenType.SESSION}

    NO_PAREN_FUNCTIONS = {
        **SparkParser.NO_PAREN_FUNCTIONS,
        TokenType.LOCALTIME: exp.Localtime,
        TokenType.CURRENT_TIME: exp.CurrentTime,  # Hive's parser drops it
        TokenType.LOCALTIMESTAMP: exp.Localtimestamp,
    }

    # TIMESTAMP '2024-02-29 13:45:30.123' is a TIMESTAMP(3) in Flink: as many fraction
    # digits as the literal has (CAST('...' AS TIMESTAMP) is TIMESTAMP(6)).
    TYPE_LITERAL_PARSERS = {
        **SparkParser.TYPE_LITERAL_PARSERS,
        exp.DType.TIMESTAMP: lambda self, this, data_type: self.expression(
            exp.Cast(this=this, to=_literal_timestamp_type(this, data_type))
        ),
    }

    FUNCTIONS = {
        **SparkParser.FUNCTIONS,
        # TO_TIMESTAMP(s) reads leniently and is NULL for text it cannot read, unlike a CAST
        "TO_TIMESTAMP": lambda args, dialect: (
            exp.Anonymous(this="TO_TIMESTAMP", expressions=args)
            if len(args) == 1
            else SparkParser.FUNCTIONS["TO_TIMESTAMP"](args, dialect)
        ),
        "DATE_FORMAT": lambda args: DateFormat(this=seq_get(args, 0), format=seq_get(args, 1)),
        "FROM_UNIXTIME": _from_unixtime,
        # ARRAY_SORT(a, ascending, nulls_first): sqlglot's node keeps two arguments of three
        "ARRAY_SORT": lambda args: exp.Anonymous(this="ARRAY_SORT", expressions=args),
        "COLLECT": Collect.from_arg_list,
        "PERCENTILE": _percentile,
        "POW": lambda args: exp.Anonymous(this="POW", expressions=args),  # Flink has POWER only
        # LTRIM(s, chars) / RTRIM(s, chars): the string first, as Flink's (Spark's reader
        # takes the characters first)
        "LTRIM": lambda args: _trim(args, "LEADING"),
        "RTRIM": lambda args: _trim(args, "TRAILING"),
        # the group index: 1 by default for REGEXP_EXTRACT_ALL (Spark's reader says 0), and
        # a negative constant kept one literal, so the planner can read it
        "REGEXP_EXTRACT": lambda args: exp.RegexpExtract(
            this=seq_get(args, 0), expression=seq_get(args, 1), group=_group(seq_get(args, 2), 0)
        ),
        "REGEXP_EXTRACT_ALL": lambda args: exp.RegexpExtractAll(
            this=seq_get(args, 0), expression=seq_get(args, 1), group=_group(seq_get(args, 2), 1)
        ),
        "STR_TO_MAP": lambda args: exp.StrToMap(  # Flink's defaults: ',' and '=' (Spark ':')
            this=seq_get(args, 0),
            pair_delim=seq_get(args, 1) or exp.Literal.string(","),
            key_value_delim=seq_get(args, 2) or exp.Literal.string("="),
        ),
    }

    # U&'..' [UESCAPE 'c']: a string with Unicode escapes, read into a plain literal
    STRING_PARSERS = {
        **SparkParser.STRING_PARSERS,
        TokenType.UNICODE_STRING: lambda self, token: self._parse_unicode_string(token),
    }
    PRIMARY_PARSERS = {**SparkParser.PRIMARY_PARSERS, **STRING_PARSERS}

    FUNCTION_PARSERS = {
        **SparkParser.FUNCTION_PARSERS,
        "TABLE": lambda self: self._parse_table_function(),
        "DESCRIPTOR": lambda self: self.expression(
            Descriptor(expressions=self._parse_csv(self._parse_id_var))
        ),
        **{name: parse for name, parse in json_syntax.PARSERS.items()},
    }
    FUNCTION_PARSERS.pop("PERCENTILE", None)  # Hive's drops a third argument: ours keeps it

    CONSTRAINT_PARSERS = {
        **SparkParser.CONSTRAINT_PARSERS,
        "METADATA": lambda self: self._parse_metadata(),
        "WATERMARK": lambda self: self._parse_watermark(),
    }

    SCHEMA_UNNAMED_CONSTRAINTS = {*SparkParser.SCHEMA_UNNAMED_CONSTRAINTS, "WATERMARK"}

    # Flink 2.3's INSERT ... ON CONFLICT DO DEDUPLICATE | DO ERROR | DO NOTHING (the
    # strategy of a sink keyed otherwise than the query's rows)
    CONFLICT_ACTIONS = {**SparkParser.CONFLICT_ACTIONS, "DO": ("NOTHING", "UPDATE", "DEDUPLICATE", "ERROR")}

    ALTER_PARSERS = {
        **SparkParser.ALTER_PARSERS,
        "SET": lambda self: self.expression(
            AlterTableOptions(expressions=self._parse_wrapped_csv(self._parse_option))
        ),
        "RESET": lambda self: self.expression(
            AlterTableResetOptions(expressions=self._parse_wrapped_csv(self._parse_string))
        ),
        # Flink's schema changes (FLINK-21634): ADD | MODIFY <item> | (<item>, ...), DROP,
        # RENAME <column> TO <name>; an action sqlglot's own parsers would read otherwise
        "ADD": lambda self: self._parse_alter_schema("ADD"),
        "MODIFY": lambda self: self._parse_alter_schema("MODIFY"),
        "DROP": lambda self: self._parse_alter_drop(),
        "RENAME": lambda self: self._parse_alter_rename(),
    }

    def _warn_unsupported(self) -> None:
        """No log line: planner.parse turns every exp.Command into an UnsupportedError."""

    def _parse_unicode_string(self, token: Any) -> exp.Expr:
        """``U&'\\0041'``: Calcite's Unicode literal (SqlLiteral.unescapeUnicode), a plain
        string by now. The escape character (``\\`` unless UESCAPE names another) is
        followed by four hexadecimal digits, one UTF-16 unit (a character beyond U+FFFF
        is two escapes), or by itself for itself."""
        escape = "\\"
        if self._match_text_seq("UESCAPE"):
            marker = self._parse_string()
            if marker is None or not marker.is_string or len(marker.name) != 1:
                self.raise_error("UESCAPE takes one character in quotes, as UESCAPE '!'")
            else:
                escape = marker.name
        try:
            text = unicode_unescape(token.text, escape)
        except ValueError as e:
            self.raise_error(str(e), token)
            text = token.text
        return self.expression(exp.Literal.string(text), token)

    def _parse_create_like(self) -> exp.LikeProperty | None:
        """Flink's ``LIKE source [(INCLUDING ALL OVERWRITING OPTIONS ...)]``: each option a
        merging strategy and a feature, in parentheses, without commas."""
        parts = [self._parse_id_var()]  # not _parse_table_parts: 'src (' would read as a call
        while self._match(TokenType.DOT):
            parts.append(self._parse_id_var())
        if any(p is None for p in parts):
            self.raise_error("LIKE takes the name of a table")
            return None
        names = [p.name for p in parts if p is not None]
        db, catalog = (names[-2] if len(names) > 1 else None), (names[-3] if len(names) > 2 else None)
        table = exp.table_(names[-1], db, catalog)
        options = []
        if self._match(TokenType.L_PAREN):
            while not self._match(TokenType.R_PAREN):
                if not self._match_texts(LIKE_STRATEGIES) or not self._match_texts(LIKE_FEATURES):
                    self.raise_error(
                        "a LIKE option is INCLUDING, EXCLUDING or OVERWRITING, then ALL, CONSTRAINTS, "
                        "GENERATED, METADATA, OPTIONS, PARTITIONS or WATERMARKS"
                    )
                    return None
                strategy = self._tokens[self._index - 2].text.upper()
                feature = self._prev.text.upper()
                options.append(self.expression(exp.Property(this=strategy, value=exp.var(feature))))
        return self.expression(exp.LikeProperty(this=table, expressions=options))

    def _parse_option(self) -> exp.Property:
        key = self._parse_string()
        value = self._match(TokenType.EQ) and self._parse_string()
        if not key or not value:
            self.raise_error("options are written 'key' = 'value', both in single quotes")
        return self.expression(exp.Property(this=key, value=value))

    def _parse_metadata(self) -> MetadataColumnConstraint:
        """``METADATA [FROM 'key'] [VIRTUAL]`` after a column's type."""
        key = None
        if self._match(TokenType.FROM):
            key = self._parse_string()
            if key is None:
                self.raise_error("METADATA FROM needs the metadata key in quotes")
        virtual = self._match_text_seq("VIRTUAL")
        return self.expression(MetadataColumnConstraint(this=key, virtual=virtual))

    def _parse_alter_schema(self, kind: str) -> AlterTableSchema:
        """``ADD | MODIFY`` one item or a parenthesized list of them: a column (with
        ``FIRST`` or ``AFTER c``), ``PRIMARY KEY (...) NOT ENFORCED`` or a watermark."""
        wrapped = self._match(TokenType.L_PAREN)
        items = self._parse_csv(self._parse_alter_item) if wrapped else [self._parse_alter_item()]
        if wrapped:
            self._match_r_paren()
        return self.expression(
            AlterTableSchema(kind=kind, expressions=[i for i in items if i], wrapped=wrapped)
        )

    def _parse_alter_item(self) -> exp.Expr | None:
        if self._curr and self._curr.token_type == TokenType.COLUMN:
            self.raise_error("Flink's ALTER TABLE names the column without COLUMN: ADD c INT", self._curr)
        constraint = self._parse_constraint()
        if constraint is not None:
            return constraint
        column = self._parse_field_def()  # sqlglot reads FIRST | AFTER c into its position
        if not isinstance(column, exp.ColumnDef):
            self.raise_error("expected a column, PRIMARY KEY (...) NOT ENFORCED or WATERMARK FOR ...")
        return column

    def _parse_alter_drop(self) -> AlterTableDrop:
        """``DROP c | (c, ...) | PRIMARY KEY | WATERMARK | CONSTRAINT name``."""
        if self._match(TokenType.PRIMARY_KEY):  # one token
            return self.expression(AlterTableDrop(kind="PRIMARY KEY"))
        if self._match_text_seq("WATERMARK"):
            return self.expression(AlterTableDrop(kind="WATERMARK"))
        if self._match(TokenType.CONSTRAINT):
            return self.expression(AlterTableDrop(kind="CONSTRAINT", expressions=[self._parse_id_var()]))
        wrapped = self._match(TokenType.L_PAREN, advance=False)
        names = self._parse_wrapped_csv(self._parse_id_var) if wrapped else [self._parse_id_var()]
        if not names or any(n is None for n in names):
            self.raise_error("DROP takes a column, (column, ...), PRIMARY KEY or WATERMARK")
        return self.expression(AlterTableDrop(kind="COLUMNS", expressions=names, wrapped=wrapped))

    def _parse_alter_rename(self) -> exp.AlterRename | exp.RenameColumn:
        """``RENAME TO new_table`` or ``RENAME column TO new_column``."""
        if self._match_text_seq("TO"):
            return self.expression(exp.AlterRename(this=self._parse_table(schema=True)))
        old = self._parse_id_var()
        new = self._parse_id_var() if self._match_text_seq("TO") else None
        if old is None or new is None:
            self.raise_error("RENAME takes TO new_name, or a column: RENAME c TO new_c")
        return self.expression(exp.RenameColumn(this=old, to=new))

    def _parse_watermark(self) -> exp.WatermarkColumnConstraint:
        """``WATERMARK FOR column AS expression`` in a table's column list."""
        column = self._parse_column() if self._match(TokenType.FOR) else None
        expression = self._parse_disjunction() if self._match(TokenType.ALIAS) else None
        if column is None or expression is None:
            self.raise_error("a watermark is declared as WATERMARK FOR <column> AS <expression>")
        return self.expression(exp.WatermarkColumnConstraint(this=column, expression=expression))

    def _parse_types(
        self,
        check_func: bool = False,
        schema: bool = False,
        allow_identifiers: bool = True,
        with_collation: bool = False,
    ) -> exp.Expr | None:
        """Flink's types: keep ``VARCHAR(n)`` (Hive turns it into STRING outside DDL),
        read ``ROW<...>`` / ``ROW(...)`` as a struct type, and ``NOT NULL`` after an
        element type or a CAST target (the two places sqlglot passes ``with_collation``)."""
        if (
            self._curr
            and self._curr.token_type == TokenType.ROW
            and self._next
            and self._next.token_type in (TokenType.LT, TokenType.L_PAREN)
        ):
            this: exp.Expr | None = self._try_parse(self._parse_row_type)
        else:
            this = parser.Parser._parse_types(
                self,
                check_func=check_func,
                schema=schema,
                allow_identifiers=allow_identifiers,
                with_collation=with_collation,
            )
        if with_collation and isinstance(this, exp.DataType) and self._match_text_seq("NOT", "NULL"):
            this.set("nullable", False)
        return this

    def _parse_json_key_value(self) -> exp.JSONKeyValue | None:
        """``[KEY] key VALUE value`` in JSON_OBJECT and JSON_OBJECTAGG: Flink's key is any
        expression (``k || '_id'``); sqlglot's hook reads only a column there."""
        self._match_text_seq("KEY")
        key = self._parse_bitwise()
        self._match_set(self.JSON_KEY_VALUE_SEPARATOR_TOKENS)
        self._match_text_seq("VALUE")
        value = self._parse_bitwise()
        if not key and not value:
            return None
        return self.expression(exp.JSONKeyValue(this=key, expression=value))

    def _parse_bracket(self, this: exp.Expr | None = None) -> exp.Expr | None:
        """``MAP[k1, v1, k2, v2]`` is Flink's map constructor (MAP is a reserved word there,
        so a column named map is written `map`), not an index into a column."""
        if not (
            isinstance(this, exp.Column)
            and not this.table
            and not this.this.quoted
            and this.name.upper() == "MAP"
            and self._match(TokenType.L_BRACKET)
        ):
            return super()._parse_bracket(this)
        items = self._parse_csv(self._parse_assignment)
        if not self._match(TokenType.R_BRACKET):
            self.raise_error("Expected ]")
        if not items or len(items) % 2:
            self.raise_error("MAP[...] takes keys and values in pairs: MAP[k1, v1, k2, v2, ...]")
        keys = exp.Array(expressions=items[0::2])
        built = self.expression(exp.VarMap(keys=keys, values=exp.Array(expressions=items[1::2])))
        built.update_positions(this.this)  # errors point at MAP
        return super()._parse_bracket(built)

    def _parse_row_type(self) -> exp.DataType | None:
        self._advance()  # ROW
        close = TokenType.GT if self._match(TokenType.LT) else TokenType.R_PAREN
        if close == TokenType.R_PAREN:
            self._match(TokenType.L_PAREN)
        fields = self._parse_csv(lambda: self._parse_struct_types(type_required=True))
        if not self._match(close) or not all(
            isinstance(f, exp.ColumnDef) and f.args.get("kind") for f in fields
        ):
            self.raise_error("Expecting ROW<name type, ...>")
        return exp.DataType(this=exp.DType.STRUCT, expressions=fields, nested=True)

    def _parse_match_recognize(self) -> exp.MatchRecognize | None:
        """sqlglot's reading of the clause, plus Flink's ``WITHIN <interval>`` after
        ``PATTERN (...)`` (whose text is kept as written), with FIRST/LAST/PREV/NEXT read
        as navigation calls."""
        if not self._match(TokenType.MATCH_RECOGNIZE):
            return None
        with navigating(self):
            return self._parse_match_recognize_body()

    def _parse_match_recognize_body(self) -> exp.MatchRecognize:
        self._match_l_paren()
        args: dict[str, Any] = {"partition_by": self._parse_partition_by(), "order": self._parse_order()}
        if self._match_text_seq("MEASURES"):
            args["measures"] = self._parse_csv(self._parse_match_recognize_measure)
        if self._match_text_seq("ONE", "ROW", "PER", "MATCH"):
            args["rows"] = exp.var("ONE ROW PER MATCH")
        elif self._match_text_seq("ALL", "ROWS", "PER", "MATCH"):
            args["rows"] = exp.var("ALL ROWS PER MATCH")
        after = self._curr  # the clauses' text keeps its place: errors point into it
        if self._match_text_seq("AFTER", "MATCH", "SKIP"):
            words: list[str] = []
            while self._curr and self._curr.text.upper() != "PATTERN" and len(words) < 3:
                words.append(self._curr.text)
                self._advance()
            args["after"] = exp.var(" ".join(["AFTER MATCH SKIP", *words])).update_positions(after)
        if self._match_text_seq("PATTERN"):
            self._match_l_paren()
            depth, start, end = 1, self._curr, self._curr
            while self._curr and depth:
                depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(self._curr.token_type, 0)
                if depth:
                    end = self._curr
                self._advance()
            if depth or start is None or end is None:
                self.raise_error("Expecting ) after the PATTERN")
            text = self._find_sql(start, end) if start is not end or depth == 0 else ""
            args["pattern"] = exp.var(text).update_positions(start)
            if self._match_text_seq("WITHIN"):
                args["within"] = self._parse_interval() or self._parse_primary()
        if self._match_text_seq("DEFINE"):
            args["define"] = self._parse_csv(self._parse_name_as_expression)
        self._match_r_paren()
        return self.expression(MatchRecognize(**args, alias=self._parse_table_alias()))

    def _parse_table_function(self) -> exp.Expr:
        """``TABLE(<function>)`` in FROM; a window function becomes a :class:`WindowTVF`."""
        kind = self._curr.text.upper() if self._curr else ""
        if kind in WINDOW_KINDS and self._next and self._next.token_type == TokenType.L_PAREN:
            self._advance(2)
            tvf = self._parse_window_tvf(kind)
            self._match_r_paren()
            return tvf
        return self.expression(exp.TableFromRows(this=self._parse_function()))

    def _parse_window_tvf(self, kind: str) -> WindowTVF:
        args: dict[str, Any] = {"kind": kind}
        params = ("data", "timecol", *_WINDOW_PARAMS[kind])
        position = 0
        while True:
            name: str | None = None
            if self._curr and self._next and self._next.token_type == TokenType.FARROW:
                name = self._curr.text.lower()
                if name not in params:
                    self.raise_error(
                        f"{kind} has no parameter {name.upper()}; "
                        f"it takes {', '.join(p.upper() for p in params)}"
                    )
                self._advance(2)
            elif position >= len(params):
                self.raise_error(f"too many arguments for {kind}")
            else:
                name = params[position]
            assert name is not None
            position += 1
            if name == "data":
                args.update(self._parse_window_data(kind))
            elif name == "timecol":
                descriptor = self._parse_function()
                if not isinstance(descriptor, Descriptor) or len(descriptor.expressions) != 1:
                    self.raise_error(f"{kind} expects DESCRIPTOR(time_column) here")
                args["time_column"] = descriptor.expressions[0] if descriptor else None
            else:
                args[name] = self._parse_disjunction()
            if not self._match(TokenType.COMMA):
                break
        if "this" not in args or "time_column" not in args:
            self.raise_error(f"{kind} needs a TABLE and a DESCRIPTOR(time_column) argument")
        missing = [p.upper() for p in _WINDOW_PARAMS[kind] if p != "offset" and p not in args]
        if missing:
            self.raise_error(f"{kind} needs {' and '.join(missing)}")
        return self.expression(WindowTVF(**args))

    def _parse_window_data(self, kind: str) -> dict[str, Any]:
        if not self._match(TokenType.TABLE):
            self.raise_error(f"the first argument of {kind} must be TABLE <name>")
        if self._match(TokenType.L_PAREN, advance=False):
            data: exp.Expr | None = self._parse_table()
        else:
            data = self._parse_table_parts()
        out: dict[str, Any] = {"this": data}
        if self._match(TokenType.PARTITION_BY):
            out["partition_by"] = (
                self._parse_wrapped_csv(self._parse_column)
                if self._match(TokenType.L_PAREN, advance=False)
                else [self._parse_column()]
            )
        return out


# Inside MATCH_RECOGNIZE, FIRST/LAST/PREV/NEXT navigate the rows of a match: calls of their
# own (Spark's FIRST(x, ignoreNulls) would drop the offset).
def _navigation(name: str) -> Any:
    return lambda args: exp.Anonymous(this=name, expressions=args)


NAVIGATION = {name: _navigation(name) for name in ("FIRST", "LAST", "PREV", "NEXT")}


@contextmanager
def navigating(reader: parser.Parser) -> Iterator[None]:
    """``reader`` reads FIRST/LAST/PREV/NEXT as MATCH_RECOGNIZE's navigation calls (an
    instance's own function table, the class's left as it is)."""
    setattr(reader, "FUNCTIONS", {**reader.FUNCTIONS, **NAVIGATION})  # noqa: B010 (a class variable)
    try:
        yield
    finally:
        delattr(reader, "FUNCTIONS")


def _match_recognize_sql(gen: Generator, node: MatchRecognize) -> str:
    """sqlglot's text of the clause, with ``WITHIN`` after the pattern."""
    text = gen.matchrecognize_sql(node)
    within = node.args.get("within")
    if within is None:
        return text
    pattern = f"PATTERN ({gen.sql(node, 'pattern')})"
    return text.replace(pattern, f"{pattern} WITHIN {gen.sql(within)}", 1)


class FlinkGenerator(SparkGenerator):
    WITH_PROPERTIES_PREFIX = "WITH"
    INSERT_OVERWRITE = " OVERWRITE"

    TRANSFORMS = {
        # Spark rewrites CREATE TEMPORARY TABLE and plain CASTs; Flink keeps them as written.
        **{
            k: v for k, v in SparkGenerator.TRANSFORMS.items() if k not in (exp.Create, exp.Cast, exp.TryCast)
        },
        exp.Property: lambda self, e: f"{self.sql(e, 'this')} = {self.sql(e, 'value')}",
        MatchRecognize: lambda self, e: _match_recognize_sql(self, e),
        exp.TimestampAdd: lambda self, e: self.func("TIMESTAMPADD", e.args.get("unit"), e.expression, e.this),
        exp.TimestampDiff: lambda self, e: self.func(
            "TIMESTAMPDIFF", e.args.get("unit"), e.expression, e.this
        ),
        exp.Struct: lambda self, e: self.func("ROW", *e.expressions),
        exp.VarMap: lambda self, e: (
            "MAP["
            + ", ".join(
                self.sql(x)
                for pair in zip(e.args["keys"].expressions, e.args["values"].expressions)
                for x in pair
            )
            + "]"
        ),
        exp.ComputedColumnConstraint: lambda self, e: f"AS {self.sql(e, 'this')}",
        exp.WatermarkColumnConstraint: lambda self, e: (
            f"WATERMARK FOR {self.sql(e, 'this')} AS {self.sql(e, 'expression')}"
        ),
        exp.Localtimestamp: lambda self, e: "LOCALTIMESTAMP",
        exp.Localtime: lambda self, e: "LOCALTIME",
        exp.CurrentTimestamp: lambda self, e: "CURRENT_TIMESTAMP",
        exp.CurrentDate: lambda self, e: "CURRENT_DATE",
        exp.CurrentTime: lambda self, e: "CURRENT_TIME",
        exp.Array: lambda self, e: f"ARRAY[{self.expressions(e, flat=True)}]",
        exp.PrimaryKeyColumnConstraint: lambda self, e: Generator.primarykeycolumnconstraint_sql(
            self, e
        ),  # keeps NOT ENFORCED
        exp.Length: rename_func("CHAR_LENGTH"),
        exp.ToBase64: rename_func("TO_BASE64"),
        exp.FromBase64: rename_func("FROM_BASE64"),
        exp.Trunc: lambda self, e: self.func("TRUNCATE", e.this, e.args.get("decimals")),
        exp.StrToUnix: lambda self, e: (
            "UNIX_TIMESTAMP()"
            if isinstance(e.this, exp.CurrentTimestamp)
            else SparkGenerator.TRANSFORMS[exp.StrToUnix](self, e)
        ),
        exp.JSONObject: lambda self, e: self.func(
            "JSON_OBJECT",
            *(f"KEY {self.sql(kv, 'this')} VALUE {self.sql(kv, 'expression')}" for kv in e.expressions),
        ),
        exp.JSONObjectAgg: lambda self, e: self.func(
            "JSON_OBJECTAGG",
            *(f"KEY {self.sql(kv, 'this')} VALUE {self.sql(kv, 'expression')}" for kv in e.expressions),
            suffix=f"{' ' + e.text('null_handling') if e.args.get('null_handling') else ''})",
        ),
        # sqlglot finds generator methods only for its own node classes; ours are listed here
        WindowTVF: lambda self, e: self.windowtvf_sql(e),
        Descriptor: lambda self, e: self.func("DESCRIPTOR", *e.expressions),
        MetadataColumnConstraint: lambda self, e: self.metadatacolumnconstraint_sql(e),
        AlterTableOptions: lambda self, e: f"SET ({self.expressions(e, flat=True)})",
        AlterTableResetOptions: lambda self, e: f"RESET ({self.expressions(e, flat=True)})",
        AlterTableSchema: lambda self, e: self.altertableschema_sql(e),
        AlterTableDrop: lambda self, e: self.altertabledrop_sql(e),
        exp.RenameColumn: lambda self, e: f"RENAME {self.sql(e, 'this')} TO {self.sql(e, 'to')}",
        **json_syntax.TRANSFORMS,
    }

    def altertableschema_sql(self, e: AlterTableSchema) -> str:
        items = self.expressions(e, flat=True)
        return f"{e.text('kind')} {f'({items})' if e.args.get('wrapped') else items}"

    def altertabledrop_sql(self, e: AlterTableDrop) -> str:
        kind, items = e.text("kind"), self.expressions(e, flat=True)
        if kind == "COLUMNS":
            return f"DROP {f'({items})' if e.args.get('wrapped') else items}"
        return f"DROP {kind}{' ' + items if items else ''}"

    def datatype_sql(self, expression: exp.DataType) -> str:
        kind = expression.this
        if kind == exp.DType.STRUCT:
            fields = []
            for f in expression.expressions:
                text = f"{self.sql(f, 'this')} {self.sql(f, 'kind')}"
                if any(
                    isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
                    for c in f.args.get("constraints") or ()
                ):
                    text += " NOT NULL"
                fields.append(text)
            text = f"ROW<{', '.join(fields)}>"
        elif kind in (exp.DType.ARRAY, exp.DType.MAP, exp.DType.LIST):
            name = "MULTISET" if kind == exp.DType.LIST else kind.value
            text = f"{name}<{self.expressions(expression, flat=True)}>"
        elif kind in _TYPE_NAMES or (isinstance(kind, exp.DType) and kind.name in _FLINK_NAMES):
            name = _TYPE_NAMES.get(kind, kind.name)
            params = self.expressions(expression, flat=True)
            text = f"{name}({params})" if params else name
        else:
            text = super().datatype_sql(expression)
        if expression.args.get("nullable") is False:
            text += " NOT NULL"
        return text

    def version_sql(self, expression: exp.Version) -> str:
        if expression.text("kind") != "AS OF":
            self.unsupported(f"FOR SYSTEM_TIME {expression.text('kind')}")
        return f"FOR SYSTEM_TIME AS OF {self.sql(expression, 'expression')}"

    def windowtvf_sql(self, expression: WindowTVF) -> str:
        data = self.sql(expression, "this")
        partition = self.expressions(expression, key="partition_by", flat=True)
        if partition:
            partition = " PARTITION BY " + (
                f"({partition})" if len(expression.args["partition_by"]) > 1 else partition
            )
        args = [f"TABLE {data}{partition}", f"DESCRIPTOR({self.sql(expression, 'time_column')})"]
        for name in _WINDOW_PARAMS[expression.kind]:
            if expression.args.get(name) is not None:
                args.append(self.sql(expression, name))
        table = f"TABLE({expression.kind}({', '.join(args)}))"
        alias = self.sql(expression, "alias")
        return f"{table} AS {alias}" if alias else table

    def metadatacolumnconstraint_sql(self, expression: MetadataColumnConstraint) -> str:
        key = self.sql(expression, "this")
        text = f"METADATA FROM {key}" if key else "METADATA"
        return f"{text} VIRTUAL" if expression.args.get("virtual") else text


_FLINK_NAMES = {
    "BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL", "DATE",
    "TIME", "TIMESTAMP", "CHAR", "VARCHAR", "BINARY", "VARBINARY", "NULL",
}  # fmt: skip


class Flink(Spark):
    """Flink SQL. ``sqlglot.parse_one(sql, read=Flink)``; ``expr.sql(dialect=Flink)``."""

    NORMALIZATION_STRATEGY = NormalizationStrategy.CASE_SENSITIVE
    INDEX_OFFSET = 1  # arr[1] is the first element, as in Flink (Spark counts from 0)
    REGEXP_EXTRACT_DEFAULT_GROUP = 0  # REGEXP_EXTRACT(s, p) returns the whole match
    SAFE_DIVISION = False  # integer division by zero fails in Flink, it is not NULL
    UNESCAPED_SEQUENCES: dict[str, str] = {}
    TIME_MAPPING = {**Spark.TIME_MAPPING, "SSS": "%g"}  # DATE_FORMAT's milliseconds

    class Tokenizer(Spark.Tokenizer):
        QUOTES = ["'"]
        STRING_ESCAPES = ["'"]  # 'it''s'; a backslash is an ordinary character
        RAW_STRINGS = []
        UNICODE_STRINGS = [("U&'", "'"), ("u&'", "'")]
        NUMERIC_LITERALS = {}
        # Tokenize every statement fully (sqlglot reads EXECUTE/SHOW/... bodies as one
        # string): planner.parse reads those statements from their tokens.
        COMMANDS = set()
        # Calcite's identifiers hold '$' after their first character (EXPR$0, the name it gives
        # an unnamed column or ROW field); Hive's ${var} substitution is not Flink's
        VAR_SINGLE_TOKENS = {"$"}
        SINGLE_TOKENS = {k: v for k, v in Spark.Tokenizer.SINGLE_TOKENS.items() if k != "$"}

        KEYWORDS = {
            **Spark.Tokenizer.KEYWORDS,
            "TIMESTAMP": TokenType.TIMESTAMP,  # Spark reads it WITH TIME ZONE; Flink does not
            "TIMESTAMP_LTZ": TokenType.TIMESTAMPLTZ,
            "BYTES": TokenType.BLOB,
            "MULTISET": TokenType.LIST,  # MULTISET<T>, also T MULTISET (sqlglot's postfix LIST)
            "MATCH_RECOGNIZE": TokenType.MATCH_RECOGNIZE,
        }

    Parser = FlinkParser

    Generator = FlinkGenerator
