import datetime as dt
import decimal
import json

import pyarrow as pa
import pytest

from catalog.options import OptionBag
from runtime.formats import FormatError, create_decoder, create_encoder

from .helpers import fields


def bag(**options: str) -> OptionBag:
    return OptionBag({k.replace("_", "-"): v for k, v in options.items()}, "table 't'")


def opts(options: dict[str, str]) -> OptionBag:
    return OptionBag(options, "table 't'")


COLS = fields("id BIGINT", "name STRING", "ts TIMESTAMP(3)", "price DECIMAL(10, 2)", "ok BOOLEAN")


def good(i: int) -> bytes:
    return json.dumps(
        {"id": i, "name": f"n{i}", "ts": "2020-04-15 08:05:00.123", "price": 1.5, "ok": True}
    ).encode()


# ---- JSON --------------------------------------------------------------------------------


def test_json_decodes_a_chunk_in_column_types() -> None:
    dec = create_decoder("json", COLS, opts({}))
    out = dec.decode([good(i) for i in range(100)])
    assert out.kept is None and out.skipped == 0
    assert out.batch.num_rows == 100
    assert out.batch.schema.field("ts").type == pa.timestamp("us")
    row = out.batch.slice(7, 1).to_pylist()[0]
    assert row == {
        "id": 7,
        "name": "n7",
        "ts": dt.datetime(2020, 4, 15, 8, 5, 0, 123000),
        "price": decimal.Decimal("1.50"),
        "ok": True,
    }


def test_json_accepts_iso_timestamps_and_flink_lenient_values() -> None:
    cols = fields("a INT", "s STRING", "ts TIMESTAMP(3)", "z TIMESTAMP_LTZ(3)", "d DATE", "b BYTES")
    dec = create_decoder("json", cols, opts({}))
    records = [
        b'{"a": "12", "s": 5, "ts": "2020-04-15T08:05:00Z", "z": "2020-04-15 08:05:00Z", '
        b'"d": "2020-04-15", "b": "AQI="}',
        b'{"a": 1, "s": {"x": [1]}, "ts": "2020-04-15 08:05:00", "z": "2020-04-15T08:05:00.5Z"}',
    ] * 20
    out = dec.decode(records)
    rows = out.batch.to_pylist()
    assert rows[0]["a"] == 12 and rows[0]["s"] == "5"
    assert rows[0]["ts"] == dt.datetime(2020, 4, 15, 8, 5)
    assert rows[0]["z"] == dt.datetime(2020, 4, 15, 8, 5, tzinfo=dt.UTC)
    assert rows[0]["d"] == dt.date(2020, 4, 15) and rows[0]["b"] == b"\x01\x02"
    assert rows[1]["s"] == '{"x":[1]}' and rows[1]["d"] is None
    assert rows[1]["z"] == dt.datetime(2020, 4, 15, 8, 5, 0, 500000, tzinfo=dt.UTC)
    assert out.skipped == 0 and len(rows) == 40


def test_bisect_finds_the_exact_bad_lines_in_10k_records() -> None:
    bad_at = [0, 37, 38, 5000, 7777, 9999]
    records = [good(i) for i in range(10_000)]
    for k in bad_at:
        records[k] = b'{"id": 1, "name": ' if k % 2 else b"not json at all"
    records[4242] = b'{"id": "forty-two"}'  # wrong type: the row is kept, id NULL (Flink)
    dec = create_decoder("json", COLS, opts({"json.ignore-parse-errors": "true"}))
    out = dec.decode(records, where=lambda i: f"f.json, line {i + 1}")
    assert out.skipped == len(bad_at) and out.nulled == 1
    assert out.null_messages[0].startswith("f.json, line 4243: field 'id'")
    assert out.batch.num_rows == 10_000 - len(bad_at)
    assert out.kept is not None
    assert sorted(set(range(10_000)) - set(out.kept.tolist())) == bad_at
    assert out.batch.column("id").to_pylist() == [
        None if i == 4242 else i for i in range(10_000) if i not in bad_at
    ]
    assert [m.split(":")[0] for m in out.messages] == [f"f.json, line {k + 1}" for k in bad_at]


def test_bad_record_fails_with_where_when_not_ignored() -> None:
    records = [good(i) for i in range(1000)]
    records[617] = b'{"id": 1,,}'
    dec = create_decoder("json", COLS, opts({}))
    with pytest.raises(FormatError) as e:
        dec.decode(records, where=lambda i: f"data.json, line {i + 1}")
    assert "data.json, line 618" in str(e.value)
    assert "json.ignore-parse-errors" in str(e.value)


def test_fail_on_missing_field() -> None:
    records = [good(i) for i in range(50)] + [b'{"id": 1, "name": null, "ts": null, "price": null}']
    dec = create_decoder("json", COLS, opts({"json.fail-on-missing-field": "true"}))
    with pytest.raises(FormatError, match="field 'ok' is missing"):
        dec.decode(records, where=lambda i: f"line {i + 1}")
    # explicit nulls are not missing
    ok = create_decoder("json", COLS, opts({"json.fail-on-missing-field": "true"}))
    out = ok.decode([b'{"id": 1, "name": null, "ts": null, "price": null, "ok": null}'] * 30)
    assert out.batch.num_rows == 30
    # missing fields are NULL by default
    lax = create_decoder("json", COLS, opts({}))
    assert lax.decode([b'{"id": 3}'] * 30).batch.column("name").null_count == 30


def test_both_error_options_true_is_refused() -> None:
    with pytest.raises(FormatError, match="cannot both be true"):
        create_decoder(
            "json", COLS, opts({"json.fail-on-missing-field": "true", "json.ignore-parse-errors": "true"})
        )


def test_not_null_column_rejects_nulls_as_bad_records() -> None:
    cols = fields("id BIGINT NOT NULL", "name STRING")
    dec = create_decoder("json", cols, opts({"json.ignore-parse-errors": "true"}))
    records = [b'{"id": 1, "name": "a"}'] * 40 + [b'{"name": "b"}'] + [b'{"id": 2}'] * 40
    out = dec.decode(records)
    assert out.skipped == 1 and out.batch.num_rows == 80
    assert "NOT NULL" in out.messages[0]


def test_tombstones_are_dropped_not_counted() -> None:
    dec = create_decoder("json", COLS, opts({}))
    records: list[bytes | None] = [good(i) for i in range(40)]
    records[3] = None
    out = dec.decode(records)
    assert out.skipped == 0 and out.batch.num_rows == 39
    assert out.kept is not None and 3 not in out.kept.tolist()


def test_json_record_spanning_lines() -> None:
    dec = create_decoder("json", COLS, opts({}))
    records = [b'{"id": 1,\n "name": "x"}'] * 40
    assert dec.decode(records).batch.column("name").to_pylist() == ["x"] * 40


def test_json_encoder_writes_flink_formats() -> None:
    cols = fields(
        "id INT",
        "ts TIMESTAMP(3)",
        "z TIMESTAMP_LTZ(3)",
        "p DECIMAL(10, 2)",
        "b BYTES",
        "x DOUBLE",
        "s STRING",
    )
    batch = pa.record_batch(
        [
            pa.array([1, None], pa.int32()),
            pa.array([dt.datetime(2020, 4, 15, 8, 5, 0, 123000), dt.datetime(2020, 4, 15, 8, 5)]),
            pa.array([dt.datetime(2020, 4, 15, 8, 5, tzinfo=dt.UTC)] * 2, pa.timestamp("us", "UTC")),
            pa.array([decimal.Decimal("1.50"), None], pa.decimal128(10, 2)),
            pa.array([b"\x01\x02", None]),
            pa.array([float("nan"), 2.5]),
            pa.array(['a "quoted"\nline', None]),
        ],
        names=[c.name for c in cols],
    )
    enc = create_encoder("json", cols, opts({}))
    records = enc.encode_records(batch)
    assert records[0] == (
        b'{"id":1,"ts":"2020-04-15 08:05:00.123","z":"2020-04-15 08:05:00Z","p":1.5,'
        b'"b":"AQI=","x":"NaN","s":"a \\"quoted\\"\\nline"}'
    )
    assert records[1] == (
        b'{"id":null,"ts":"2020-04-15 08:05:00","z":"2020-04-15 08:05:00Z","p":null,'
        b'"b":null,"x":2.5,"s":null}'
    )
    assert enc.encode_chunk(batch) == records[0] + b"\n" + records[1] + b"\n"
    iso = create_encoder("json", cols, opts({"json.timestamp-format.standard": "ISO-8601"}))
    assert b'"ts":"2020-04-15T08:05:00.123","z":"2020-04-15T08:05:00Z"' in iso.encode_records(batch)[0]
    # and what the encoder writes, the decoder reads back
    dec = create_decoder("json", cols[:-2] + cols[-1:], opts({}))
    back = dec.decode(records * 20).batch
    assert back.column("ts").to_pylist()[:2] == batch.column("ts").to_pylist()
    assert back.column("s").to_pylist()[:2] == batch.column("s").to_pylist()
    assert back.column("b").to_pylist()[:2] == batch.column("b").to_pylist()


# ---- CSV ---------------------------------------------------------------------------------


CSV_COLS = fields("id INT", "name STRING", "ts TIMESTAMP(3)", "x DOUBLE")


def test_csv_options_and_bisect() -> None:
    options = {
        "csv.field-delimiter": ";",
        "csv.quote-character": "'",
        "csv.null-literal": "N/A",
        "csv.allow-comments": "true",
        "csv.ignore-parse-errors": "true",
    }
    dec = create_decoder("csv", CSV_COLS, opts(options))
    lines = [f"{i};'n;{i}';2020-04-15 08:05:00.5;{i}.5".encode() for i in range(1000)]
    lines[10] = b"# a comment"
    lines[20] = b"x;a;2020-04-15 08:05:00;1"  # bad int: NULL, the row kept (Flink)
    lines[30] = b"1;a"  # too few fields: the missing ones NULL (Flink)
    lines[40] = b"N/A;N/A;N/A;N/A"
    lines[50] = b"1;a;2020-04-15 08:05:00;1;2"  # too many fields: skipped
    out = dec.decode(lines, where=lambda i: f"f.csv, line {i + 1}")
    assert out.skipped == 1 and out.nulled == 2
    assert [m.split(":")[0] for m in out.messages] == ["f.csv, line 51"]
    assert [m.split(":")[0] for m in out.null_messages] == ["f.csv, line 21", "f.csv, line 31"]
    assert out.batch.num_rows == 998
    rows = out.batch.to_pylist()
    assert rows[0] == {"id": 0, "name": "n;0", "ts": dt.datetime(2020, 4, 15, 8, 5, 0, 500000), "x": 0.5}
    assert {"id": None, "name": None, "ts": None, "x": None} in rows
    assert rows[19] == {"id": None, "name": "a", "ts": dt.datetime(2020, 4, 15, 8, 5), "x": 1.0}
    assert rows[29] == {"id": 1, "name": "a", "ts": None, "x": None}


@pytest.mark.parametrize("zoned", [(), (7,), (0, 99)])
def test_csv_timestamps_read_with_or_without_a_trailing_z(zoned: tuple[int, ...]) -> None:
    """A trailing ``Z`` (ISO-8601, UTC) is stripped only in a batch that has one: the
    batches without (every csv file Flink writes) must read the same."""
    dec = create_decoder("csv", CSV_COLS, opts({}))
    lines = [f"{i},a,2020-04-15T08:05:{i % 60:02d}.25,1.0".encode() for i in range(100)]
    for i in zoned:
        lines[i] = lines[i].replace(b".25,", b".25Z,")
    out = dec.decode(lines)
    assert out.skipped == 0 and out.nulled == 0
    assert [r["ts"] for r in out.batch.to_pylist()] == [
        dt.datetime(2020, 4, 15, 8, 5, i % 60, 250000) for i in range(100)
    ]


def test_csv_bad_record_fails_naming_the_line() -> None:
    dec = create_decoder("csv", CSV_COLS, opts({}))
    lines = [b"1,a,2020-04-15 08:05:00,1.0"] * 100
    lines[55] = b"1,a,yesterday,1.0"
    with pytest.raises(FormatError, match=r"f\.csv, line 56"):
        dec.decode(lines, where=lambda i: f"f.csv, line {i + 1}")


def test_csv_roundtrip_with_quoting_and_nulls() -> None:
    batch = pa.record_batch(
        [
            pa.array([1, 2, None], pa.int32()),
            pa.array(["a,b", 'say "hi"', None]),
            pa.array([dt.datetime(2020, 4, 15, 8, 5), None, dt.datetime(2020, 1, 1, 0, 0, 0, 1000)]),
            pa.array([1.0, None, 1e20]),
        ],
        names=[c.name for c in CSV_COLS],
    )
    enc = create_encoder("csv", CSV_COLS, opts({"csv.null-literal": "\\N"}))
    chunk = enc.encode_chunk(batch)
    assert chunk.split(b"\n")[0] == b'1,"a,b","2020-04-15 08:05:00",1.0'  # Jackson quotes a space
    assert chunk.split(b"\n")[1] == b'2,"say ""hi""",\\N,\\N'
    dec = create_decoder("csv", CSV_COLS, opts({"csv.null-literal": "\\N"}))
    back = dec.decode(chunk.split(b"\n")[:-1]).batch
    assert back.to_pylist() == batch.to_pylist()
    # without a null literal, a NULL string reads back as '' (as in Flink)
    plain = create_encoder("csv", CSV_COLS, opts({}))
    assert plain.encode_records(batch)[2] == b',,"2020-01-01 00:00:00.001",1.0E20'


def test_csv_tab_delimiter_and_header() -> None:
    enc = create_encoder("csv", CSV_COLS, opts({"csv.field-delimiter": "\\t", "csv.header": "true"}))
    assert enc.file_header() == b"id\tname\tts\tx\n"
    dec = create_decoder("csv", CSV_COLS, opts({"csv.field-delimiter": "\\t", "csv.header": "true"}))
    assert dec.header_lines == 1
    assert dec.decode([b"1\ta\t2020-04-15 08:05:00\t2"] * 20).batch.num_rows == 20


def test_csv_refuses_nested_columns() -> None:
    with pytest.raises(FormatError, match="cannot represent column 'a'"):
        create_decoder("csv", fields("a ARRAY<INT>"), opts({}))


# ---- raw and lookup ----------------------------------------------------------------------


def test_raw_string_and_bytes() -> None:
    dec = create_decoder("raw", fields("line STRING"), opts({}))
    out = dec.decode([b"hello", None, b"\xff oops"] * 10)
    assert out.batch.column(0).to_pylist()[:3] == ["hello", None, "\ufffd oops"]
    enc = create_encoder("raw", fields("line STRING"), opts({}))
    assert enc.encode_records(out.batch.slice(0, 2)) == [b"hello", None]
    bdec = create_decoder("raw", fields("b BYTES"), opts({}))
    assert bdec.decode([b"\x00\x01"] * 20).batch.column(0).to_pylist()[0] == b"\x00\x01"
    with pytest.raises(FormatError, match="exactly one column"):
        create_decoder("raw", fields("a INT", "b INT"), opts({}))


def test_raw_numbers_in_either_byte_order() -> None:
    dec = create_decoder("raw", fields("n INT"), opts({}))
    records = [(7).to_bytes(4, "big"), None, (-2).to_bytes(4, "big", signed=True)] * 10
    out = dec.decode(records)
    assert out.batch.column(0).to_pylist()[:3] == [7, None, -2]
    enc = create_encoder("raw", fields("n INT"), opts({"raw.endianness": "little-endian"}))
    assert enc.encode_records(out.batch.slice(0, 3)) == [b"\x07\0\0\0", None, b"\xfe\xff\xff\xff"]
    with pytest.raises(FormatError, match="takes 4 bytes"):
        dec.decode([b"\x00\x01", *records])
    flags = create_decoder(
        "raw",
        fields(
            "b BOOLEAN",
        ),
        opts({}),
    ).decode([b"\x01", b"\x00"] * 10)
    assert flags.batch.column(0).to_pylist()[:2] == [True, False]


def test_unknown_and_file_only_formats() -> None:
    with pytest.raises(FormatError, match="did you mean 'json'"):
        create_decoder("jsn", COLS, opts({}))
    with pytest.raises(FormatError, match="no per-record form"):
        create_encoder("parquet", COLS, opts({}))


def test_prefixed_options_for_kafka_keys() -> None:
    options = opts({"value.json.ignore-parse-errors": "true"})
    dec = create_decoder("json", COLS, options, prefix="value.")
    assert dec.decode([b"garbage"] * 3 + [good(1)] * 20).skipped == 3


def test_csv_values_with_line_breaks_kafka_style() -> None:
    dec = create_decoder("csv", fields("id INT", "s STRING"), opts({}))
    assert dec.decode([b"1,a\n", b"2,b\r\n"] * 20).batch.column("s").to_pylist()[:2] == ["a", "b"]
    assert dec.decode([b'1,"a\nb"'] * 20).batch.column("s").to_pylist()[0] == "a\nb"


def test_lenient_values_everywhere_skip_the_bisection() -> None:
    dec = create_decoder("json", fields("id BIGINT"), opts({}))
    records = [b'{"id": "%d"}' % i for i in range(5000)]  # numbers in quotes: Flink accepts them
    fails = []
    for _ in range(3):
        out = dec.decode(records)
        assert out.batch.column("id").to_pylist() == list(range(5000))
        fails.append(dec._bulk_fails)
    assert fails[1] == 1 and fails[0] == fails[2] <= 32  # no bisection after a slow chunk
    assert dec.decode([b'{"id": %d}' % i for i in range(5000)]).kept is None


def test_json_keeps_every_digit_of_a_wide_decimal_beside_a_bad_record() -> None:
    # A bad record sends its batch through the per-record reader, whose rounding ran in
    # Python's default 28-digit context: a 32-digit DECIMAL(38, 2) was "cannot read".
    cols = fields("id BIGINT", "d DECIMAL(38, 2)")
    records = [
        b'{"id": 1, "d": 12345678901234567890123456789012.12}',
        b'{"id": 2, "d": "-99999999999999999999999999999999.99"}',
        b"not json",
    ]
    out = create_decoder("json", cols, opts({"json.ignore-parse-errors": "true"})).decode(records)
    assert out.skipped == 1 and out.nulled == 0
    assert out.batch.column("d").to_pylist() == [
        decimal.Decimal("12345678901234567890123456789012.12"),
        decimal.Decimal("-99999999999999999999999999999999.99"),
    ]
