"""Kafka connector options: Flink's keys to aiokafka's arguments, with no I/O.

``properties.*`` keys are the Java client's (``bootstrap.servers``, ``group.id``,
``sasl.jaas.config``, ...); :func:`client_kwargs` maps them to aiokafka keyword arguments
and refuses a key it does not know, naming it. The rest are small parsers the source and
sink share: startup and bounded modes, specific offsets, which partitions a subtask reads,
the transactional ids of the exactly-once sink and its timeout check.

>>> parse_specific_offsets("partition:0,offset:42;partition:1,offset:300", "t")
{0: 42, 1: 300}
>>> transactional_id("job-sink", 1, 3)
'job-sink-1-3'
>>> owned_partitions([("b", 0), ("a", 1), ("a", 0), ("a", 2)], subtask=0, parallelism=2)
[('a', 0), ('a', 2), ('b', 0)]
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.errors import OptionError, did_you_mean
from catalog.options import parse_bool, parse_duration_ms, parse_int

# ---- properties.* --------------------------------------------------------------------

_INT, _BOOL, _STR = "int", "bool", "str"

# Java key -> (aiokafka argument, type, which clients take it: "c" consumer, "p" producer).
_COMMON: dict[str, tuple[str, str]] = {
    "bootstrap.servers": ("bootstrap_servers", _STR),
    "client.id": ("client_id", _STR),
    "request.timeout.ms": ("request_timeout_ms", _INT),
    "retry.backoff.ms": ("retry_backoff_ms", _INT),
    "metadata.max.age.ms": ("metadata_max_age_ms", _INT),
    "connections.max.idle.ms": ("connections_max_idle_ms", _INT),
    "security.protocol": ("security_protocol", _STR),
    "sasl.mechanism": ("sasl_mechanism", _STR),
    "sasl.kerberos.service.name": ("sasl_kerberos_service_name", _STR),
    "sasl.kerberos.domain.name": ("sasl_kerberos_domain_name", _STR),
}
_CONSUMER: dict[str, tuple[str, str]] = {
    "group.id": ("group_id", _STR),
    "group.instance.id": ("group_instance_id", _STR),
    "isolation.level": ("isolation_level", _STR),
    "fetch.max.wait.ms": ("fetch_max_wait_ms", _INT),
    "fetch.min.bytes": ("fetch_min_bytes", _INT),
    "fetch.max.bytes": ("fetch_max_bytes", _INT),
    "max.partition.fetch.bytes": ("max_partition_fetch_bytes", _INT),
    "max.poll.records": ("max_poll_records", _INT),
    "session.timeout.ms": ("session_timeout_ms", _INT),
    "heartbeat.interval.ms": ("heartbeat_interval_ms", _INT),
    "max.poll.interval.ms": ("max_poll_interval_ms", _INT),
    "check.crcs": ("check_crcs", _BOOL),
    "client.rack": ("client_rack", _STR),
    "exclude.internal.topics": ("exclude_internal_topics", _BOOL),
}
_PRODUCER: dict[str, tuple[str, str]] = {
    "acks": ("acks", _STR),
    "compression.type": ("compression_type", _STR),
    "linger.ms": ("linger_ms", _INT),
    "batch.size": ("max_batch_size", _INT),
    "max.request.size": ("max_request_size", _INT),
    "transaction.timeout.ms": ("transaction_timeout_ms", _INT),
    "enable.idempotence": ("enable_idempotence", _BOOL),
}
# Keys we read ourselves (or that the engine decides), not passed to the client as such.
_OURS = {
    "auto.offset.reset",  # group-offsets without a committed offset
    "enable.auto.commit",  # offsets are committed when a checkpoint completes
    "auto.commit.interval.ms",
    "sasl.jaas.config",
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.endpoint.identification.algorithm",
    "partition.discovery.interval.ms",
    "transactional.id",
}
_REFUSED = {
    "key.deserializer": "the key and value formats decode records ('key.format', 'value.format')",
    "value.deserializer": "the key and value formats decode records ('key.format', 'value.format')",
    "key.serializer": "the key and value formats encode records ('key.format', 'value.format')",
    "value.serializer": "the key and value formats encode records ('key.format', 'value.format')",
}
KNOWN_PROPERTIES = sorted({*_COMMON, *_CONSUMER, *_PRODUCER, *_OURS})

_JAAS_VALUE = re.compile(r"""(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s;]+)""")


def parse_jaas(text: str, where: str) -> tuple[str | None, str | None]:
    """(username, password) from a ``sasl.jaas.config`` line, as Java's PlainLoginModule
    and ScramLoginModule read it.

    >>> parse_jaas('org.apache.kafka.common.security.plain.PlainLoginModule required '
    ...            'username="alice" password="s3;cr=t";', "t")
    ('alice', 's3;cr=t')
    """
    found: dict[str, str] = {}
    for key, raw in _JAAS_VALUE.findall(text):
        value = raw
        if raw[:1] in ("'", '"'):
            try:
                value = shlex.split(raw)[0]
            except ValueError:
                value = raw[1:-1]
        found[key.lower()] = value
    if "username" not in found and "password" not in found:
        raise OptionError(
            f"{where}: 'properties.sasl.jaas.config' names no username and password",
            hint='write it as Java does: \'... required username="user" password="secret";\'',
        )
    return found.get("username"), found.get("password")


def _typed(key: str, value: str, kind: str) -> Any:
    if kind == _INT:
        return parse_int(value, "properties." + key)
    if kind == _BOOL:
        return parse_bool(value, "properties." + key)
    return value


def _ssl_context(props: Mapping[str, str], where: str) -> Any:
    from aiokafka.helpers import create_ssl_context

    def pem(location_key: str, type_key: str | None) -> str | None:
        location = props.get(location_key)
        if location and type_key and props.get(type_key, "PEM").upper() != "PEM":
            raise OptionError(
                f"{where}: 'properties.{type_key}' = '{props[type_key]}': only PEM files can be "
                "read from Python (a JKS or PKCS12 store cannot)",
                hint=f"convert the store to PEM (keytool/openssl) and set 'properties.{type_key}' = 'PEM'",
            )
        return location

    cafile = pem("ssl.truststore.location", "ssl.truststore.type") or props.get("ssl.ca.location")
    certfile = pem("ssl.keystore.location", "ssl.keystore.type") or props.get("ssl.certificate.location")
    keyfile = props.get("ssl.key.location") or (certfile if props.get("ssl.keystore.location") else None)
    password = props.get("ssl.key.password") or props.get("ssl.keystore.password")
    context = create_ssl_context(cafile=cafile, certfile=certfile, keyfile=keyfile, password=password)
    if props.get("ssl.endpoint.identification.algorithm", "https") == "":
        context.check_hostname = False
    return context


def client_kwargs(props: Mapping[str, str], client: str, where: str) -> dict[str, Any]:
    """aiokafka keyword arguments for ``client`` ("consumer", "producer" or "admin") from
    the ``properties.*`` options (without the prefix). Unknown keys are an error naming
    the key; keys of the other client are ignored (one table is source and sink).

    >>> client_kwargs({"bootstrap.servers": "b:9092", "linger.ms": "5"}, "producer", "t")
    {'bootstrap_servers': 'b:9092', 'linger_ms': 5}
    """
    tables = {"consumer": (_COMMON, _CONSUMER), "producer": (_COMMON, _PRODUCER), "admin": (_COMMON,)}[client]
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key in _REFUSED:
            raise OptionError(f"{where}: 'properties.{key}' cannot be set", hint=_REFUSED[key])
        if key not in _COMMON and key not in _CONSUMER and key not in _PRODUCER and key not in _OURS:
            raise OptionError(
                f"{where}: unknown Kafka client property 'properties.{key}'",
                hint=(
                    (did_you_mean(key, KNOWN_PROPERTIES) or "")
                    + " (sqlstream maps the Java client's keys to aiokafka's; supported: "
                    + ", ".join(KNOWN_PROPERTIES)
                    + ")"
                ).strip(),
            )
        for table in tables:
            if key in table:
                name, kind = table[key]
                out[name] = _typed(key, value, kind)
    if "security_protocol" in out:
        out["security_protocol"] = str(out["security_protocol"]).upper()
    jaas = props.get("sasl.jaas.config")
    if jaas:
        user, password = parse_jaas(jaas, where)
        out["sasl_plain_username"] = user
        out["sasl_plain_password"] = password
    if str(out.get("security_protocol", "")).endswith("SSL") or any(k.startswith("ssl.") for k in props):
        out["ssl_context"] = _ssl_context(props, where)
    if client == "producer" and "acks" in out:
        acks = str(out["acks"]).lower()
        out["acks"] = "all" if acks in ("all", "-1") else int(acks)
    if client == "consumer" and "isolation_level" in out:
        level = str(out["isolation_level"]).lower()
        if level not in ("read_committed", "read_uncommitted"):
            raise OptionError(
                f"{where}: 'properties.isolation.level' = '{level}' is not read_committed or read_uncommitted"
            )
        out["isolation_level"] = level
    return out


# ---- topics and partitions ------------------------------------------------------------


def parse_topics(value: str) -> list[str]:
    """``topic`` is one topic or a ``;``-separated list (Flink's form).

    >>> parse_topics("a; b;")
    ['a', 'b']
    """
    return [t.strip() for t in value.split(";") if t.strip()]


def owned_partitions(
    partitions: Iterable[tuple[str, int]], subtask: int, parallelism: int
) -> list[tuple[str, int]]:
    """The (topic, partition) pairs subtask ``subtask`` reads: partition number modulo the
    parallelism, sorted by topic then partition."""
    return sorted(tp for tp in set(partitions) if tp[1] % parallelism == subtask)


def tp_key(topic: str, partition: int) -> str:
    """The key of a partition in a JSON position (topic names cannot contain ':')."""
    return f"{topic}:{partition}"


def parse_tp_key(key: str) -> tuple[str, int]:
    topic, _, partition = key.rpartition(":")
    return topic, int(partition)


def parse_specific_offsets(
    value: str, where: str, key: str = "scan.startup.specific-offsets"
) -> dict[int, int]:
    """Flink's ``partition:0,offset:42;partition:1,offset:300``."""
    out: dict[int, int] = {}
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"\s*partition\s*:\s*(\d+)\s*,\s*offset\s*:\s*(\d+)\s*", part)
        if m is None:
            raise OptionError(
                f"{where}: '{key}' has a malformed entry '{part}'",
                hint="write it as 'partition:0,offset:42;partition:1,offset:300'",
            )
        out[int(m.group(1))] = int(m.group(2))
    if not out:
        raise OptionError(f"{where}: '{key}' is empty", hint="write it as 'partition:0,offset:42'")
    return out


# ---- the exactly-once sink's transactional ids ----------------------------------------

#: Transactional ids per subtask: a transaction takes the lowest free slot, so the slots a
#: subtask has ever used are always 0..k (recovery fences all of them).
DEFAULT_SLOTS = 8


def transactional_id(prefix: str, subtask: int, slot: int) -> str:
    return f"{prefix}-{subtask}-{slot}"


def parse_transactional_id(prefix: str, txn_id: str) -> tuple[int, int] | None:
    """(subtask, slot) of one of this prefix's ids, else None."""
    m = re.fullmatch(re.escape(prefix) + r"-(\d+)-(\d+)", txn_id)
    return (int(m.group(1)), int(m.group(2))) if m else None


DEFAULT_TRANSACTION_TIMEOUT_MS = 900_000  # the broker's default transaction.max.timeout.ms
DEFAULT_CHECKPOINT_TIMEOUT_MS = 600_000  # execution.checkpointing.timeout (10 min)


def check_transaction_timeout(
    timeout_ms: int, config: Mapping[str, str], broker_max_ms: int | None, where: str
) -> None:
    """Refuse a transaction timeout the broker would cut short, or one that could abort a
    pre-committed transaction before its checkpoint completes (its records would be lost).

    >>> check_transaction_timeout(900_000, {"execution.checkpointing.interval": "1 s"}, 900_000, "t")
    """
    interval_text = config.get("execution.checkpointing.interval")
    interval = parse_duration_ms(interval_text, "execution.checkpointing.interval") if interval_text else 0
    timeout_text = config.get("execution.checkpointing.timeout")
    cp_timeout = (
        parse_duration_ms(timeout_text, "execution.checkpointing.timeout")
        if timeout_text
        else DEFAULT_CHECKPOINT_TIMEOUT_MS
    )
    needed = interval + cp_timeout
    if timeout_ms <= needed:
        raise OptionError(
            f"{where}: 'properties.transaction.timeout.ms' = {timeout_ms} is not above the checkpoint "
            f"interval plus the checkpoint timeout ({interval} + {cp_timeout} = {needed} ms): the "
            "broker could abort a pre-committed transaction before its checkpoint completes, and "
            "its records would be lost",
            hint=f"raise 'properties.transaction.timeout.ms' above {needed} (and at most the broker's "
            "'transaction.max.timeout.ms'), or lower 'execution.checkpointing.interval' / "
            "'execution.checkpointing.timeout'",
        )
    if broker_max_ms is not None and timeout_ms > broker_max_ms:
        raise OptionError(
            f"{where}: 'properties.transaction.timeout.ms' = {timeout_ms} is above the broker's "
            f"'transaction.max.timeout.ms' = {broker_max_ms}: the broker refuses such transactions",
            hint=f"lower 'properties.transaction.timeout.ms' to at most {broker_max_ms} (and above "
            f"{needed}), or raise 'transaction.max.timeout.ms' in the broker's configuration",
        )


@dataclass
class TxnSlots:
    """Which transactional-id slots of one subtask are busy, and when they become free.

    A slot is busy while its transaction is open or pre-committed, and after that until a
    checkpoint completes whose handle does not list it: until then the newest complete
    checkpoint may list its handle, and recovery would commit that handle again, which must
    not meet a newer transaction (or a newer epoch) on the same id.

    >>> s = TxnSlots(3)
    >>> s.take(), s.take()
    (0, 1)
    >>> s.listed(0, 5); s.completed(5); s.take()      # slot 0 still listed by checkpoint 5
    2
    >>> s.release(1); s.completed(6); s.take()
    0
    """

    size: int
    _busy: set[int] = field(default_factory=set)
    _listed: dict[int, int] = field(default_factory=dict)  # slot -> newest checkpoint listing it
    _completed: int = -1  # newest checkpoint completed (committed) here

    def take(self) -> int:
        for slot in range(self.size):
            if slot in self._busy:
                continue
            listed = self._listed.get(slot)
            if listed is not None and listed >= self._completed:
                continue
            self._busy.add(slot)
            self._listed.pop(slot, None)
            return slot
        raise OverflowError(self.size)

    def listed(self, slot: int, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id``'s handle names ``slot``'s transaction."""
        self._listed[slot] = max(checkpoint_id, self._listed.get(slot, checkpoint_id))
        self._busy.discard(slot)

    def release(self, slot: int) -> None:
        """``slot``'s transaction is over and no handle names it (an empty transaction)."""
        self._busy.discard(slot)

    def reserve(self, slot: int) -> None:
        """A restored checkpoint names ``slot``: keep it until a checkpoint of this run completes."""
        self._listed[slot] = max(self._listed.get(slot, -1), self._completed)

    def completed(self, checkpoint_id: int) -> None:
        self._completed = max(self._completed, checkpoint_id)
