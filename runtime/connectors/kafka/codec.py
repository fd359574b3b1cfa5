"""How rows map to Kafka records (key and value fields, their formats), and the check
that a table's options were all consumed: shared by the source and the sink."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.connectors import CONNECTORS, FORMATS
from catalog.errors import OptionError
from catalog.options import OptionBag
from planner.physical import Field

KIND_UPDATE_AFTER, KIND_DELETE = 2, 3  # row kinds an upsert record stands for


# ---- options shared by source and sink -------------------------------------------------


def finish_options(bag: OptionBag, connector: str) -> None:
    """Consume what the other side (source/sink) or the planner reads; fail on the rest."""
    known = [*CONNECTORS[connector].keys, "connector"]
    for fkey in CONNECTORS[connector].format_keys:
        fmt = bag.get(fkey)
        spec = FORMATS.get((fmt or "").lower())
        if spec is not None:
            prefix = fkey[: -len("format")]
            known += [prefix + o.key for o in spec.options]
    for key in known:
        bag.get(key)
    bag.finish(known)


@dataclass
class Codec:
    """How rows map to a record's key and value: the fields of each and their formats."""

    key_fields: tuple[str, ...]  # table column names
    key_prefix: str
    value_fields: tuple[str, ...]
    key_format: str | None
    value_format: str
    value_prefix: str  # "" for 'format', "value." for 'value.format'

    def key_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        """The key's fields as the key record names them (without ``key.fields-prefix``)."""
        by_name = {f.name: f for f in columns}
        return [Field(n[len(self.key_prefix) :], by_name[n].type) for n in self.key_fields]

    def value_record_fields(self, columns: Sequence[Field]) -> list[Field]:
        by_name = {f.name: f for f in columns}
        return [by_name[n] for n in self.value_fields]


def make_codec(bag: OptionBag, physical: Sequence[Field], primary_key: Sequence[str], upsert: bool) -> Codec:
    where = bag.where
    names = [f.name for f in physical]
    value_format = bag.get("value.format")
    value_prefix = "value."
    if value_format is None:
        value_format = bag.get("format")
        value_prefix = ""
    elif bag.has("format"):
        raise OptionError(f"{where}: set either 'format' or 'value.format', not both")
    if value_format is None:
        raise OptionError(
            f"{where}: the Kafka connector needs a value format",
            hint="add 'value.format' = 'json' (or 'format' = 'json'; csv and raw work too)",
        )
    key_format = bag.get("key.format")
    key_prefix = bag.get("key.fields-prefix") or ""
    key_fields_text = bag.get("key.fields")
    if upsert:
        if key_fields_text:
            raise OptionError(
                f"{where}: upsert-kafka takes its key from the PRIMARY KEY; 'key.fields' is not allowed"
            )
        if not primary_key:
            raise OptionError(
                f"{where}: connector 'upsert-kafka' requires a PRIMARY KEY",
                hint="declare PRIMARY KEY (...) NOT ENFORCED",
            )
        if key_format is None:
            raise OptionError(
                f"{where}: connector 'upsert-kafka' needs 'key.format'", hint="add 'key.format' = 'json'"
            )
        key_fields = tuple(primary_key)
    else:
        key_fields = tuple(k.strip() for k in (key_fields_text or "").split(";") if k.strip())
        if key_fields and key_format is None:
            raise OptionError(f"{where}: 'key.fields' needs 'key.format'", hint="add 'key.format' = 'json'")
        if key_format is not None and not key_fields:
            raise OptionError(
                f"{where}: 'key.format' needs 'key.fields' (the columns that make the key)",
                hint="add 'key.fields' = 'col1;col2'",
            )
    for k in key_fields:
        if k not in names:
            raise OptionError(f"{where}: key field '{k}' is not a physical column of the table")
        if not k.startswith(key_prefix):
            raise OptionError(
                f"{where}: key field '{k}' does not start with 'key.fields-prefix' '{key_prefix}'"
            )
    include = (bag.get("value.fields-include") or "ALL").upper()
    if include not in ("ALL", "EXCEPT_KEY"):
        raise OptionError(f"{where}: 'value.fields-include' = '{include}' is not ALL or EXCEPT_KEY")
    if key_prefix and include != "EXCEPT_KEY":
        raise OptionError(
            f"{where}: 'key.fields-prefix' needs 'value.fields-include' = 'EXCEPT_KEY'",
            hint="Flink's rule: a prefixed key column cannot be part of the value",
        )
    value_fields = tuple(n for n in names if include == "ALL" or n not in key_fields)
    return Codec(key_fields, key_prefix, value_fields, key_format, value_format.lower(), value_prefix)
