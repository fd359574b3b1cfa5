"""The avro format: Flink's schema for the table's columns, records that fastavro (an
independent Avro implementation) reads with that schema, container files with each codec."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import os
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pytest

from catalog.connectors.avro import avro_schema
from catalog.options import OptionBag
from catalog.types import parse_type
from runtime.formats import FormatError, create_decoder, create_encoder
from sqlstream.session import Session
from tests.unit.connectors.helpers import fields

COLS = fields(
    "id BIGINT NOT NULL",
    "name STRING",
    "price DECIMAL(10, 2)",
    "ts TIMESTAMP(3)",
    "day DATE",
    "tags MAP<STRING, INT>",
    "addr ROW<city STRING, zips ARRAY<INT>>",
    "raw BYTES",
    "small TINYINT",
)

# What Flink's AvroSchemaConverter.convertToSchema derives for COLS (written out by hand).
FLINK_SCHEMA = {
    "type": "record",
    "name": "org.apache.flink.avro.generated.record",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"], "default": None},
        {
            "name": "price",
            "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}],
            "default": None,
        },
        {
            "name": "ts",
            "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            "default": None,
        },
        {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}], "default": None},
        {"name": "tags", "type": ["null", {"type": "map", "values": ["null", "int"]}], "default": None},
        {
            "name": "addr",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "org.apache.flink.avro.generated.record_addr",
                    "fields": [
                        {"name": "city", "type": ["null", "string"], "default": None},
                        {
                            "name": "zips",
                            "type": ["null", {"type": "array", "items": ["null", "int"]}],
                            "default": None,
                        },
                    ],
                },
            ],
            "default": None,
        },
        {"name": "raw", "type": ["null", "bytes"], "default": None},
        {"name": "small", "type": ["null", "int"], "default": None},
    ],
}

ROW: dict[str, Any] = {
    "id": 7,
    "name": "ü",
    "price": decimal.Decimal("12.50"),
    "ts": dt.datetime(2024, 5, 1, 7, 30, 0, 123000),
    "day": dt.date(2024, 5, 1),
    "tags": [("a", 1), ("b", None)],
    "addr": {"city": "Oslo", "zips": [1, None]},
    "raw": b"\x00\xff",
    "small": -3,
}
EMPTY = {"id": 8, **{k: None for k in ROW if k != "id"}}


def bag(**options: str) -> OptionBag:
    return OptionBag(options, "table 't'")


def test_the_schema_is_flinks() -> None:
    assert avro_schema([(f.name, parse_type(f.type)) for f in COLS]) == FLINK_SCHEMA


def test_records_are_avro_data_of_that_schema_and_decode_back() -> None:
    batch = pa.RecordBatch.from_pylist([ROW, EMPTY], schema=create_decoder("avro", COLS, bag()).schema)
    records = create_encoder("avro", COLS, bag()).encode_records(batch)
    schema = fastavro.parse_schema(FLINK_SCHEMA)
    first = fastavro.schemaless_reader(io.BytesIO(records[0]), schema, None)
    assert first["tags"] == {"a": 1, "b": None} and first["price"] == decimal.Decimal("12.50")
    assert first["ts"] == dt.datetime(2024, 5, 1, 7, 30, 0, 123000, tzinfo=dt.UTC)
    # and what fastavro writes with Flink's schema, the decoder reads
    theirs = io.BytesIO()
    fastavro.schemaless_writer(theirs, schema, {**first, "id": 9})
    decoded = create_decoder("avro", COLS, bag()).decode([*records, theirs.getvalue()])
    assert decoded.batch.to_pylist() == [ROW, EMPTY, {**ROW, "id": 9}]


def test_a_bad_record_fails_naming_it() -> None:
    good = create_encoder("avro", COLS, bag()).encode_records(
        pa.RecordBatch.from_pylist([EMPTY] * 40, schema=create_decoder("avro", COLS, bag()).schema)
    )
    records = [*good[:30], good[0] + b"\x00", *good[30:]]  # one byte too many in record 31
    with pytest.raises(FormatError, match=r"offset 31: 1 bytes follow the Avro datum"):
        create_decoder("avro", COLS, bag()).decode(records, where=lambda i: f"offset {i + 1}")
    too_big = io.BytesIO()
    fastavro.schemaless_writer(too_big, fastavro.parse_schema(FLINK_SCHEMA), {**EMPTY, "small": 300})
    with pytest.raises(FormatError, match="300 is out of range for TINYINT"):
        create_decoder("avro", COLS, bag()).decode([too_big.getvalue()])


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "bzip2", "xz", "zstandard"])
def test_files_are_container_files_with_the_codec(tmp_path: Path, codec: str) -> None:
    s = Session()
    cols = "id BIGINT, name STRING, ts TIMESTAMP(3)"
    s.execute(
        f"CREATE TABLE src ({cols}) WITH ('connector' = 'datagen', 'number-of-rows' = '2000', "
        "'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '2000')"
    )
    s.execute(
        f"CREATE TABLE out ({cols}) WITH ('connector' = 'filesystem', 'path' = '{tmp_path}', "
        f"'format' = 'avro', 'avro.codec' = '{codec}')"
    )
    job = s.execute("INSERT INTO out SELECT * FROM src").job
    assert job is not None and job.wait(60) and job.error is None
    (name,) = os.listdir(tmp_path)
    assert name.endswith(".avro")
    with open(tmp_path / name, "rb") as f:
        reader = fastavro.reader(f)
        assert reader.codec == codec
        ids = sorted(r["id"] for r in reader)  # type: ignore[index]
    assert ids == list(range(1, 2001))
    assert sorted(r[0] for r in s.sql("SELECT id FROM out").fetchall()) == ids


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ("ts TIMESTAMP", "TIMESTAMP type with precision 6"),
        ("ts TIMESTAMP_LTZ(3)", "legacy timestamp mapping"),
        ("t TIME(6)", "TIME type with precision 6"),
        ("m MAP<INT, STRING>", "non-string as key type of map"),
    ],
)
def test_types_avro_cannot_hold_are_refused_at_create(tmp_path: Path, columns: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        Session().execute(
            f"CREATE TABLE t ({columns}) WITH ('connector' = 'filesystem', 'path' = '{tmp_path}', "
            "'format' = 'avro')"
        )


def test_the_modern_timestamp_mapping() -> None:
    columns = [("a", parse_type("TIMESTAMP(6)")), ("b", parse_type("TIMESTAMP_LTZ(3)"))]
    got = [f["type"][1]["logicalType"] for f in avro_schema(columns, legacy=False)["fields"]]
    assert got == ["local-timestamp-micros", "timestamp-millis"]
    ltz = fields("b TIMESTAMP_LTZ(3)")
    modern = {"avro.timestamp_mapping.legacy": "false"}
    schema = create_decoder("avro", ltz, bag(**modern)).schema
    batch = pa.RecordBatch.from_pylist([{"b": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}], schema=schema)
    record = create_encoder("avro", ltz, bag(**modern)).encode_records(batch)
    back = create_decoder("avro", ltz, bag(**modern)).decode(record)
    assert back.batch.to_pylist() == batch.to_pylist()


def test_schema_registry_formats_are_refused_by_name() -> None:
    with pytest.raises(Exception, match=r"avro-confluent format \('value.format'\) is not supported"):
        Session().execute(
            "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'topic' = 't', "
            "'properties.bootstrap.servers' = 'h:1', 'value.format' = 'avro-confluent')"
        )


def test_times_before_the_epoch_and_times_of_day_keep_their_values() -> None:
    cols = fields("ts TIMESTAMP(3)", "t TIME(3)", "d DATE")
    row = {"ts": dt.datetime(1969, 12, 31, 23, 59, 59, 999000), "t": dt.time(10, 11, 12, 345000),
           "d": dt.date(1901, 2, 3)}  # fmt: skip
    schema = create_decoder("avro", cols, bag()).schema
    records = create_encoder("avro", cols, bag()).encode_records(
        pa.RecordBatch.from_pylist([row, {}], schema=schema)
    )
    theirs = fastavro.parse_schema(avro_schema([(f.name, parse_type(f.type)) for f in cols]))
    assert fastavro.schemaless_reader(io.BytesIO(records[0]), theirs, None) == {
        **row,
        "ts": row["ts"].replace(tzinfo=dt.UTC),
    }
    assert create_decoder("avro", cols, bag()).decode(records).batch.to_pylist() == [
        row,
        {"ts": None, "t": None, "d": None},
    ]
