"""How rows map to Kafka records (key and value fields, their formats): shared by the
source and the sink; the layout itself is parsed and checked by ``catalog.connectors.kafka``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from catalog.connectors.kafka import RecordLayout
from planner.physical import Field

KIND_UPDATE_AFTER, KIND_DELETE = 2, 3  # row kinds an upsert record stands for


class Codec(RecordLayout):
    """A table's record layout with the record fields each format sees."""

    def key_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        """The key's fields as the key record names them (without ``key.fields-prefix``)."""
        by_name = {f.name: f for f in columns}
        return [Field(n[len(self.key_prefix) :], by_name[n].type) for n in self.key_fields]

    def value_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        by_name = {f.name: f for f in columns}
        return [by_name[n] for n in self.value_fields]

    @classmethod
    def of(cls, layout: RecordLayout) -> Codec:
        """The codec of a table's record layout (parsed and checked by the catalog)."""
        return cls(**{f.name: getattr(layout, f.name) for f in dataclasses.fields(layout)})
