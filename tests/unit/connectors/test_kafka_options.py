"""The Kafka connector's pure logic: option mapping, offsets syntax, partition split,
transactional-id slots, the transaction-timeout check, handle flattening. No broker."""

from __future__ import annotations

import pytest

from catalog.connectors.kafka import check_transaction_timeout, parse_specific_offsets, parse_topics
from catalog.connectors.kafka_properties import parse_jaas
from catalog.errors import OptionError
from runtime.connectors.kafka.options import (
    DEFAULT_SLOTS,
    TxnSlots,
    client_kwargs,
    owned_partitions,
    parse_tp_key,
    parse_transactional_id,
    tp_key,
    transactional_id,
)
from runtime.connectors.kafka.txn import fenced_by, subtask_bound, transactions


def test_java_keys_map_to_aiokafka_arguments_per_client() -> None:
    props = {
        "bootstrap.servers": "b:1",
        "group.id": "g",
        "isolation.level": "READ_COMMITTED",
        "fetch.max.wait.ms": "50",
        "acks": "-1",
        "linger.ms": "5",
        "enable.idempotence": "true",
        "security.protocol": "sasl_plaintext",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="u" password="p";',
    }
    consumer = client_kwargs(props, "consumer", "t")
    assert consumer == {
        "bootstrap_servers": "b:1",
        "group_id": "g",
        "isolation_level": "read_committed",
        "fetch_max_wait_ms": 50,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": "p",
    }
    producer = client_kwargs(props, "producer", "t")
    assert producer["acks"] == "all"
    assert producer["linger_ms"] == 5 and producer["enable_idempotence"] is True
    assert "group_id" not in producer and "isolation_level" not in producer


def test_unknown_property_names_the_key_and_suggests_the_closest() -> None:
    with pytest.raises(OptionError, match=r"'properties\.group\.idd'") as e:
        client_kwargs({"bootstrap.servers": "b", "group.idd": "g"}, "consumer", "table 't'")
    assert "group.id" in str(e.value.hint)


def test_serializers_are_refused_with_the_format_options_as_the_way() -> None:
    with pytest.raises(OptionError, match=r"value\.serializer") as e:
        client_kwargs({"value.serializer": "x"}, "producer", "t")
    assert "value.format" in str(e.value.hint)


def test_bad_isolation_level_and_non_pem_stores_are_errors() -> None:
    with pytest.raises(OptionError, match=r"isolation\.level"):
        client_kwargs({"isolation.level": "serializable"}, "consumer", "t")
    with pytest.raises(OptionError, match="only PEM files"):
        client_kwargs(
            {"security.protocol": "SSL", "ssl.truststore.location": "/x.jks", "ssl.truststore.type": "JKS"},
            "consumer",
            "t",
        )


def test_jaas_values_may_be_quoted_with_separators_inside() -> None:
    text = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required username='a b' password=\"x;y=z\";"
    )
    assert parse_jaas(text, "t") == ("a b", "x;y=z")
    with pytest.raises(OptionError, match="names no username"):
        parse_jaas("org.apache.kafka.common.security.plain.PlainLoginModule required;", "t")


def test_topics_offsets_and_partition_keys() -> None:
    assert parse_topics("a;b ; c") == ["a", "b", "c"]
    assert parse_specific_offsets("partition:0,offset:42; partition:3,offset:7", "t") == {0: 42, 3: 7}
    with pytest.raises(OptionError, match="malformed entry 'partition:x'"):
        parse_specific_offsets("partition:x", "t")
    assert parse_tp_key(tp_key("my.topic-1", 12)) == ("my.topic-1", 12)


def test_partitions_split_by_number_modulo_parallelism_sorted_by_topic() -> None:
    parts = [("b", 1), ("a", 3), ("a", 0), ("b", 0), ("a", 1), ("a", 2)]
    assert owned_partitions(parts, 0, 2) == [("a", 0), ("a", 2), ("b", 0)]
    assert owned_partitions(parts, 1, 2) == [("a", 1), ("a", 3), ("b", 1)]
    assert owned_partitions(parts, 3, 4) == [("a", 3)]
    together = [tp for i in range(3) for tp in owned_partitions(parts, i, 3)]
    assert sorted(together) == sorted(parts)


def test_transactional_ids_round_trip_and_ignore_other_prefixes() -> None:
    assert transactional_id("job-1", 2, 5) == "job-1-2-5"
    assert parse_transactional_id("job-1", "job-1-2-5") == (2, 5)
    assert parse_transactional_id("job-1", "job-11-2-5") is None


def test_slots_rotate_and_stay_busy_while_the_newest_checkpoint_names_them() -> None:
    s = TxnSlots(DEFAULT_SLOTS)
    a = s.take()  # transaction for checkpoint 1
    s.listed(a, 1)  # pre-committed at barrier 1
    b = s.take()
    assert b != a
    s.completed(1)  # checkpoint 1 complete: still the newest, so `a` stays named
    s.listed(b, 2)
    c = s.take()
    assert c not in (a, b)
    s.completed(2)  # now checkpoint 2 is the newest complete one: `a` is free again
    assert s.take() == a


def test_slots_overflow_when_checkpoints_never_complete() -> None:
    s = TxnSlots(3)
    for n in range(3):
        s.listed(s.take(), n)
    with pytest.raises(OverflowError):
        s.take()


def test_restored_slots_wait_for_a_checkpoint_of_the_new_run() -> None:
    s = TxnSlots(4)
    s.reserve(0)
    s.reserve(2)
    assert s.take() == 1
    s.listed(1, 7)
    assert s.take() == 3
    s.release(3)
    s.completed(7)
    assert s.take() == 0


def test_timeout_check_names_the_values_to_change() -> None:
    config = {"execution.checkpointing.interval": "30 s", "execution.checkpointing.timeout": "1 min"}
    check_transaction_timeout(120_000, config, 900_000, "t")
    with pytest.raises(OptionError, match=r"30000 \+ 60000 = 90000") as e:
        check_transaction_timeout(90_000, config, 900_000, "t")
    assert "execution.checkpointing.interval" in str(e.value.hint)
    with pytest.raises(OptionError, match=r"'transaction.max.timeout.ms' = 100000") as e:
        check_transaction_timeout(120_000, config, 100_000, "t")
    assert "lower 'properties.transaction.timeout.ms'" in str(e.value.hint)
    # The default checkpoint timeout (10 min) counts when none is set.
    with pytest.raises(OptionError, match="600000"):
        check_transaction_timeout(300_000, {}, None, "t")


def test_handles_flatten_from_pairs_and_earlier_lists() -> None:
    h1 = {"transactional_id": "p-0-0", "subtask": 0, "parallelism": 4}
    h2 = {"transactional_id": "p-0-1", "subtask": 0, "parallelism": 4, "earlier": [h1]}
    idle = {"transactional_id": None}
    names = [t["transactional_id"] for t in transactions([[1, h1], [2, h2], [3, idle], [4, None]])]
    assert names == ["p-0-0", "p-0-0", "p-0-1"]
    assert subtask_bound([[2, h2]], 2) == 4
    assert subtask_bound([], 3) == 3


def test_vanished_subtasks_fall_to_the_subtask_their_index_maps_to() -> None:
    assert fenced_by(0, 1, 4) == [0, 1, 2, 3]
    assert fenced_by(1, 3, 8) == [1, 4, 7]
    shares = sorted(k for s in range(3) for k in fenced_by(s, 3, 8))
    assert shares == list(range(8))


def test_the_sink_sends_256_kib_producer_batches_unless_batch_size_or_max_request_size_say() -> None:
    from planner.physical import Field, SinkSpec
    from runtime.connectors.base import SubtaskContext
    from runtime.connectors.kafka.sink import KafkaSink

    def batch_bytes(**props: str) -> int:
        options = {
            "connector": "kafka",
            "topic": "t",
            "format": "json",
            "properties.bootstrap.servers": "b:1",
            **{f"properties.{k.replace('_', '.')}": v for k, v in props.items()},
        }
        spec = SinkSpec("t", "kafka", options, (Field("v", "BIGINT"),))
        sink = KafkaSink(spec, SubtaskContext("job", 1, "node", 0, 1, {}))
        return int(sink.kwargs["max_batch_size"])

    assert batch_bytes() == 256 * 1024
    assert batch_bytes(batch_size="16384") == 16384
    assert batch_bytes(max_request_size="100000") == 100000
