"""How rows map to Kafka records (key and value fields, their formats): shared by the
source and the sink; the layout itself is parsed and checked by ``catalog.connectors.kafka``."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from catalog.connectors.kafka import RecordLayout
from planner.physical import Field

KIND_INSERT, KIND_UPDATE_BEFORE = 0, 1
KIND_UPDATE_AFTER, KIND_DELETE = 2, 3  # row kinds an upsert record stands for

# Formats whose decoder converts only the fields a narrowed scan reads (Flink's
# ProjectableDecodingFormat): a bad value in a field nobody reads is then no error.
_NARROWS = ("json", "csv")


class Codec(RecordLayout):
    """A table's record layout with the record fields each format sees."""

    def key_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        """The key's fields as the key record names them (without ``key.fields-prefix``)."""
        by_name = {f.name: f for f in columns}
        return [Field(n[len(self.key_prefix) :], by_name[n].type) for n in self.key_fields]

    def value_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        by_name = {f.name: f for f in columns}
        return [by_name[n] for n in self.value_fields]

    def value_decoded(self, read: Collection[str] | None) -> list[str] | None:
        """The value fields a decoder converts when a scan reads only the columns ``read``
        (None: the scan reads every column, and the decoder converts every field)."""
        return self._decoded(self.value_format, self.value_fields, read, "")

    def key_decoded(self, read: Collection[str] | None) -> list[str] | None:
        """The key fields (as the key record names them) a decoder converts for ``read``."""
        return self._decoded(self.key_format or "", self.key_fields, read, self.key_prefix)

    @staticmethod
    def _decoded(
        fmt: str, fields: Sequence[str], read: Collection[str] | None, prefix: str
    ) -> list[str] | None:
        """Only a format that decodes fields one by one (JSON, CSV) narrows: an Avro record
        is decoded whole by its schema (of every field), a raw value is one field. A key or
        value none of whose fields is read is still decoded (its first field): whether it
        decodes at all decides, as in Flink, whether the record is a row or a bad record."""
        if read is None or fmt.lower() not in _NARROWS or not fields:
            return None
        wanted = [n for n in fields if n in read] or [fields[0]]
        return [n[len(prefix) :] for n in wanted]

    @classmethod
    def of(cls, layout: RecordLayout) -> Codec:
        """The codec of a table's record layout (parsed and checked by the catalog)."""
        return cls(**{f.name: getattr(layout, f.name) for f in dataclasses.fields(layout)})
