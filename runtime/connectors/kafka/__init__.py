"""Flink's ``kafka`` and ``upsert-kafka`` connectors on aiokafka (see ``source.py``,
``sink.py`` and ``upsert.py``; the options are described in ``catalog.connectors``)."""

from __future__ import annotations

from runtime.connectors.base import Implementation


def implementation() -> Implementation:
    from runtime.connectors.kafka.sink import KafkaSink
    from runtime.connectors.kafka.source import KafkaSource

    return Implementation(source=KafkaSource, sink=KafkaSink)


def upsert_implementation() -> Implementation:
    from runtime.connectors.kafka.upsert import UpsertKafkaSink, UpsertKafkaSource

    return Implementation(source=UpsertKafkaSource, sink=UpsertKafkaSink)
