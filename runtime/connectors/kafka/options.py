"""Kafka connector options: Flink's keys to aiokafka's arguments, with no I/O.

``properties.*`` keys are the Java client's (``bootstrap.servers``, ``group.id``,
``sasl.jaas.config``, ...); :func:`client_kwargs` maps them to aiokafka keyword arguments
and refuses a key it does not know, naming it. The rest are small parsers the source and
sink share: which partitions a subtask reads and the transactional ids of the exactly-once
sink. (The table options themselves are parsed and checked by ``catalog.connectors.kafka``.)

>>> transactional_id("job-sink", 1, 3)
'job-sink-1-3'
>>> owned_partitions([("b", 0), ("a", 1), ("a", 0), ("a", 2)], subtask=0, parallelism=2)
[('a', 0), ('a', 2), ('b', 0)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.connectors.kafka_properties import (
    CONSUMER,
    PRODUCER,
    SHARED,
    check_properties,
    parse_jaas,
    typed_property,
)


def _ssl_context(props: Mapping[str, str]) -> Any:
    """The client's TLS context from PEM files (``check_properties`` refused other stores)."""
    from aiokafka.helpers import create_ssl_context

    cafile = props.get("ssl.truststore.location") or props.get("ssl.ca.location")
    certfile = props.get("ssl.keystore.location") or props.get("ssl.certificate.location")
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
    tables = {"consumer": (SHARED, CONSUMER), "producer": (SHARED, PRODUCER), "admin": (SHARED,)}[client]
    check_properties(props, where)  # the same check as at CREATE TABLE
    out: dict[str, Any] = {}
    for key, value in props.items():
        for table in tables:
            if key in table:
                name, kind = table[key]
                out[name] = typed_property(key, value, kind)
    if "security_protocol" in out:
        out["security_protocol"] = str(out["security_protocol"]).upper()
    jaas = props.get("sasl.jaas.config")
    if jaas:
        user, password = parse_jaas(jaas, where)
        out["sasl_plain_username"] = user
        out["sasl_plain_password"] = password
    if str(out.get("security_protocol", "")).endswith("SSL") or any(k.startswith("ssl.") for k in props):
        out["ssl_context"] = _ssl_context(props)
    if client == "producer" and "acks" in out:
        acks = str(out["acks"]).lower()
        out["acks"] = "all" if acks in ("all", "-1") else int(acks)
    if client == "consumer" and "isolation_level" in out:
        out["isolation_level"] = str(out["isolation_level"]).lower()
    return out


# ---- topics and partitions ------------------------------------------------------------


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
