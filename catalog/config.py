"""The configuration keys a user can SET: names, types, defaults and descriptions, once.

Every layer reads a key through its entry here (``CHECKPOINTING_INTERVAL.get(config)``),
so a default or a parse rule cannot differ between the planner, the runtime and the
front door. Names are Flink's where Flink has the key; ``sqlstream.*`` keys are ours.
A mapping of raw strings (what SET stores, what a plan carries) is the only input:

>>> CHECKPOINTING_INTERVAL.get({"execution.checkpointing.interval": "2 s"})
2000
>>> CHECKPOINTING_MODE.get({"execution.checkpointing.mode": "at-least-once"})
'AT_LEAST_ONCE'
>>> PARALLELISM.get({})
1
"""

from __future__ import annotations

import functools
import os.path
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from catalog.errors import OptionError
from catalog.options import parse_bool, parse_duration_ms, parse_int

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigKey(Generic[T]):
    """One key: ``get`` reads its typed value (the default's when unset)."""

    name: str
    default: str | None
    description: str
    type_name: str = "string"

    def parse(self, text: str) -> T:
        """The typed value of ``text``; raises ``OptionError`` naming the key when bad."""
        return text  # type: ignore[return-value]

    def check(self, text: str) -> None:
        self.parse(text)

    def get(self, config: Mapping[str, str]) -> T:
        text = config.get(self.name, self.default)
        if text is None:
            return self.unset()
        return self.parse(text)

    def unset(self) -> T:
        """The value of a key without a default that nobody set."""
        return None  # type: ignore[return-value]


@dataclass(frozen=True)
class StringKey(ConfigKey[str | None]):
    pass


_OFFSET_ZONE = re.compile(r"GMT[+-]\d{1,2}(:\d{2})?")


@dataclass(frozen=True)
class ZoneKey(ConfigKey[str]):
    """A time zone as Flink's ``table.local-time-zone`` takes one: a tz database ID, a fixed
    offset 'GMT+08:00', or 'UTC'; an abbreviation such as 'PST' is refused, as Flink's
    TableConfigValidation refuses it (it means different zones to different libraries)."""

    def parse(self, text: str) -> str:
        if text in ("UTC", "GMT") or _OFFSET_ZONE.fullmatch(text) or ("/" in text and text in _zones()):
            return text
        raise OptionError(
            f"'{self.name}' = '{text}' is not a time zone",
            hint="use a tz database ID such as 'America/Los_Angeles' (with daylight saving time), "
            "a fixed offset such as 'GMT-03:00', or 'UTC'",
        )


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class DurationKey(ConfigKey[int | None]):
    """A duration in Flink's syntax ('10 s', '500 ms'), read as milliseconds."""

    type_name: str = "duration"

    def parse(self, text: str) -> int | None:
        return parse_duration_ms(text, self.name)


@dataclass(frozen=True)
class IntKey(ConfigKey[int]):
    type_name: str = "int"
    minimum: int | None = None

    def parse(self, text: str) -> int:
        value = parse_int(text, self.name)
        if self.minimum is not None and value < self.minimum:
            raise OptionError(f"'{self.name}' = '{text}' must be at least {self.minimum}")
        return value


@dataclass(frozen=True)
class PortKey(ConfigKey[int | None]):
    """A TCP port, 0 for any free one; unset or empty: nothing is served."""

    type_name: str = "int"

    def parse(self, text: str) -> int | None:
        if not text.strip():
            return None
        value = parse_int(text, self.name)
        if not 0 <= value <= 65535:
            raise OptionError(f"'{self.name}' = '{text}' is not a port (0 to 65535)")
        return value


@dataclass(frozen=True)
class PortRangeKey(ConfigKey[tuple[int, ...] | None]):
    """Ports to try in order, as Flink's reporter ports take them: ``9249``, a range
    ``9250-9260`` (the first free one) or ``0`` (any free port); unset or empty: none."""

    type_name: str = "port range"

    def parse(self, text: str) -> tuple[int, ...] | None:
        spec = text.strip()
        if not spec:
            return None
        lo_text, _, hi_text = spec.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if hi_text else lo
        except ValueError:
            lo, hi = 1, 0
        if not 0 <= lo <= hi <= 65535:
            raise OptionError(
                f"'{self.name}' = '{text}' is not a port or a range of ports",
                hint="for example '9249', or '9250-9260' to take the first free one",
            )
        return tuple(range(lo, hi + 1))


@dataclass(frozen=True)
class BoolKey(ConfigKey[bool]):
    type_name: str = "boolean"

    def parse(self, text: str) -> bool:
        return parse_bool(text, self.name)

    def unset(self) -> bool:
        return False


@dataclass(frozen=True)
class ChoiceKey(ConfigKey[str]):
    """One of a few words; read back in the spelling of ``choices`` ('at-least-once' and
    'AT_LEAST_ONCE' are the same choice, as in Flink)."""

    type_name: str = "enum"
    choices: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # (another spelling, the choice it means)

    def parse(self, text: str) -> str:
        norm = _norm(text)
        for c in self.choices:
            if _norm(c) == norm:
                return c
        for alias, c in self.aliases:
            if _norm(alias) == norm:
                return c
        raise OptionError(f"'{self.name}' = '{text}' is not one of {', '.join(self.choices)}")


def _norm(word: str) -> str:
    return word.strip().upper().replace("-", "_")


RUNTIME_MODE = ChoiceKey(
    "execution.runtime-mode", "streaming", "streaming or batch", choices=("streaming", "batch")
)
CHECKPOINTING_INTERVAL = DurationKey(
    "execution.checkpointing.interval", None, "how often to checkpoint; unset: never"
)
CHECKPOINTING_MODE = ChoiceKey(
    "execution.checkpointing.mode",
    "EXACTLY_ONCE",
    "EXACTLY_ONCE or AT_LEAST_ONCE",
    choices=("EXACTLY_ONCE", "AT_LEAST_ONCE"),
)
CHECKPOINTING_MIN_PAUSE = DurationKey(
    "execution.checkpointing.min-pause", "0 ms", "least time between two checkpoints"
)
CHECKPOINTING_TIMEOUT = DurationKey(
    "execution.checkpointing.timeout", "10 min", "abort a checkpoint taking longer"
)
CHECKPOINTING_MAX_CONCURRENT = IntKey(
    "execution.checkpointing.max-concurrent-checkpoints", "1", "checkpoints in flight (at least 1)"
)
CHECKPOINTING_TOLERABLE_FAILED = IntKey(
    "execution.checkpointing.tolerable-failed-checkpoints",
    "0",
    "failed checkpoints before the job fails",
)
RESTART_STRATEGY = ChoiceKey(
    "restart-strategy.type",
    None,
    "none or fixed-delay (the default with checkpointing): a failed job restarts from its "
    "newest checkpoint",
    choices=("none", "fixed-delay"),
    aliases=(("off", "none"), ("disable", "none"), ("fixeddelay", "fixed-delay")),
)
RESTART_ATTEMPTS = IntKey(
    "restart-strategy.fixed-delay.attempts", "3", "restarts before the job fails for good"
)
RESTART_DELAY = DurationKey("restart-strategy.fixed-delay.delay", "1 s", "pause before a restart")
SAVEPOINT_PATH = StringKey(
    "execution.savepoint.path", None, "resume the next job from this savepoint or checkpoint"
)
IGNORE_UNCLAIMED_STATE = BoolKey(
    "execution.savepoint.ignore-unclaimed-state",
    "false",
    "restore from a checkpoint of another query, skipping the state no operator claims",
)
CHECKPOINT_RESUME = ChoiceKey(
    "sqlstream.checkpoint.resume",
    "none",
    "latest: resume a job from the newest complete checkpoint of its pipeline.name "
    "(what 'sqlstream run' does unless --fresh); none: start fresh",
    choices=("latest", "none"),
)
CHECKPOINTS_DIR = StringKey("state.checkpoints.dir", "checkpoints", "where checkpoints are written")
# The object store of an 's3://' checkpoint folder: Flink's keys (flink-s3-fs-hadoop/presto).
S3_ENDPOINT = StringKey(
    "s3.endpoint",
    None,
    "the S3-compatible server of an s3:// 'state.checkpoints.dir' (http://host:port); unset: AWS",
)
S3_ACCESS_KEY = StringKey(
    "s3.access-key", None, "access key of the object store; unset: the AWS default credentials"
)
S3_SECRET_KEY = StringKey("s3.secret-key", None, "secret key of the object store")
S3_PATH_STYLE_ACCESS = BoolKey(
    "s3.path.style.access",
    None,
    "address buckets as host/bucket (true) or bucket.host (false); unset: path style for an "
    "s3.endpoint, virtual-hosted for AWS",
)
CHECKPOINTS_RETAINED = IntKey(
    "state.checkpoints.num-retained", "1", "complete checkpoints to keep (at least 1)"
)
PARALLELISM = IntKey("parallelism.default", "1", "parallelism of operators")
IDLE_TIMEOUT = DurationKey(
    "table.exec.source.idle-timeout",
    "0 ms",
    "after this, an idle input stops holding back the watermark (0: never)",
)
STATE_TTL = DurationKey(
    "table.exec.state.ttl",
    "0 ms",
    "idle state retention of regular joins (each side's stored rows), unwindowed GROUP BY "
    "(each key's accumulators) and deduplication (each key's row): state not written for this "
    "long (processing time) is dropped, "
    "and a row arriving after that is treated as new; 0: kept forever. The STATE_TTL hint "
    "overrides it per input",
)
SINK_NOT_NULL_ENFORCER = ChoiceKey(
    "table.exec.sink.not-null-enforcer",
    "ERROR",
    "a NULL written into a NOT NULL column of a sink table: ERROR fails the job, DROP drops the row",
    choices=("ERROR", "DROP"),
)
UPSERT_MATERIALIZE = ChoiceKey(
    "table.exec.sink.upsert-materialize",
    "AUTO",
    "a SinkUpsertMaterializer in front of a sink that writes by its PRIMARY KEY: AUTO when "
    "the updating rows reaching it are keyed otherwise (no upsert key within the PRIMARY "
    "KEY), FORCE always, NONE never",
    choices=("NONE", "AUTO", "FORCE"),
)
REQUIRE_ON_CONFLICT = BoolKey(
    "table.exec.sink.require-on-conflict",
    "true",
    "refuse a query whose upsert key differs from the sink's PRIMARY KEY (AUTO would add a "
    "SinkUpsertMaterializer), as Flink 2.3 does without an ON CONFLICT clause; false: add it",
)
RESULT_MODE = ChoiceKey(
    "sql-client.execution.result-mode",
    "table",
    "table, changelog or tableau",
    choices=("table", "changelog", "tableau"),
)
MAX_TABLE_RESULT_ROWS = IntKey(
    "sql-client.execution.max-table-result.rows", "1000000", "rows kept in table mode", minimum=1
)
MAX_COLUMN_WIDTH = IntKey(
    "sql-client.display.max-column-width", "30", "truncate wider values", minimum=1
)
PIPELINE_NAME = StringKey("pipeline.name", None, "the job's name (also names its checkpoints)")
WATERMARK_INTERVAL = DurationKey(
    "pipeline.auto-watermark-interval", "200 ms", "how often watermarks are emitted"
)
LOCAL_TIME_ZONE = ZoneKey(
    "table.local-time-zone", "UTC", "time zone of TIMESTAMP_LTZ values and PROCTIME()"
)
DML_SYNC = BoolKey("table.dml-sync", "false", "INSERT waits for the job to finish")
REST_PORT = PortKey(
    "rest.port",
    None,
    "serve the dashboard and Flink's REST API on this port (0: any free port); unset: no dashboard",
)
REST_BIND_ADDRESS = StringKey("rest.bind-address", "127.0.0.1", "the address the dashboard listens on")
PROMETHEUS_PORT = PortRangeKey(
    "metrics.reporter.prom.port",
    None,
    "serve the jobs' metrics to Prometheus at http://host:PORT/metrics (a range "
    "'9250-9260' takes the first free port, 0 any free port); unset: no endpoint",
)
PROMETHEUS_HOST = StringKey(
    "metrics.reporter.prom.host", "0.0.0.0", "the address the Prometheus endpoint listens on"
)
AGG_PHASE_STRATEGY = ChoiceKey(
    "table.optimizer.agg-phase-strategy",
    "AUTO",
    "AUTO (two-phase where it applies), ONE_PHASE or TWO_PHASE: whether a window aggregation "
    "over an exchange is split into a local phase before it and a global one after it",
    choices=("AUTO", "ONE_PHASE", "TWO_PHASE"),
)
LATE_ROWS_SINK = StringKey(
    "table.exec.late-rows.sink",
    None,
    "a table that keeps the rows window operators drop as late (columns operator, "
    "event_time, watermark_time, row_json); unset: they are dropped and counted",
)
UDF_ERRORS_SINK = StringKey(
    "table.exec.udf-errors.sink",
    None,
    "a table that keeps the rows a Python function raised on, or a division by zero failed "
    "on (columns operator, function, input, error), instead of failing the job; unset: "
    "the job fails",
)
UDF_ERRORS_IGNORE = BoolKey(
    "table.exec.udf-errors.ignore",
    "false",
    "drop and count (metric udf_errors) the rows a Python function raised on, instead of "
    "failing the job; table.exec.udf-errors.sink keeps them instead",
)
PYTHON_FILES = StringKey(
    "python.files",
    None,
    "comma-separated Python files or folders whose folders hold the modules of CREATE FUNCTION",
)
PYTHON_PATH = StringKey(
    "python.pythonpath", None, "folders added to the Python path for CREATE FUNCTION's modules"
)
EXECUTION_TARGET = ChoiceKey(
    "execution.target",
    "local",
    "where a job's subtasks run: local (asyncio tasks in this process) or ray (one Ray actor "
    "per subtask, on the cluster that 'ray.address' names)",
    choices=("local", "ray"),
)
RAY_ADDRESS = StringKey(
    "ray.address",
    None,
    "the Ray cluster of execution.target = ray (host:port of its head, or 'auto'); unset: a "
    "Ray instance started on this machine",
)
# The runtime's own knobs.
BATCH_SIZE = IntKey(
    "sqlstream.runtime.batch-size",
    "65536",
    "rows a source gathers into one batch (at the default value, set or not: times the subtasks a "
    "hash exchange behind the source splits each batch among, at most 4, so that each gets a full "
    "batch, and 4 times for a bounded source such as a file that feeds a GROUP BY or Top-N; any "
    "other value is taken exactly)",
    minimum=1,
)
LINGER = DurationKey(
    "sqlstream.runtime.linger", "20 ms", "longest a source holds a batch that is not full"
)
CHANNEL_CAPACITY = IntKey(
    "sqlstream.runtime.channel-capacity", "8", "batches in flight on one channel", minimum=1
)
THREADS = IntKey("sqlstream.runtime.threads", "2", "threads of a job's DuckDB work", minimum=1)
BATCH_ONE_QUERY = BoolKey(
    "sqlstream.batch.one-query",
    "true",
    "in batch mode, run a query over bounded filesystem, datagen and VALUES sources as one DuckDB "
    "query over all their rows where every operator has one (the fast path for backfills)",
)
COMPACT_MIN_ROWS = IntKey(
    "sqlstream.runtime.compact-min-rows",
    "100000",
    "window state rows before a window aggregate compacts its partial aggregates",
    minimum=1,
)

KEYS: dict[str, ConfigKey[object]] = {
    k.name: k  # type: ignore[misc]
    for k in (
        RUNTIME_MODE,
        CHECKPOINTING_INTERVAL,
        CHECKPOINTING_MODE,
        CHECKPOINTING_MIN_PAUSE,
        CHECKPOINTING_TIMEOUT,
        CHECKPOINTING_MAX_CONCURRENT,
        CHECKPOINTING_TOLERABLE_FAILED,
        RESTART_STRATEGY,
        RESTART_ATTEMPTS,
        RESTART_DELAY,
        SAVEPOINT_PATH,
        IGNORE_UNCLAIMED_STATE,
        CHECKPOINT_RESUME,
        CHECKPOINTS_DIR,
        S3_ENDPOINT,
        S3_ACCESS_KEY,
        S3_SECRET_KEY,
        S3_PATH_STYLE_ACCESS,
        CHECKPOINTS_RETAINED,
        PARALLELISM,
        IDLE_TIMEOUT,
        STATE_TTL,
        UPSERT_MATERIALIZE,
        REQUIRE_ON_CONFLICT,
        RESULT_MODE,
        MAX_TABLE_RESULT_ROWS,
        MAX_COLUMN_WIDTH,
        PIPELINE_NAME,
        WATERMARK_INTERVAL,
        LOCAL_TIME_ZONE,
        DML_SYNC,
        REST_PORT,
        REST_BIND_ADDRESS,
        PROMETHEUS_PORT,
        PROMETHEUS_HOST,
        AGG_PHASE_STRATEGY,
        LATE_ROWS_SINK,
        UDF_ERRORS_SINK,
        UDF_ERRORS_IGNORE,
        PYTHON_FILES,
        PYTHON_PATH,
        BATCH_SIZE,
        LINGER,
        CHANNEL_CAPACITY,
        THREADS,
        COMPACT_MIN_ROWS,
        BATCH_ONE_QUERY,
        EXECUTION_TARGET,
        RAY_ADDRESS,
    )
}


def python_search_path(config: Mapping[str, str]) -> list[str]:
    """The folders ``python.files`` and ``python.pythonpath`` name, in order: a file stands
    for its folder (PyFlink ships it next to the worker's modules)."""
    files = [f.strip() for f in (PYTHON_FILES.get(config) or "").split(",") if f.strip()]
    folders = [(os.path.dirname(f) or ".") if f.endswith(".py") else f for f in files]
    path = (PYTHON_PATH.get(config) or "").replace(os.pathsep, ",")
    return folders + [p.strip() for p in path.split(",") if p.strip()]


def checkpointing_enabled(config: Mapping[str, str]) -> bool:
    """Checkpoints are taken when an interval above zero is set."""
    return bool(CHECKPOINTING_INTERVAL.get(config))
