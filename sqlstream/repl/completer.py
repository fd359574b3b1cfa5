"""Completion that knows where the cursor is.

Two steps, as in pgcli: ``suggest()`` decides what kind of token fits at the cursor (a
keyword, a table, a column of a table in the statement, a connector name, an option key
of *this* connector, a SET key, ...), then ``SqlCompleter`` looks the candidates up in a
``Metadata`` snapshot. The snapshot is plain data, rebuilt by the shell after each
statement and swapped in, so completion never touches the session while it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from catalog.connectors import CONNECTORS, FORMATS, ConnectorSpec, OptionSpec, OptionType
from planner.window import WINDOW_COLUMNS
from sqlstream.repl.submit import scan

STATEMENT_STARTS = (
    "SELECT", "INSERT INTO", "INSERT OVERWRITE", "CREATE TABLE", "CREATE TEMPORARY TABLE",
    "CREATE VIEW", "CREATE TEMPORARY VIEW", "DROP TABLE", "DROP VIEW", "ALTER TABLE", "SHOW TABLES",
    "SHOW VIEWS", "SHOW JOBS", "SHOW FUNCTIONS", "SHOW CREATE TABLE", "SHOW CREATE VIEW",
    "DESCRIBE", "EXPLAIN", "SET", "RESET", "STOP JOB", "BEGIN STATEMENT SET", "EXECUTE STATEMENT SET",
    "END", "WITH", "USE", "USE CATALOG", "CREATE DATABASE", "DROP DATABASE", "ALTER DATABASE",
    "CREATE CATALOG", "DROP CATALOG", "SHOW DATABASES", "SHOW CATALOGS",
)  # fmt: skip
KEYWORDS = (
    "SELECT", "FROM", "WHERE", "GROUP BY", "HAVING", "ORDER BY", "LIMIT", "AS", "AND", "OR", "NOT",
    "IN", "IS", "NULL", "LIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END", "DISTINCT", "ALL",
    "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL OUTER JOIN", "INNER JOIN", "CROSS JOIN", "ON", "USING",
    "UNION ALL", "UNION", "INTERSECT", "EXCEPT", "INTERVAL", "SECOND", "MINUTE", "HOUR", "DAY",
    "MONTH", "YEAR", "TABLE", "DESCRIPTOR", "PARTITION BY", "OVER", "ROWS BETWEEN", "RANGE BETWEEN",
    "PRECEDING", "CURRENT ROW", "UNBOUNDED PRECEDING", "FOR SYSTEM_TIME AS OF", "LATERAL TABLE",
    "UNNEST", "TRUE", "FALSE", "INSERT INTO", "VALUES", "CREATE TABLE", "CREATE VIEW", "IF NOT EXISTS",
    "IF EXISTS", "WATERMARK FOR", "PRIMARY KEY", "NOT ENFORCED", "METADATA", "METADATA FROM", "VIRTUAL",
    "COMMENT", "WITH", "PROCTIME()", "TEMPORARY", "MATCH_RECOGNIZE", "DESC", "ASC", "CASCADE",
    "RESTRICT",
    # ALTER TABLE t ...
    "ADD", "MODIFY", "DROP", "DROP PRIMARY KEY", "DROP WATERMARK", "RENAME", "RENAME TO", "FIRST",
    "AFTER", "RESET",
    # types
    "BOOLEAN", "TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL",
    "STRING", "VARCHAR", "CHAR", "BYTES", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP(3)",
    "TIMESTAMP_LTZ(3)", "ARRAY", "MAP", "ROW", "MULTISET",
)  # fmt: skip
SHOW_KINDS = ("TABLES", "VIEWS", "JOBS", "FUNCTIONS", "CATALOGS", "DATABASES", "CURRENT CATALOG",
              "CURRENT DATABASE", "CREATE TABLE", "CREATE VIEW", "COLUMNS FROM")  # fmt: skip
WINDOW_TVFS = ("TUMBLE", "HOP", "CUMULATE", "SESSION")
MODES = ("table", "changelog", "tableau")
# Keywords after which a table or view name comes.
_TABLE_BEFORE = {"FROM", "JOIN", "INTO", "TABLE", "DESCRIBE", "DESC", "UPDATE", "VIEW"}
_CLAUSES = {"SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "ON", "SET", "WITH", "BY"}
_NOT_ALIAS = {
    "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "JOIN", "LEFT", "RIGHT", "FULL", "INNER", "CROSS",
    "ON", "USING", "UNION", "AS", "FOR", "PARTITION", "WINDOW", "SELECT", "FROM", "AND", "OR",
    "LATERAL", "NATURAL", "OUTER", "EXCEPT", "INTERSECT", "MATCH_RECOGNIZE", "VALUES",
}  # fmt: skip


# ---- the metadata snapshot ---------------------------------------------------------------
@dataclass(frozen=True)
class Metadata:
    """What completion may propose, as plain data."""

    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table or view -> columns
    table_connectors: dict[str, str] = field(default_factory=dict)  # table -> connector name
    functions: tuple[str, ...] = ()
    config_keys: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    connectors: dict[str, ConnectorSpec] = field(default_factory=lambda: dict(CONNECTORS))
    formats: dict[str, tuple[OptionSpec, ...]] = field(
        default_factory=lambda: {name: f.options for name, f in FORMATS.items()}
    )
    commands: tuple[str, ...] = ()

    def columns(self, table: str) -> tuple[str, ...]:
        for name, cols in self.tables.items():
            if name.lower() == table.lower():
                return cols
        return ()


def metadata_from_session(session: Any, commands: Sequence[str] = ()) -> Metadata:
    """A snapshot of the session's catalog, functions, configuration keys and jobs."""
    from planner.functions import FUNCTIONS
    from sqlstream.config import KEYS

    tables: dict[str, tuple[str, ...]] = {}
    connectors: dict[str, str] = {}
    catalog = session.catalog
    for t in catalog.tables():
        tables[t.name] = tuple(t.schema.names)
        connectors[t.name] = t.connector
    for v in catalog.views():
        cols: tuple[str, ...] = tuple(v.columns)
        if not cols:
            try:
                import planner

                cols = tuple(f.name for f in planner.describe_fields(v.name, catalog))
            except Exception:
                cols = ()
        tables[v.name] = cols
    try:
        jobs = tuple(h.id for h in session.jobs.all())
    except Exception:
        jobs = ()
    return Metadata(
        tables=tables,
        table_connectors=connectors,
        functions=tuple(sorted([*FUNCTIONS, *(f.name for f in catalog.functions())])),
        config_keys=tuple(KEYS),
        jobs=jobs,
        commands=tuple(commands),
    )


# ---- deciding the kind of token ----------------------------------------------------------
class Kind(StrEnum):
    STATEMENT = "statement"  # the first word of a statement
    KEYWORD = "keyword"  # keywords, functions and the columns in scope
    TABLE = "table"
    COLUMN = "column"  # columns of one table (after ``alias.``)
    WINDOW_FUNCTION = "window function"  # after FROM TABLE(
    CONNECTOR = "connector"
    FORMAT = "format"
    OPTION_KEY = "option"
    OPTION_VALUE = "value"  # choices of an enum option
    CONFIG_KEY = "config"
    SHOW = "show"
    JOB_ID = "job"
    META = "command"
    MODE = "mode"
    FILE = "file"
    NONE = "none"


@dataclass(frozen=True)
class Suggestion:
    kind: Kind
    prefix: str  # the text to replace (inside the quote when ``in_string``)
    in_string: bool = False  # the cursor is inside an open '...' literal
    tables: tuple[str, ...] = ()  # tables in scope (KEYWORD, COLUMN)
    window: bool = False  # a window TVF is in the statement: window_start/end/time in scope
    connector: str | None = None  # OPTION_KEY, OPTION_VALUE
    option: str | None = None  # OPTION_VALUE: the key whose value is typed
    present: tuple[str, ...] = ()  # OPTION_KEY: the keys already given
    formats: dict[str, str] = field(default_factory=dict)  # OPTION_KEY: format key -> format
    declared: tuple[str, ...] = ()  # OPTION_KEY: columns of the CREATE TABLE being written


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, quoted (a `name`), number, punct
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def value(self) -> str:
        """A string literal's or quoted name's contents."""
        if self.kind == "string":
            inner = self.text[1:-1] if len(self.text) > 1 and self.text.endswith("'") else self.text[1:]
            return inner.replace("''", "'")
        if self.kind == "quoted":
            return self.text.strip('`"')
        return self.text


_TOKEN = re.compile(
    r"""(?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
      |(?P<string>'(?:[^']|'')*'?)
      |(?P<quoted>`[^`]*`?|"[^"]*"?)
      |(?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      |(?P<number>\d+(?:\.\d*)?)
      |(?P<space>\s+)
      |(?P<punct>=>|<>|<=|>=|!=|\|\||.)""",
    re.S | re.X,
)


def tokenize(sql: str) -> list[Token]:
    """Tokens of SQL text, comments and whitespace left out; an open quote runs to the end."""
    out: list[Token] = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup or "punct"
        if kind in ("comment", "space"):
            continue
        out.append(Token(kind, m.group()))
    return out


def _current_statement(tokens: list[Token]) -> list[Token]:
    """The tokens after the last ``;``."""
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].text == ";":
            return tokens[i + 1 :]
    return tokens


def _tables_in(tokens: Sequence[Token], known: Iterable[str]) -> tuple[dict[str, str], bool]:
    """Tables the statement refers to, by alias and by name (lower-cased), and whether a
    window TVF appears."""
    known_lower = {k.lower(): k for k in known}
    scope: dict[str, str] = {}
    window = False
    for i, tok in enumerate(tokens):
        if tok.upper in WINDOW_TVFS and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            window = True
        if tok.upper not in _TABLE_BEFORE and not (tok.text == "," and _last_clause(tokens[:i]) == "FROM"):
            continue
        if i + 1 >= len(tokens) or tokens[i + 1].kind not in ("word", "quoted"):
            continue
        name = tokens[i + 1].value
        real = known_lower.get(name.lower())
        if real is None:
            continue
        scope[real.lower()] = real
        j = i + 2
        if j < len(tokens) and tokens[j].upper == "AS":
            j += 1
        if j < len(tokens) and tokens[j].kind in ("word", "quoted") and tokens[j].upper not in _NOT_ALIAS:
            scope[tokens[j].value.lower()] = real
    return scope, window


def _last_clause(tokens: Sequence[Token]) -> str | None:
    depth = 0
    for tok in reversed(tokens):
        if tok.text == ")":
            depth += 1
        elif tok.text == "(":
            if depth == 0:
                return None
            depth -= 1
        elif depth == 0 and tok.upper in _CLAUSES:
            return tok.upper
    return None


def _open_paren(tokens: Sequence[Token]) -> int | None:
    """Index of the innermost ``(`` still open at the end of ``tokens``."""
    depth = 0
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].text == ")":
            depth += 1
        elif tokens[i].text == "(":
            if depth == 0:
                return i
            depth -= 1
    return None


def _with_options(tokens: Sequence[Token], start: int) -> dict[str, str]:
    """``'key' = 'value'`` pairs in the option list that opens at ``start``."""
    opts: dict[str, str] = {}
    for i in range(start + 1, len(tokens) - 2):
        if tokens[i].kind == "string" and tokens[i + 1].text == "=" and tokens[i + 2].kind == "string":
            opts[tokens[i].value] = tokens[i + 2].value
    return opts


def _declared_columns(tokens: Sequence[Token]) -> tuple[str, ...]:
    """Column names of a ``CREATE TABLE name (...)`` being written."""
    if not tokens or tokens[0].upper != "CREATE":
        return ()
    try:
        open_at = next(i for i, t in enumerate(tokens) if t.text == "(")
    except StopIteration:
        return ()
    cols: list[str] = []
    depth = 0
    expect = True
    for tok in tokens[open_at + 1 :]:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            if depth == 0:
                break
            depth -= 1
        elif tok.text == "," and depth == 0:
            expect = True
            continue
        elif (
            expect
            and depth == 0
            and tok.kind in ("word", "quoted")
            and tok.upper not in ("WATERMARK", "PRIMARY", "CONSTRAINT", "PERIOD")
        ):
            cols.append(tok.value)
        expect = False
    return tuple(cols)


def suggest(text_before: str, text_after: str = "", meta: Metadata | None = None) -> Suggestion:
    """What kind of token fits at the cursor.

    >>> suggest("SELECT * FROM ").kind
    <Kind.TABLE: 'table'>
    >>> s = suggest("CREATE TABLE t (a INT) WITH ('connector' = 'datagen', '")
    >>> s.kind, s.connector, s.in_string
    (<Kind.OPTION_KEY: 'option'>, 'datagen', True)
    """
    meta = meta or Metadata()
    scanned = scan(text_before)
    stripped = scanned.rest.lstrip()
    last_line = text_before.rsplit("\n", 1)[-1].lstrip()
    if not stripped and last_line[:1] in ("\\", "."):
        stripped = last_line  # the cursor is on a meta command's line
    # meta commands: \d name, .mode table, \i file
    if stripped[:1] in ("\\", ".") and "\n" not in stripped:
        parts = stripped.split(None, 1)
        if len(parts) == 1 and not stripped.endswith(" "):
            return Suggestion(Kind.META, stripped)
        command = parts[0].lower()
        arg = parts[1] if len(parts) > 1 else ""
        if command in (".mode", "\\mode"):
            return Suggestion(Kind.MODE, arg)
        if command in ("\\i", "\\o", ".read", ".output", "\\include", "\\out"):
            return Suggestion(Kind.FILE, arg)
        if command in ("\\d", ".schema", "\\describe"):
            return Suggestion(Kind.TABLE, arg)
        return Suggestion(Kind.NONE, arg)

    all_tokens = tokenize(text_before)
    tokens = _current_statement(all_tokens)
    after = tokenize(text_after)
    cut = next((i for i, t in enumerate(after) if t.text == ";"), len(after))
    statement = tokens + after[:cut]

    prefix = ""
    in_string = False
    if tokens and not text_before[-1:].isspace():
        last = tokens[-1]
        if last.kind == "string" and not (len(last.text) > 1 and last.text.endswith("'")):
            in_string, prefix = True, last.value
            tokens = tokens[:-1]
        elif last.kind == "word" or last.kind == "number":
            prefix = last.text
            tokens = tokens[:-1]
            # alias.col: collect the qualifier
            if len(tokens) >= 2 and tokens[-1].text == "." and tokens[-2].kind in ("word", "quoted"):
                scope, _ = _tables_in(statement, meta.tables)
                qualifier = tokens[-2].value.lower()
                table = scope.get(qualifier) or (qualifier if meta.columns(qualifier) else None)
                return Suggestion(Kind.COLUMN, prefix, tables=(table,) if table else ())
        elif last.text == "." and len(tokens) >= 2 and tokens[-2].kind in ("word", "quoted"):
            scope, _ = _tables_in(statement, meta.tables)
            qualifier = tokens[-2].value.lower()
            table = scope.get(qualifier) or (qualifier if meta.columns(qualifier) else None)
            return Suggestion(Kind.COLUMN, "", tables=(table,) if table else ())
    words = [t.upper for t in tokens]
    prev = tokens[-1] if tokens else None

    if not tokens:
        if prefix[:1] in ("\\", "."):
            return Suggestion(Kind.META, prefix)
        return Suggestion(Kind.STATEMENT, prefix)

    first = words[0]
    if words == ["EXPLAIN"]:
        return Suggestion(Kind.STATEMENT, prefix)  # EXPLAIN SELECT ... / EXPLAIN INSERT INTO ...
    # SET 'key' / RESET 'key'
    if first in ("SET", "RESET") and len(tokens) == 1:
        return Suggestion(Kind.CONFIG_KEY, prefix, in_string=in_string)
    if first == "SHOW" and len(tokens) == 1:
        return Suggestion(Kind.SHOW, prefix)
    if words[:2] == ["STOP", "JOB"] and len(tokens) == 2:
        return Suggestion(Kind.JOB_ID, prefix, in_string=in_string)
    if first == "STOP" and len(tokens) == 1:
        return Suggestion(Kind.KEYWORD, prefix)

    # inside WITH ( ... ) or ALTER TABLE t SET ( ... )
    open_at = _open_paren(tokens)
    if open_at is not None and open_at > 0 and tokens[open_at - 1].upper in ("WITH", "SET", "RESET"):
        before_paren = tokens[open_at - 1].upper
        options = _with_options(tokens, open_at)
        connector = options.get("connector")
        if connector is None and before_paren in ("SET", "RESET") and words[:2] == ["ALTER", "TABLE"]:
            table = tokens[2].value if len(tokens) > 2 else ""
            for name, conn in meta.table_connectors.items():
                if name.lower() == table.lower():
                    connector = conn
        declared = _declared_columns(tokens)
        if prev is not None and prev.text == "=" and len(tokens) >= 2 and tokens[-2].kind == "string":
            key = tokens[-2].value
            if key == "connector":
                return Suggestion(Kind.CONNECTOR, prefix, in_string=in_string)
            if key.endswith("format"):
                return Suggestion(Kind.FORMAT, prefix, in_string=in_string)
            return Suggestion(Kind.OPTION_VALUE, prefix, in_string=in_string, connector=connector, option=key)
        if prev is not None and prev.text in ("(", ","):
            formats = {k: v for k, v in options.items() if k.endswith("format")}
            return Suggestion(
                Kind.OPTION_KEY,
                prefix,
                in_string=in_string,
                connector=connector,
                present=tuple(options),
                formats=formats,
                declared=declared,
            )
        return Suggestion(Kind.NONE, prefix, in_string=in_string)

    if in_string:
        return Suggestion(Kind.NONE, prefix, in_string=True)

    scope, window = _tables_in(statement, meta.tables)
    in_scope = tuple(dict.fromkeys(scope.values()))
    if prev is not None:
        up = prev.upper
        if up == "TABLE" and words[0] == "CREATE" and tokens[-2].upper in ("CREATE", "TEMPORARY"):
            return Suggestion(Kind.NONE, prefix)  # a new table's name
        if up in ("EXISTS",) and "CREATE" in words[:3]:
            return Suggestion(Kind.NONE, prefix)
        if (up == "VIEW" and words[:1] == ["CREATE"]) or up == "TEMPORARY":
            return Suggestion(Kind.KEYWORD, prefix)
        if prev.text == "(" and len(tokens) >= 2 and tokens[-2].upper == "TABLE":
            return Suggestion(Kind.WINDOW_FUNCTION, prefix)
        if prev.text == "(" and len(tokens) >= 2 and tokens[-2].upper == "DESCRIPTOR":
            return Suggestion(Kind.KEYWORD, prefix, tables=in_scope, window=False)
        if up in _TABLE_BEFORE:
            return Suggestion(Kind.TABLE, prefix)
        if prev.text == "," and _last_clause(tokens) == "FROM":
            return Suggestion(Kind.TABLE, prefix)
    return Suggestion(Kind.KEYWORD, prefix, tables=in_scope, window=window)


# ---- looking candidates up -------------------------------------------------------------
def _match(prefix: str, candidates: Iterable[str], inside: bool = True) -> list[str]:
    """Prefix matches first, then (with ``inside``) the candidates that contain the text
    elsewhere: typing ``mode`` finds ``scan.startup.mode``."""
    low = prefix.lower()
    cands = list(dict.fromkeys(candidates))
    if not low:
        return cands
    starts = [c for c in cands if c.lower().startswith(low)]
    if not inside:
        return starts
    inside_matches = [c for c in cands if low in c.lower() and c not in starts]
    return starts + inside_matches


def _case_like(word: str, prefix: str) -> str:
    """Keywords follow the case the user types in."""
    return word.lower() if prefix and prefix.islower() else word


def option_keys(spec: ConnectorSpec | None, meta: Metadata, s: Suggestion) -> list[tuple[str, str]]:
    """(key, description) pairs a WITH clause may still take."""
    out: list[tuple[str, str]] = []
    if "connector" not in s.present:
        out.append(("connector", "which connector"))
    if spec is None:
        return out
    specs: list[OptionSpec] = list(spec.options)
    for fkey, fmt in s.formats.items():
        prefix = fkey[: -len("format")]
        for o in meta.formats.get(fmt.lower(), ()):
            specs.append(OptionSpec(prefix + o.key, o.type, o.required, o.default, o.choices, o.description))
    for o in specs:
        keys = [o.key]
        if "#" in o.key:
            keys = [o.key.replace("#", c) for c in s.declared] or []
        for k in keys:
            if k in s.present:
                continue
            note = "required" if o.required else (f"default {o.default}" if o.default else o.type.value)
            out.append((k, note))
    return out


class SqlCompleter(Completer):
    """Completes with the candidates ``suggest()`` points at.

    ``metadata`` is called for the current snapshot on each completion, so the shell can
    swap in a fresh one after a statement without the completer holding the session.
    """

    def __init__(self, metadata: Callable[[], Metadata]) -> None:
        self.metadata = metadata
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        meta = self.metadata()
        s = suggest(document.text_before_cursor, document.text_after_cursor, meta)
        if s.kind == Kind.FILE:
            sub = Document(s.prefix, len(s.prefix))
            yield from self._paths.get_completions(sub, complete_event)
            return
        if (
            not complete_event.completion_requested
            and not s.prefix
            and s.kind in (Kind.STATEMENT, Kind.KEYWORD)
        ):
            return  # while typing, a space or a ';' opens no menu of everything; Tab does
        yield from self._complete(s, meta)

    def _complete(self, s: Suggestion, meta: Metadata) -> Iterator[Completion]:
        for text, display_meta in self._candidates(s, meta):
            if s.kind in (Kind.CONFIG_KEY, Kind.CONNECTOR, Kind.FORMAT, Kind.OPTION_KEY, Kind.OPTION_VALUE,
                          Kind.JOB_ID):  # fmt: skip
                insert = text + "'" if s.in_string else f"'{text}'"
            else:
                insert = text
            yield Completion(insert, start_position=-len(s.prefix), display=text, display_meta=display_meta)

    def _candidates(self, s: Suggestion, meta: Metadata) -> list[tuple[str, str]]:
        k = s.kind
        p = s.prefix
        if k == Kind.META:
            return [(c, "command") for c in _match(p, meta.commands)]
        if k == Kind.MODE:
            return [(m, "result mode") for m in _match(p, MODES)]
        if k == Kind.STATEMENT:
            return [(_case_like(w, p), "statement") for w in _match(p, STATEMENT_STARTS, inside=False)]
        if k == Kind.SHOW:
            return [(_case_like(w, p), "show") for w in _match(p, SHOW_KINDS)]
        if k == Kind.TABLE:
            views = set(meta.tables) - set(meta.table_connectors)
            names = sorted(meta.tables, key=str.lower)
            return [(t, "view" if t in views else "table") for t in _match(p, names)]
        if k == Kind.WINDOW_FUNCTION:
            return [(_case_like(w, p), "window") for w in _match(p, WINDOW_TVFS)]
        if k == Kind.COLUMN:
            cols = [c for t in s.tables for c in meta.columns(t)]
            return [(c, "column") for c in _match(p, cols)]
        if k == Kind.CONFIG_KEY:
            return [(c, "config") for c in _match(p, meta.config_keys)]
        if k == Kind.CONNECTOR:
            return [(c, "connector") for c in _match(p, meta.connectors)]
        if k == Kind.FORMAT:
            return [(f, "format") for f in _match(p, meta.formats)]
        if k == Kind.JOB_ID:
            return [(j, "job") for j in _match(p, meta.jobs)]
        if k == Kind.OPTION_KEY:
            spec = meta.connectors.get((s.connector or "").lower())
            pairs = dict(option_keys(spec, meta, s))
            return [(key, pairs[key]) for key in _match(p, pairs)]
        if k == Kind.OPTION_VALUE:
            return [(v, "choice") for v in _match(p, self._choices(s, meta))]
        if k == Kind.KEYWORD:
            cols = [c for t in s.tables for c in meta.columns(t)]
            if s.window:
                cols += list(WINDOW_COLUMNS)
            out = [(c, "column") for c in _match(p, cols)]
            if p:  # functions and keywords only once a letter is typed
                out += [(_case_like(f, p), "function") for f in _match(p, meta.functions, inside=False)]
                out += [(_case_like(w, p), "keyword") for w in _match(p, KEYWORDS, inside=False)]
            seen: set[str] = set()
            unique = []
            for text, note in out:
                if text.lower() not in seen:
                    seen.add(text.lower())
                    unique.append((text, note))
            return unique
        return []

    @staticmethod
    def _choices(s: Suggestion, meta: Metadata) -> list[str]:
        spec = meta.connectors.get((s.connector or "").lower())
        option = spec.option(s.option or "") if spec else None
        if option is None:
            for fmt_opts in meta.formats.values():
                option = next((o for o in fmt_opts if o.matches(s.option or "")), None) or option
        if option is None:
            return []
        if option.type == OptionType.BOOL:
            return ["true", "false"]
        return list(option.choices)
