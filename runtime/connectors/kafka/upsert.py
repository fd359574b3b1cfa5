"""Flink's ``upsert-kafka`` connector: a changelog keyed by the table's PRIMARY KEY.

Sink: the record key is the primary key columns (``key.format``), the value the row
(``value.format``, ``value.fields-include``) for +I and +U, a tombstone (null value) for
-D, and for a -U that no later row of its key in the batch overwrites (``HAVING`` filtered
the +U out, or the row moved to another key), as Flink writes an UPDATE_BEFORE; other -U
rows are dropped. Delivery guarantees and transactions are the ``kafka`` sink's.

Source: each record is an upsert of its key: a value gives a +U row, a tombstone a -D row
whose key columns come from the record key (``ROW_KIND_COLUMN`` last, as every updating
stream carries it). Flink reads it from the earliest offset; so do we, and the rest of the
``kafka`` source's behaviour (positions, bounded reads, bad records) is the same.
"""

from __future__ import annotations

from runtime.connectors.kafka.sink import KafkaSink
from runtime.connectors.kafka.source import KafkaSource


class UpsertKafkaSource(KafkaSource):
    upsert = True  # reads from the earliest offset (the catalog's default for upsert-kafka)


class UpsertKafkaSink(KafkaSink):
    upsert = True
