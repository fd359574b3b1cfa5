"""Flink's ``jdbc`` connector (PostgreSQL URLs only) and our ``postgres`` one (a libpq DSN):
their options, the column types they carry, and the rules checked before a job starts.

>>> parse_jdbc_url("jdbc:postgresql://db.local:5433/shop?sslmode=require", "t")
{'host': 'db.local', 'port': '5433', 'dbname': 'shop', 'sslmode': 'require'}
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from catalog.connectors.common import ALL_GUARANTEES, DELIVERY, PARALLELISM
from catalog.connectors.spec import (
    EXACTLY_ONCE_MODE,
    ChangelogMode,
    ConnectorConfig,
    ConnectorSpec,
    OptionSpec,
    OptionType,
    TableInfo,
)
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError
from catalog.options import parse_duration_ms, parse_int
from catalog.types import DataType

_I, _D, _E = OptionType.INT, OptionType.DURATION, OptionType.ENUM

MAX_GID = 200  # PostgreSQL's limit on a prepared transaction's name (GIDSIZE), in bytes
MAX_PREFIX = MAX_GID - 24  # room for "-<subtask>-<checkpoint>"
PROGRESS_TABLE = "sqlstream_sink_progress"  # epoch mode's committed epochs, by default

# Flink type name -> the PostgreSQL type (pg_catalog typname) a parameter is sent as.
PARAM_TYPES: dict[str, str] = {
    "BOOLEAN": "bool",
    "TINYINT": "int2",
    "SMALLINT": "int2",
    "INT": "int4",
    "BIGINT": "int8",
    "FLOAT": "float4",
    "DOUBLE": "float8",
    "DECIMAL": "numeric",
    "STRING": "text",
    "VARCHAR": "text",
    "CHAR": "text",
    "BYTES": "bytea",
    "BINARY": "bytea",
    "VARBINARY": "bytea",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_LTZ": "timestamptz",
}

# JDBC URL parameters of PgJDBC that have a libpq equivalent.
_JDBC_PARAMS = {
    "user": "user",
    "password": "password",
    "sslmode": "sslmode",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "sslrootcert": "sslrootcert",
    "connecttimeout": "connect_timeout",
    "applicationname": "application_name",
    "options": "options",
    "targetservertype": "target_session_attrs",
}


class UnsupportedType(ValueError):
    """A Flink type the PostgreSQL connector cannot carry (MAP, ROW, MULTISET, ...)."""


def param_type(t: DataType) -> str:
    """The PostgreSQL type a value of ``t`` is sent as (a fixed vocabulary, safe to write
    into SQL text). Arrays of scalars are ``<elem>[]``.

    >>> from catalog.types import parse_type
    >>> param_type(parse_type("ARRAY<BIGINT>"))
    'int8[]'
    """
    if t.name == "ARRAY":
        elem = t.children[0]
        if elem.name not in PARAM_TYPES or elem.name in ("BYTES", "BINARY", "VARBINARY"):
            raise UnsupportedType(f"{t.sql()} (arrays of {elem.sql()} are not supported)")
        return PARAM_TYPES[elem.name] + "[]"
    if t.name not in PARAM_TYPES:
        raise UnsupportedType(t.sql())
    return PARAM_TYPES[t.name]


def sink_type_error(t: DataType) -> str | None:
    """Why the PostgreSQL sink cannot write a column of type ``t`` (None: it can)."""
    try:
        param_type(t)
    except UnsupportedType as e:
        return (
            f"type {e}, which the PostgreSQL sink cannot write (cast it to a supported type: numbers, "
            "strings, bytes, dates, times, timestamps, arrays of those; e.g. JSON text for maps and rows)"
        )
    return None


def parse_jdbc_url(url: str, where: str) -> dict[str, str]:
    """libpq keywords from Flink's ``url``."""
    prefix = "jdbc:postgresql:"
    if not url.lower().startswith(prefix):
        scheme = url.split("//", 1)[0] if "//" in url else url
        raise OptionError(
            f"{where}: 'url' = '{scheme}//...' is not a PostgreSQL JDBC URL; only PostgreSQL is supported",
            hint="write 'jdbc:postgresql://host:port/database'",
        )
    rest = url[len(prefix) :]
    parsed = urllib.parse.urlsplit(rest if rest.startswith("//") else "//localhost/" + rest)
    params: dict[str, str] = {}
    if parsed.hostname:
        params["host"] = parsed.hostname
    if parsed.port:
        params["port"] = str(parsed.port)
    db = urllib.parse.unquote(parsed.path.lstrip("/"))
    if db:
        params["dbname"] = db
    for key, value in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
        mapped = _JDBC_PARAMS.get(key.lower())
        if mapped is None:
            if key.lower() == "currentschema":
                params["options"] = f"-c search_path={value}"
                continue
            raise OptionError(
                f"{where}: the JDBC URL parameter '{key}' is not supported",
                hint=f"supported: {', '.join(sorted(_JDBC_PARAMS))}, currentSchema",
            )
        params[mapped] = value
    return params


def split_table_name(text: str, where: str, key: str = "table-name") -> tuple[str | None, str]:
    """(schema, table) of ``table-name``; a double-quoted part keeps its dots and case.

    >>> split_table_name('public."Order.s"', "t")
    ('public', 'Order.s')
    """
    parts = [
        m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2)
        for m in re.finditer(r'"((?:[^"]|"")*)"|([^."]+)', text.strip())
    ]
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise OptionError(
        f"{where}: '{key}' = '{text}' is not a table name",
        hint="write 'table' or 'schema.table' (double-quote a part that contains a dot)",
    )


@dataclass(frozen=True)
class Partitioning:
    """``scan.partition.*``: the key range cut into ``num`` strides."""

    column: str
    num: int
    lower: int
    upper: int


@dataclass(frozen=True)
class LookupCacheOptions:
    """``lookup.cache`` = PARTIAL and its bounds (seconds)."""

    max_rows: int | None
    expire_after_write_s: float | None
    expire_after_access_s: float | None


@dataclass(frozen=True)
class JdbcConfig(ConnectorConfig):
    """A PostgreSQL table's options, parsed and checked (the connection itself, a libpq
    DSN or the keywords of a JDBC URL, is opened by the runtime)."""

    connector: str  # "jdbc" | "postgres"
    url_params: Mapping[str, str] | None  # jdbc: libpq keywords from the URL
    dsn: str | None  # postgres
    username: str | None
    password: str | None
    table_schema: str | None
    table_name: str
    flush_max_rows: int
    flush_interval_ms: int
    max_retries: int
    transactional_id_prefix: str | None
    partitioning: Partitioning | None
    fetch_size: int
    lookup_cache: LookupCacheOptions | None
    lookup_max_retries: int
    # ``sink.exactly-once.mode``: "two-phase", "epoch", or "" (two-phase where the server can).
    exactly_once_mode: str
    # Epoch mode's table of committed epochs; without a schema, the sink table's.
    progress_schema: str | None
    progress_table: str

    def check_source(self, table: TableInfo) -> None:
        for name, t in table.columns:
            try:
                param_type(t)
            except UnsupportedType as e:
                raise OptionError(
                    f"{table.where}: column '{name}' has type {e}, which the PostgreSQL source cannot read"
                ) from None

    def check_lookup(self, table: TableInfo, keys: Sequence[str]) -> None:
        types = dict(table.columns)
        for k in keys:
            if k not in types:
                raise OptionError(f"{table.where}: the lookup key '{k}' is not a column of the table")
            if types[k].name in ("ARRAY", "MAP", "ROW", "MULTISET"):
                raise OptionError(f"{table.where}: the lookup key '{k}' must be a scalar column")
        if not keys:
            raise OptionError(f"{table.where}: a lookup needs at least one key column")


def _int(options: Mapping[str, str], key: str, default: int | None = None) -> int | None:
    text = options.get(key)
    return default if text is None else parse_int(text, key)


def _duration(options: Mapping[str, str], key: str, default: int | None = None) -> int | None:
    text = options.get(key)
    return default if text is None else parse_duration_ms(text, key)


def _partitioning(table: TableInfo) -> Partitioning | None:
    options, where = table.options, table.where
    column = options.get("scan.partition.column")
    num = _int(options, "scan.partition.num")
    lower = _int(options, "scan.partition.lower-bound")
    upper = _int(options, "scan.partition.upper-bound")
    given = [column is not None, num is not None, lower is not None, upper is not None]
    if not any(given):
        return None
    if not all(given):
        raise OptionError(
            f"{where}: the scan.partition.* options go together",
            hint="set all of 'scan.partition.column', 'scan.partition.num', "
            "'scan.partition.lower-bound' and 'scan.partition.upper-bound', or none",
        )
    assert column is not None and num is not None and lower is not None and upper is not None
    if num < 1 or lower > upper:
        raise OptionError(f"{where}: scan.partition.num must be >= 1 and lower-bound <= upper-bound")
    if table.columns and column not in table.column_names:
        raise OptionError(f"{where}: 'scan.partition.column' = '{column}' is not a column")
    return Partitioning(column, num, lower, upper)


def _lookup_cache(table: TableInfo) -> LookupCacheOptions | None:
    options = table.options
    if (options.get("lookup.cache") or "none").lower() != "partial":
        return None
    max_rows = _int(options, "lookup.partial-cache.max-rows")
    ewrite = _duration(options, "lookup.partial-cache.expire-after-write")
    eaccess = _duration(options, "lookup.partial-cache.expire-after-access")
    if max_rows is None and ewrite is None and eaccess is None:
        raise OptionError(
            f"{table.where}: 'lookup.cache' = 'PARTIAL' needs a bound",
            hint="set 'lookup.partial-cache.max-rows' and/or an expire-after-write/access time",
        )
    return LookupCacheOptions(
        max_rows, None if ewrite is None else ewrite / 1000, None if eaccess is None else eaccess / 1000
    )


def configure_jdbc(table: TableInfo) -> JdbcConfig:
    options, where = table.options, table.where
    connector = (options.get("connector") or "postgres").lower()
    url_params: dict[str, str] | None = None
    dsn: str | None = None
    if connector == "jdbc":
        url = options.get("url")
        if url is None:
            raise OptionError(f"{where}: the required option 'url' is missing")
        url_params = parse_jdbc_url(url, where)
        driver = options.get("driver")
        if driver and driver != "org.postgresql.Driver":
            raise OptionError(
                f"{where}: 'driver' = '{driver}' is not supported; only PostgreSQL is",
                hint="drop the option or write 'org.postgresql.Driver'",
            )
    else:
        dsn = options.get("dsn")
        if dsn is None:
            raise OptionError(f"{where}: the required option 'dsn' is missing")
    name = options.get("table-name")
    if name is None:
        raise OptionError(f"{where}: the required option 'table-name' is missing")
    schema, table_name = split_table_name(name, where)
    prefix = options.get("sink.transactional-id-prefix")
    if prefix is not None and len(prefix.encode()) > MAX_PREFIX:
        raise OptionError(
            f"{where}: 'sink.transactional-id-prefix' is longer than {MAX_PREFIX} bytes",
            hint=f"PostgreSQL's transaction ids have at most {MAX_GID} bytes; use a shorter prefix",
        )
    progress_key = "sink.exactly-once.progress-table"
    progress = options.get(progress_key) or PROGRESS_TABLE
    progress_schema, progress_table = split_table_name(progress, where, progress_key)
    return JdbcConfig(
        connector=connector,
        url_params=url_params,
        dsn=dsn,
        username=options.get("username"),
        password=options.get("password"),
        table_schema=schema,
        table_name=table_name,
        flush_max_rows=_int(options, "sink.buffer-flush.max-rows", 100) or 0,
        flush_interval_ms=_duration(options, "sink.buffer-flush.interval", 1000) or 0,
        max_retries=max(0, _int(options, "sink.max-retries", 3) or 0),
        transactional_id_prefix=prefix,
        partitioning=_partitioning(table),
        fetch_size=_int(options, "scan.fetch-size", 0) or 0,
        lookup_cache=_lookup_cache(table),
        lookup_max_retries=max(0, _int(options, "lookup.max-retries", 3) or 0),
        exactly_once_mode=(options.get(EXACTLY_ONCE_MODE) or "").lower(),
        progress_schema=progress_schema if progress_schema is not None else schema,
        progress_table=progress_table,
    )


def _bounded(options: Mapping[str, str]) -> bool:
    return True  # a scan reads the table as it is when the job starts


_COMMON = (
    _o("table-name", required=True),
    _o("username"),
    _o("password"),
    _o("sink.buffer-flush.max-rows", _I, default="100"),
    _o("sink.buffer-flush.interval", _D, default="1 s"),
    _o("sink.max-retries", _I, default="3"),
    _o("sink.transactional-id-prefix"),
    DELIVERY,
    PARALLELISM,
    _o("scan.partition.column"),
    _o("scan.partition.num", _I),
    _o("scan.partition.lower-bound", _I),
    _o("scan.partition.upper-bound", _I),
    _o("scan.fetch-size", _I, default="0"),
    _o("lookup.cache", _E, default="NONE", choices=("none", "partial")),
    _o("lookup.partial-cache.max-rows", _I),
    _o("lookup.partial-cache.expire-after-write", _D),
    _o("lookup.partial-cache.expire-after-access", _D),
    _o("lookup.max-retries", _I, default="3"),
    _o(EXACTLY_ONCE_MODE, _E, choices=("two-phase", "epoch"),
       description="two-phase: PREPARE TRANSACTION; epoch: commit at the barrier and discard the "
       "replay of committed epochs (default: two-phase where the server allows it)"),
    _o("sink.exactly-once.progress-table", default=PROGRESS_TABLE,
       description="epoch mode: the table (in the sink table's schema) of committed epochs"),
)  # fmt: skip
# Updates are written by key (-U skipped, -D deleted by key): a table without a PRIMARY KEY
# can only be appended to, as Flink's JDBC sink says.
_UPDATES = (ChangelogMode.INSERT_ONLY, ChangelogMode.UPSERT)


def _table_scan_replay(options: Mapping[str, str], columns: Sequence[tuple[str, str]]) -> str | None:
    return "a JDBC scan reads the table as it is when the job (re)starts, not from a recorded position"


def _spec(name: str, where: tuple[OptionSpec, ...]) -> ConnectorSpec:
    """``jdbc`` and ``postgres`` differ only in how they say where the database is."""
    return ConnectorSpec(
        name,
        (*where, *_COMMON),
        source=True,
        sink=True,
        bounded=_bounded,
        sink_changelog=_UPDATES,
        guarantees=ALL_GUARANTEES,
        guarantee_option="sink.delivery-guarantee",
        lookup=True,
        sink_type_error=sink_type_error,
        configure=configure_jdbc,
        exactly_once_modes=("two-phase", "epoch"),
        replay_nondeterminism=_table_scan_replay,
    )


JDBC = _spec("jdbc", (_o("url", required=True), _o("driver")))
POSTGRES = _spec("postgres", (_o("dsn", required=True),))
