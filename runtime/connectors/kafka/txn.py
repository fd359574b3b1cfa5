"""Kafka transactions by handle: commit, fence, recover (aiokafka's client, raw requests).

aiokafka can only resume nothing: its producer always starts with InitProducerId, which
aborts what the id left open. A pre-committed transaction is therefore committed with
EndTxn and its stored handle (transactional id, producer id, epoch), from any process
(tests/README.md, "Resuming a transaction after a crash"):

- ``NoError`` commits it, and again ``NoError`` for a transaction already committed: a
  repeated commit is harmless;
- ``InvalidProducerEpoch`` / ``InvalidProducerIdMapping`` / ``InvalidTxnState`` mean the
  transaction was aborted (its timeout passed, or something fenced the id): its records
  are lost, which :class:`TransactionLostError` says loudly.

Ids are ``<prefix>-<subtask>-<slot>`` (``options.transactional_id``); every
transaction runs on a new producer, so each (id, epoch) names one transaction only and an
old handle can never commit a newer transaction on the same id (the epoch does not change
between transactions of one producer). :func:`recover` commits the recorded handles and then
fences every other id of the prefix by InitProducerId, for every subtask up to the largest
parallelism the handles or the current job know, and every slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.errors import SqlStreamError
from runtime.connectors.kafka.options import DEFAULT_SLOTS, transactional_id

log = logging.getLogger(__name__)

RETRY_FOR_S = 60.0


class KafkaConnectorError(SqlStreamError):
    """The Kafka connector cannot go on (broker answers, lost transactions, bad records)."""


class TransactionLostError(KafkaConnectorError):
    """A recorded transaction can no longer be committed: its records are lost."""


class ProducerFencedError(KafkaConnectorError):
    """Another instance of the job (same transactional-id prefix) took over: this one is a
    zombie and must stop for good. Restarting it from its own newest checkpoint would
    write again what the other instance wrote, so a restart strategy must not retry it
    (``restartable`` is False)."""

    restartable = False


def transactions(handle: Any) -> Iterator[dict[str, Any]]:
    """The transactions a sink handle names (itself and the earlier ones it carries).

    >>> h = {"transactional_id": "p-0-1", "earlier": [{"transactional_id": "p-0-0"}]}
    >>> [t["transactional_id"] for t in transactions([[3, h], [4, None]])]
    ['p-0-0', 'p-0-1']
    """
    if isinstance(handle, list | tuple):  # several handles, or (checkpoint id, handle) pairs
        for h in handle:
            yield from transactions(h)
        return
    if not isinstance(handle, dict) or not handle.get("transactional_id"):
        return  # no transaction (an idle checkpoint), or a checkpoint id
    for earlier in handle.get("earlier", ()):
        yield from transactions(earlier)
    yield handle


def _retriable(error: type[Exception]) -> bool:
    from aiokafka import errors

    return error in (
        errors.CoordinatorLoadInProgressError,
        errors.CoordinatorNotAvailableError,
        errors.NotCoordinatorError,
        errors.ConcurrentTransactions,
        errors.RequestTimedOutError,
    )


@dataclass
class TxnClient:
    """A bare aiokafka client that talks to transaction coordinators."""

    kwargs: dict[str, Any]
    _client: Any = None

    async def __aenter__(self) -> TxnClient:
        from aiokafka.client import AIOKafkaClient

        allowed = {k: v for k, v in self.kwargs.items() if k not in _PRODUCER_ONLY}
        self._client = AIOKafkaClient(**allowed)
        await self._client.bootstrap()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()

    async def _request(self, txn_id: str, request: Any) -> tuple[type[Exception], Any]:
        from aiokafka import errors
        from aiokafka.client import CoordinationType

        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            try:
                node = await self._client.coordinator_lookup(CoordinationType.TRANSACTION, txn_id)
                resp = await self._client.send(node, request)
                error = errors.for_code(resp.error_code)
            except errors.KafkaError as e:  # coordinator lookup: not available yet, ...
                error, resp = type(e), None
                retry = bool(getattr(e, "retriable", False)) or _retriable(error)
            else:
                retry = _retriable(error)
            if retry and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                continue
            return error, resp

    async def end_txn(self, txn_id: str, producer_id: int, epoch: int, commit: bool) -> type[Exception]:
        """EndTxn for a stored handle; the error class (``NoError`` when it worked)."""
        from aiokafka.protocol.transaction import EndTxnRequest

        error, _ = await self._request(txn_id, EndTxnRequest(txn_id, producer_id, epoch, commit))
        return error

    async def fence(self, txn_id: str, timeout_ms: int) -> tuple[int, int]:
        """InitProducerId for ``txn_id``: aborts its open transaction, bumps its epoch so
        that older producers and handles of the id are refused. (producer id, epoch)."""
        from aiokafka import errors
        from aiokafka.protocol.transaction import InitProducerIdRequest

        error, resp = await self._request(txn_id, InitProducerIdRequest(txn_id, timeout_ms))
        if error is not errors.NoError:
            raise KafkaConnectorError(
                f"cannot fence transactional id '{txn_id}': the broker answered {error.__name__}"
            )
        return int(resp.producer_id), int(resp.producer_epoch)


_PRODUCER_ONLY = {
    "acks", "compression_type", "linger_ms", "max_batch_size", "max_request_size",
    "transaction_timeout_ms", "enable_idempotence", "transactional_id", "partitioner",
    "group_id", "isolation_level",
}  # fmt: skip


def lost_message(txn: Mapping[str, Any], error: str, where: str) -> TransactionLostError:
    return TransactionLostError(
        f"{where}: the pre-committed Kafka transaction '{txn['transactional_id']}' (producer id "
        f"{txn['producer_id']}, epoch {txn['epoch']}, checkpoint {txn.get('checkpoint_id')}, "
        f"{txn.get('records', '?')} records) can no longer be committed ({error}): the broker "
        "aborted it, so its records are lost, unless another instance of the job took over with "
        "the same transactional id and wrote them again",
        hint="it outlived 'properties.transaction.timeout.ms' (or another producer used its id): "
        "set 'properties.transaction.timeout.ms' above the checkpoint interval plus the longest "
        "time a job may be down before it recovers (at most the broker's "
        "'transaction.max.timeout.ms', which you may raise), and give each job its own "
        "'sink.transactional-id-prefix'",
    )


async def commit_transaction(client: TxnClient, txn: Mapping[str, Any], where: str) -> None:
    """Commit one recorded transaction; a repeated commit is fine, a lost one raises."""
    from aiokafka import errors

    if not txn.get("records"):
        return  # nothing was written in it: there is nothing to commit
    error = await client.end_txn(txn["transactional_id"], int(txn["producer_id"]), int(txn["epoch"]), True)
    if error is errors.NoError:
        return
    raise lost_message(txn, error.__name__, where)


def subtask_bound(handles: Any, parallelism: int) -> int:
    """How many subtasks may have used ids: the current parallelism, or the larger one the
    handles were written with (a job restarted with fewer subtasks)."""
    bound = parallelism
    for t in transactions(handles):
        bound = max(bound, int(t.get("parallelism", 0)), int(t.get("subtask", 0)) + 1)
    return bound


def fenced_by(subtask: int, parallelism: int, bound: int) -> list[int]:
    """The subtasks whose ids subtask ``subtask`` fences when each writer recovers its own
    share: its own, and those beyond the parallelism that fall to it (modulo).

    >>> fenced_by(0, 2, 5), fenced_by(1, 2, 5)
    ([0, 2, 4], [1, 3])
    """
    return [subtask, *(k for k in range(parallelism, bound) if k % parallelism == subtask)]


@dataclass
class RecoveryReport:
    committed: list[str] = field(default_factory=list)
    fenced: list[str] = field(default_factory=list)
    # transactional id -> (producer id, epoch) after recovery: the writer's zombie check
    epochs: dict[str, tuple[int, int]] = field(default_factory=dict)


async def recover(
    kwargs: dict[str, Any],
    prefix: str,
    handles: Iterable[Any],
    *,
    parallelism: int,
    timeout_ms: int,
    where: str,
    slots: int = DEFAULT_SLOTS,
    subtasks: Iterable[int] | None = None,
) -> RecoveryReport:
    """Commit every transaction the handles name, then fence every other transactional id
    of ``prefix`` (all subtasks up to the largest parallelism known, all slots), which
    aborts whatever a crashed or zombie instance left open there. ``subtasks`` limits the
    fencing to those subtasks' ids (a writer recovering its own share).

    Commits come first: fencing an id turns its handle into ``InvalidProducerEpoch``. When a
    recorded transaction is lost, the others are still committed and the error is raised at
    the end, naming each lost id."""
    txns = list(transactions(list(handles)))
    report = RecoveryReport()
    lost: list[TransactionLostError] = []
    bound = subtask_bound(txns, parallelism)
    for t in txns:
        slots = max(slots, int(t.get("slots", 0)))
    fence_subtasks = list(range(bound)) if subtasks is None else list(subtasks)
    async with TxnClient(kwargs) as client:
        for t in txns:
            try:
                await commit_transaction(client, t, where)
                report.committed.append(t["transactional_id"])
                if t.get("records"):  # EndTxn leaves the epoch as it was
                    report.epochs[t["transactional_id"]] = (int(t["producer_id"]), int(t["epoch"]))
            except TransactionLostError as e:
                lost.append(e)
        keep = {t["transactional_id"] for t in txns}
        ids = [
            transactional_id(prefix, k, s)
            for k in fence_subtasks
            for s in range(slots)
            if transactional_id(prefix, k, s) not in keep
        ]
        fenced = await asyncio.gather(*(client.fence(i, timeout_ms) for i in ids))
        report.fenced = ids
        report.epochs.update(zip(ids, fenced))
    if lost:
        if len(lost) > 1:
            names = ", ".join(str(e.message.split("'")[1]) for e in lost)
            lost[0].message += f" (also lost: {names})"
            lost[0].args = (lost[0].message,)
        raise lost[0]
    log.info(
        "%s: recovery committed %d transaction(s), fenced %d id(s)", where, len(report.committed), len(ids)
    )
    return report


async def broker_max_transaction_timeout(kwargs: dict[str, Any]) -> int | None:
    """The broker's ``transaction.max.timeout.ms`` (DescribeConfigs), or None if unknown."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    allowed = {k: v for k, v in kwargs.items() if k not in _PRODUCER_ONLY}
    admin = AIOKafkaAdminClient(**allowed)
    await admin.start()
    try:
        brokers = admin._client.cluster.brokers()
        if not brokers:
            return None
        node = min(b.nodeId for b in brokers)
        resource = ConfigResource(ConfigResourceType.BROKER, str(node), {"transaction.max.timeout.ms": None})
        responses = await admin.describe_configs([resource])
        for response in responses:
            for res in response.resources:
                for entry in res[4]:
                    if entry[0] == "transaction.max.timeout.ms" and entry[1] is not None:
                        return int(entry[1])
        return None
    finally:
        await admin.close()


def ride_through_outages(producer: Any) -> None:
    """aiokafka 0.14's transactional producer dies for good ("Unexpected error during batch
    delivery") when looking up its transaction coordinator meets a closed connection, as
    it does while the broker restarts: its open transaction, and so the job, would be lost
    to an outage of a few seconds. Retry that lookup, as aiokafka already does for a
    coordinator that is not available, for up to ``RETRY_FOR_S``."""
    from aiokafka import errors

    sender = producer._sender
    lookup = sender._find_coordinator

    async def find_coordinator(coordinator_type: Any, key: str) -> Any:
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            try:
                return await lookup(coordinator_type, key)
            except errors.KafkaError as e:
                cause = e.__cause__ if e.__cause__ is not None else e
                if not getattr(cause, "retriable", False) or time.monotonic() > deadline:
                    raise
                log.info("transaction coordinator of '%s' unreachable (%s); retrying", key, cause)
                await asyncio.sleep(0.2)

    sender._find_coordinator = find_coordinator
