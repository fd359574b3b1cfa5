"""What ``sqlstream verify`` changes in a script's tables, per connector.

- A source becomes a bounded slice, the same for every run: datagen gets
  ``number-of-rows`` and a seed; a Kafka source is pinned to the partition offsets it
  would start from now and to where the partitions end now (or ``--rows`` further), read
  under a group of its own (the user's group keeps its offsets); a monitored directory is
  read once.
- A sink is redirected to a shadow of the same kind per run (``clean``, ``chaos``),
  created before and dropped after: a Kafka topic with as many partitions, a PostgreSQL
  table ``LIKE`` the real one, a fresh directory. Reading one back gives its committed
  content (Kafka with read_committed) as a multiset of rows.
"""

from __future__ import annotations

import asyncio
import math
import shutil
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from catalog.connectors import configure_table, table_info
from catalog.connectors.jdbc import JdbcConfig
from catalog.connectors.kafka import KafkaConfig
from catalog.errors import SqlStreamError
from catalog.options import OptionBag
from catalog.table import TableDef

DEFAULT_ROWS = 10_000


class VerifyError(SqlStreamError):
    """A script that ``sqlstream verify`` cannot check, and why."""


# ---- sources --------------------------------------------------------------------------------


def bounded_source(table: TableDef, rows: int | None, run_id: str) -> dict[str, str]:
    """Options that make ``table`` (a source) a fixed, bounded slice."""
    o = table.options
    connector = table.connector.lower()
    if connector == "datagen":
        out = {"sqlstream.seed": o.get("sqlstream.seed", "1")}
        sequence_end = any(k.endswith(".end") for k in o)
        if rows is not None or ("number-of-rows" not in o and not sequence_end):
            out["number-of-rows"] = str(rows or DEFAULT_ROWS)
        return out
    if connector in ("kafka", "upsert-kafka"):
        return asyncio.run(_kafka_slice(table, rows, run_id))
    if connector == "filesystem":
        return {}  # a monitored directory: see reset_keys
    if connector in ("jdbc", "postgres"):
        return {}  # a snapshot of the table: bounded
    raise VerifyError(
        f"table '{table.name}': verify cannot take a bounded slice of a '{connector}' source",
        hint="verify reads datagen, kafka, filesystem and jdbc sources",
    )


def reset_keys(table: TableDef) -> list[str]:
    """Options to drop from a source for the slice (a directory is read once)."""
    return ["source.monitor-interval"] if "source.monitor-interval" in table.options else []


# How long a read of committed records waits for the transactions a finished job
# committed to become visible (see settled_end_offsets).
SETTLE_S = 60.0


async def settled_end_offsets(
    consumer: Any, props: Mapping[str, Any], tps: list[Any], wait_s: float = SETTLE_S
) -> tuple[dict[Any, int], dict[Any, tuple[int, int]]]:
    """The last stable offsets of ``tps`` (``consumer`` reads read_committed), once no
    transaction is open in them, and the partitions where one still was after ``wait_s``
    (partition -> (last stable offset, high watermark)).

    A transaction's commit returns once the coordinator has logged the decision; the
    markers that make its records visible are written after that, and after a broker
    restart that can take seconds. A read right after the job ended would stop at the
    first such transaction and call everything after it lost."""
    from aiokafka import AIOKafkaConsumer

    raw = AIOKafkaConsumer(**{**props, "isolation_level": "read_uncommitted"}, enable_auto_commit=False)
    await raw.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            stable = await consumer.end_offsets(tps)
            high = await raw.end_offsets(tps)
            open_ = {tp: (stable[tp], high[tp]) for tp in tps if stable[tp] < high[tp]}
            if not open_ or loop.time() >= deadline:
                return stable, open_
            await asyncio.sleep(0.2)
    finally:
        await raw.stop()


def _kafka_props(options: Mapping[str, str]) -> dict[str, Any]:
    return {"bootstrap_servers": options.get("properties.bootstrap.servers", "")}


async def _kafka_slice(table: TableDef, rows: int | None, run_id: str) -> dict[str, str]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    o = table.options
    _, config = configure_table(table_info(table))
    assert isinstance(config, KafkaConfig)
    if len(config.topics) != 1:
        raise VerifyError(
            f"table '{table.name}': verify pins the offsets of one topic; this source reads "
            f"{'a pattern' if config.topic_pattern else 'several topics'}",
            hint="verify a script whose Kafka sources name one topic each",
        )
    topic, group = config.topics[0], config.group_id
    consumer = AIOKafkaConsumer(**_kafka_props(o), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = sorted(consumer._client.cluster.partitions_for_topic(topic) or [])
        if not parts:
            raise VerifyError(f"table '{table.name}': topic '{topic}' does not exist")
        tps = [TopicPartition(topic, p) for p in parts]
        begin, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        mode = config.startup_mode
        per_partition = math.ceil((rows or DEFAULT_ROWS) / len(tps))
        start: dict[int, int] = {}
        for tp in tps:
            if mode == "latest-offset":
                start[tp.partition] = max(begin[tp], end[tp] - per_partition)
            elif mode == "group-offsets":
                committed = await consumer.committed(tp) if group else None
                start[tp.partition] = committed if committed is not None and committed >= 0 else begin[tp]
            else:
                start[tp.partition] = begin[tp]
        stop = {tp.partition: end[tp] for tp in tps}
        if rows is not None:
            stop = {p: min(stop[p], start[p] + per_partition) for p in stop}
    finally:
        await consumer.stop()
    out = {
        "scan.bounded.mode": "specific-offsets",
        "scan.bounded.specific-offsets": ";".join(f"partition:{p},offset:{stop[p]}" for p in parts),
        "properties.group.id": f"{group or table.name}-verify-{run_id}",
    }
    if mode not in ("earliest-offset", "specific-offsets", "timestamp"):
        out["scan.startup.mode"] = "specific-offsets"
        out["scan.startup.specific-offsets"] = ";".join(f"partition:{p},offset:{start[p]}" for p in parts)
    return out


# ---- sinks ----------------------------------------------------------------------------------


class Shadow(ABC):
    """A sink table's stand-in for one run."""

    def __init__(self, table: TableDef, run_id: str, run: str, workdir: Path) -> None:
        self.table = table
        self.run_id = run_id
        self.run = run
        self.workdir = workdir
        self.notes: list[str] = []  # what the report should say about a read

    @abstractmethod
    def options(self) -> dict[str, str]:
        """Options that point the sink table at the shadow."""

    @abstractmethod
    def create(self) -> None: ...

    @abstractmethod
    def read(self) -> list[Hashable]:
        """The committed content, one hashable per row."""

    @abstractmethod
    def drop(self) -> None: ...

    @property
    def name(self) -> str:
        return f"verify_{self.run_id}_{self.run}"


class KafkaShadow(Shadow):
    @property
    def topic(self) -> str:
        return f"{self.table.options.get('topic', self.table.name)}.{self.name}"

    def options(self) -> dict[str, str]:
        prefix = self.table.options.get("sink.transactional-id-prefix") or self.table.name
        return {"topic": self.topic, "sink.transactional-id-prefix": f"{prefix}-{self.name}"}

    def create(self) -> None:
        asyncio.run(self._create())

    async def _create(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(**_kafka_props(self.table.options))
        await admin.start()
        try:
            real = self.table.options.get("topic", "")
            meta = await admin.describe_topics([real]) if real else []
            partitions = len(meta[0].get("partitions", [])) if meta and not meta[0].get("error_code") else 1
            await admin.create_topics([NewTopic(self.topic, max(partitions, 1), 1)])
        finally:
            await admin.close()

    def read(self) -> list[Hashable]:
        return asyncio.run(self._read(None))

    async def _read(self, start: dict[int, int] | None) -> list[Hashable]:
        """Committed records from ``start`` (partition -> offset; None: the beginning) on."""
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        consumer = AIOKafkaConsumer(**_kafka_props(self.table.options), isolation_level="read_committed",
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            parts = consumer._client.cluster.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            for tp in tps:
                if start is not None and tp.partition in start:
                    consumer.seek(tp, start[tp.partition])
            end, still_open = await settled_end_offsets(consumer, _kafka_props(self.table.options), tps)
            for tp, (stable, high) in still_open.items():
                self.notes.append(
                    f"topic '{self.topic}' partition {tp.partition}: a transaction was still open "
                    f"{SETTLE_S:.0f} s after the run (records {stable}..{high} not readable yet)"
                )
            if start is None:
                self.ends = {tp.partition: end[tp] for tp in tps}
            out: list[Hashable] = []
            while True:
                behind = [tp for tp in tps if await consumer.position(tp) < end[tp]]
                if not behind:
                    return out
                got = await consumer.getmany(timeout_ms=500, max_records=10_000)
                out += [(r.key, r.value) for records in got.values() for r in records]
        finally:
            await consumer.stop()

    def drop(self) -> None:
        asyncio.run(self._drop())

    async def _drop(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(**_kafka_props(self.table.options))
        await admin.start()
        try:
            await admin.delete_topics([self.topic])
        finally:
            await admin.close()


class PostgresShadow(Shadow):
    def _target(self) -> tuple[Any, Any, Any]:
        from runtime.connectors.postgres.conn import TableName, conn_config

        _, config = configure_table(table_info(self.table))
        assert isinstance(config, JdbcConfig)
        bag = OptionBag(dict(self.table.options), f"table '{self.table.name}'")
        cfg = conn_config(bag, config.connector)
        real = TableName(config.table_name, config.table_schema)
        shadow = TableName(f"{real.table}_{self.name}", real.schema)
        return cfg, real, shadow

    def options(self) -> dict[str, str]:
        """The shadow table, and prepared-transaction gids of its own (a prefix the user set
        would give both runs, and the real job, the same gids)."""
        _, _, shadow = self._target()
        prefix = self.table.options.get("sink.transactional-id-prefix") or f"sqlstream-{self.table.name}"
        return {"table-name": str(shadow), "sink.transactional-id-prefix": f"{prefix}-{self.name}"}

    def _execute(self, statement: Any) -> list[tuple[Any, ...]]:
        import psycopg

        cfg, _, _ = self._target()
        with psycopg.connect(**cfg.params, autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def create(self) -> None:
        from psycopg import sql

        _, real, shadow = self._target()
        self._execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(shadow.ident(), real.ident()))

    def read(self) -> list[Hashable]:
        from psycopg import sql

        _, _, shadow = self._target()
        return [tuple(r) for r in self._execute(sql.SQL("SELECT * FROM {}").format(shadow.ident()))]

    def drop(self) -> None:
        from psycopg import sql

        _, _, shadow = self._target()
        self._execute(sql.SQL("DROP TABLE IF EXISTS {}").format(shadow.ident()))


class FileShadow(Shadow):
    @property
    def path(self) -> Path:
        return self.workdir / self.run / "files" / self.table.name

    def options(self) -> dict[str, str]:
        return {"path": str(self.path)}

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def files(self) -> list[Path]:
        """The published files (hidden in-progress files are not published)."""
        return [
            f for f in sorted(self.path.rglob("*"))
            if f.is_file() and not any(p.startswith((".", "_")) for p in f.relative_to(self.path).parts)
        ]  # fmt: skip

    def read(self) -> list[Hashable]:
        return [line for f in self.files() for line in f.read_text().splitlines() if line]

    def drop(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class InPlaceKafka(KafkaShadow):
    """``--in-place``: the real topic; what the run added is what lies after the offsets
    its partitions ended at before the run (other writers show up as unexpected rows)."""

    @property
    def topic(self) -> str:
        return self.table.options.get("topic", self.table.name)

    def options(self) -> dict[str, str]:
        return {k: v for k, v in super().options().items() if k != "topic"}

    def create(self) -> None:
        asyncio.run(self._read(None))  # the ends now (sets ``ends``)

    def read(self) -> list[Hashable]:
        return asyncio.run(self._read(self.ends))

    def drop(self) -> None:
        pass  # the real topic stays, with the run's rows


class InPlacePostgres(PostgresShadow):
    """``--in-place``: the real table; what the run added is its rows after the run less
    its rows before (an upsert table, whose rows a run overwrites, is refused)."""

    def options(self) -> dict[str, str]:
        return {k: v for k, v in super().options().items() if k != "table-name"}

    def create(self) -> None:
        if self.table.schema.primary_key:
            raise VerifyError(
                f"--in-place cannot tell the rows of table '{self.table.name}' that the run wrote: "
                "it has a PRIMARY KEY, so the run overwrites rows",
                hint="verify it without --in-place (into a shadow table)",
            )
        self.before = self._rows()

    def _rows(self) -> list[Hashable]:
        from psycopg import sql

        _, real, _ = self._target()
        return [tuple(r) for r in self._execute(sql.SQL("SELECT * FROM {}").format(real.ident()))]

    def read(self) -> list[Hashable]:
        return list((Counter(self._rows()) - Counter(self.before)).elements())

    def drop(self) -> None:
        pass


class InPlaceFiles(FileShadow):
    """``--in-place``: the real directory; what the run added is its new files."""

    @property
    def path(self) -> Path:
        return Path(self.table.options.get("path", ""))

    def options(self) -> dict[str, str]:
        return {}

    def create(self) -> None:
        self.before = {f for f in self.path.rglob("*") if f.is_file()} if self.path.exists() else set()

    def files(self) -> list[Path]:
        return [f for f in super().files() if f not in self.before]

    def drop(self) -> None:
        pass


IN_PLACE: dict[str, type[Shadow]] = {
    "kafka": InPlaceKafka,
    "upsert-kafka": InPlaceKafka,
    "jdbc": InPlacePostgres,
    "postgres": InPlacePostgres,
    "filesystem": InPlaceFiles,
}

SHADOWS: dict[str, type[Shadow]] = {
    "kafka": KafkaShadow,
    "upsert-kafka": KafkaShadow,
    "jdbc": PostgresShadow,
    "postgres": PostgresShadow,
    "filesystem": FileShadow,
}


def shadow_for(
    table: TableDef, run_id: str, run: str, workdir: Path, in_place: bool = False
) -> Shadow | None:
    """The shadow of a sink table (``in_place``: the real one, read for what the run
    added), or None for a sink whose rows cannot be read back (print, blackhole)."""
    cls = (IN_PLACE if in_place else SHADOWS).get(table.connector.lower())
    return cls(table, run_id, run, workdir) if cls is not None else None
