"""debezium-json, canal-json and maxwell-json: the samples of Flink's format pages (which
are Debezium's, Canal's and Maxwell's own) decode to the changelogs those pages document,
and rows encode as Flink's serializers write them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from catalog.options import OptionBag
from planner.physical import ROW_KIND_COLUMN, Field
from runtime.formats import FormatError, create_changelog_decoder, create_encoder

PRODUCTS = (
    Field("id", "BIGINT"),
    Field("name", "STRING"),
    Field("description", "STRING"),
    Field("weight", "DECIMAL(10, 2)"),
)
KINDS = {0: "+I", 1: "-U", 2: "+U", 3: "-D"}
SCOOTER = "Big 2-wheel scooter"


def decode(fmt: str, records: list[bytes | None], **options: str) -> list[tuple[Any, ...]]:
    d = create_changelog_decoder(fmt, PRODUCTS, OptionBag(dict(options), "table 't'"))
    got = d.decode(records)
    return [
        (KINDS[r[ROW_KIND_COLUMN]], r["id"], r["name"], r["description"], r["weight"])
        for r in got.batch.to_pylist()
    ]


DEBEZIUM_UPDATE = {
    "before": {"id": 111, "name": "scooter", "description": SCOOTER, "weight": 5.18},
    "after": {"id": 111, "name": "scooter", "description": SCOOTER, "weight": 5.15},
    "source": {"version": "1.1.1.Final", "connector": "mysql", "name": "dbserver1", "db": "inventory",
               "table": "products", "server_id": 223344, "file": "mysql-bin.000003", "pos": 2090},
    "op": "u",
    "ts_ms": 1589362330904,
    "transaction": None,
}  # fmt: skip


def test_debezium_update_is_update_before_and_after() -> None:
    assert decode("debezium-json", [json.dumps(DEBEZIUM_UPDATE).encode()]) == [
        ("-U", 111, "scooter", SCOOTER, Decimal("5.18")),
        ("+U", 111, "scooter", SCOOTER, Decimal("5.15")),
    ]


def test_debezium_with_schema_reads_the_payload() -> None:
    record = {"schema": {"type": "struct", "fields": [], "optional": False}, "payload": DEBEZIUM_UPDATE}
    rows = decode("debezium-json", [json.dumps(record).encode()], **{"debezium-json.schema-include": "true"})
    assert [r[0] for r in rows] == ["-U", "+U"]


def test_debezium_create_read_delete_and_tombstones() -> None:
    row = {"id": 1, "name": "n", "description": None, "weight": 1}
    records = [
        json.dumps({"before": None, "after": row, "op": "c"}).encode(),
        json.dumps({"before": None, "after": row, "op": "r"}).encode(),  # a snapshot read
        json.dumps({"before": row, "after": None, "op": "d"}).encode(),
        None,  # Kafka's tombstone after a delete: no change
    ]
    assert [r[:2] for r in decode("debezium-json", records)] == [("+I", 1), ("+I", 1), ("-D", 1)]


def test_debezium_delete_without_before_names_replica_identity() -> None:
    record = json.dumps({"before": None, "after": None, "op": "d"}).encode()
    with pytest.raises(FormatError, match="REPLICA IDENTITY to FULL") as e:
        decode("debezium-json", [record])
    assert "debezium-json.ignore-parse-errors" in (e.value.hint or "")


def test_bad_records_are_skipped_and_counted_when_ignored() -> None:
    d = create_changelog_decoder(
        "debezium-json", PRODUCTS, OptionBag({"debezium-json.ignore-parse-errors": "true"}, "t")
    )
    good = json.dumps({"after": {"id": 2}, "op": "c"}).encode()
    got = d.decode([b"{not json", json.dumps({"op": "x"}).encode(), good])
    assert got.skipped == 2 and got.bad == [0, 1] and got.kept is not None and got.kept.tolist() == [2]
    assert 'unknown "op" value "x"' in got.messages[1]


CANAL_UPDATE = {
    "data": [{"id": "111", "name": "scooter", "description": SCOOTER, "weight": "5.18"}],
    "database": "inventory",
    "es": 1589373560000,
    "id": 9,
    "isDdl": False,
    "mysqlType": {"id": "int(11)", "name": "varchar(255)", "description": "varchar(512)", "weight": "float"},
    "old": [{"weight": "5.15"}],
    "pkNames": ["id"],
    "sql": "",
    "sqlType": {"id": 4, "name": 12, "description": 12, "weight": 7},
    "table": "products",
    "ts": 1589373560798,
    "type": "UPDATE",
}


def test_canal_update_merges_old_over_data() -> None:
    assert decode("canal-json", [json.dumps(CANAL_UPDATE).encode()]) == [
        ("-U", 111, "scooter", SCOOTER, Decimal("5.15")),
        ("+U", 111, "scooter", SCOOTER, Decimal("5.18")),
    ]


def test_canal_insert_of_many_rows_ddl_and_table_filter() -> None:
    insert = {**CANAL_UPDATE, "type": "INSERT", "old": None,
              "data": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]}  # fmt: skip
    ddl = {"data": None, "database": "inventory", "table": "products", "type": "CREATE", "isDdl": True}
    other = {**insert, "table": "orders"}
    records = [json.dumps(r).encode() for r in (insert, ddl, other)]
    rows = decode("canal-json", records, **{"canal-json.table.include": "prod.*"})
    assert [r[:3] for r in rows] == [("+I", 1, "a"), ("+I", 2, "b")]


MAXWELL_UPDATE = {
    "database": "test",
    "table": "product",
    "type": "update",
    "ts": 1596684904,
    "xid": 7201,
    "commit": True,
    "data": {"id": 111, "name": "scooter", "description": SCOOTER, "weight": 5.18},
    "primary_key_columns": ["id"],
    "old": {"weight": 5.15},
}


def test_maxwell_update_and_an_explicit_null_in_old() -> None:
    assert decode("maxwell-json", [json.dumps(MAXWELL_UPDATE).encode()]) == [
        ("-U", 111, "scooter", SCOOTER, Decimal("5.15")),
        ("+U", 111, "scooter", SCOOTER, Decimal("5.18")),
    ]
    was_null = {**MAXWELL_UPDATE, "old": {"description": None}}
    before = decode("maxwell-json", [json.dumps(was_null).encode()])[0]
    assert before == ("-U", 111, "scooter", None, Decimal("5.18"))


def _changes() -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "id": [1, 1, 1, 1],
            "name": ["a", "a", "b", "b"],
            "description": [None] * 4,
            "weight": pa.array([Decimal("1.50")] * 4, pa.decimal128(10, 2)),
            ROW_KIND_COLUMN: pa.array([0, 1, 2, 3], pa.int8()),
        }
    )


@pytest.mark.parametrize(
    ("fmt", "insert", "delete"),
    [
        (
            "debezium-json",
            '{{"before":null,"after":{row},"op":"c"}}',
            '{{"before":{row},"after":null,"op":"d"}}',
        ),
        ("canal-json", '{{"data":[{row}],"type":"INSERT"}}', '{{"data":[{row}],"type":"DELETE"}}'),
        ("maxwell-json", '{{"data":{row},"type":"insert"}}', '{{"data":{row},"type":"delete"}}'),
    ],
)
def test_encoding_writes_inserts_for_plus_rows_and_deletes_for_minus_rows(
    fmt: str, insert: str, delete: str
) -> None:
    enc = create_encoder(fmt, PRODUCTS, OptionBag({}, "t"))
    a = '{"id":1,"name":"a","description":null,"weight":1.5}'
    b = '{"id":1,"name":"b","description":null,"weight":1.5}'
    got = [v.decode() for v in enc.encode_records(_changes()) if v is not None]
    assert got == [insert.format(row=a), delete.format(row=a), insert.format(row=b), delete.format(row=b)]
    # read back, Flink's way: +U comes back as +I and -U as -D
    kinds = [r[0] for r in decode(fmt, [g.encode() for g in got])]
    assert kinds == ["+I", "-D", "+I", "-D"]


def test_writing_debezium_with_a_schema_is_refused() -> None:
    with pytest.raises(FormatError, match="schema-include"):
        create_encoder("debezium-json", PRODUCTS, OptionBag({"debezium-json.schema-include": "true"}, "t"))


def _plan(ddl: str, sql: str) -> str:
    import planner
    from catalog import Catalog

    cat = Catalog()
    for text in (
        ddl,
        "CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')",
    ):
        for statement in planner.parse(text):
            cat.create(planner.create_table(statement, cat))
    return planner.explain(sql, cat, {})


KAFKA = (
    "'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'b:9092', "
    "'scan.startup.mode' = 'earliest-offset'"
)


def test_a_kafka_table_in_debezium_json_is_read_as_a_changelog_and_takes_one() -> None:
    ddl = f"CREATE TABLE t (k BIGINT, c BIGINT) WITH ({KAFKA}, 'value.format' = 'debezium-json')"
    scan = _plan(ddl, "SELECT * FROM t")
    assert "changelogMode=[I,UB,UA,D]" in next(x for x in scan.splitlines() if "TableSourceScan" in x)
    sink = _plan(ddl, "INSERT INTO t SELECT k, COUNT(*) FROM src GROUP BY k")
    assert "Sink(table=[t]" in sink


def test_an_updating_query_into_plain_json_kafka_is_still_refused() -> None:
    from catalog.errors import SqlStreamError

    ddl = f"CREATE TABLE t (k BIGINT, c BIGINT) WITH ({KAFKA}, 'value.format' = 'json')"
    with pytest.raises(SqlStreamError, match="doesn't support consuming update changes"):
        _plan(ddl, "INSERT INTO t SELECT k, COUNT(*) FROM src GROUP BY k")


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        (f"CREATE TABLE t (k BIGINT) WITH ({KAFKA}, 'value.format' = 'debezium-json', 'key.format' = 'json', "
         "'key.fields' = 'k')", "with a 'key.format' is not supported yet"),
        (f"CREATE TABLE t (k BIGINT) WITH ({KAFKA}, 'format' = 'canal-json', "
         "'canal-json.table.include' = '(')",
         "'canal-json.table.include' is not a regex"),
    ],
)  # fmt: skip
def test_what_the_change_formats_refuse_at_create_table(ddl: str, message: str) -> None:
    from catalog.errors import SqlStreamError

    with pytest.raises(SqlStreamError, match=message.replace("(", r"\(")):
        _plan(ddl, "SELECT 1")


def test_a_changelog_through_files_in_canal_json(tmp_path: Any) -> None:
    """An aggregate's changelog written to files in canal-json and read back: applied, the
    rows read equal the aggregate (each update is a DELETE and an INSERT record)."""
    import sqlstream

    out = tmp_path / "changes"
    with sqlstream.connect(config={"sqlstream.runtime.batch-size": "7"}) as s:  # updates per key
        s.execute(
            "CREATE TABLE src (v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '50', "
            "'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '50')"
        )
        s.execute(f"CREATE TABLE f (k BIGINT, c BIGINT) WITH ('connector' = 'filesystem', 'path' = '{out}', "
                  "'format' = 'canal-json')")  # fmt: skip
        job = s.execute("INSERT INTO f SELECT v % 3, COUNT(*) FROM src GROUP BY v % 3").job
        assert job is not None and job.wait(60) and job.error is None
        state: dict[int, int] = {}
        kinds = set()
        for kind, (k, c) in s.sql("SELECT k, c FROM f").changelog():
            kinds.add(kind)
            if kind in (0, 2):
                assert k not in state
                state[k] = c
            else:
                assert state.pop(k) == c
    assert kinds == {0, 3} and state == {0: 16, 1: 17, 2: 17}


def test_debezium_chunks_decode_in_bulk_to_what_each_record_decodes_to(monkeypatch: Any) -> None:
    cols = (
        Field("id", "BIGINT NOT NULL"),
        Field("d", "DATE"),
        Field("b", "BYTES"),
        Field("w", "DECIMAL(10, 2)"),
    )
    rows = [{"id": i, "d": f"2024-01-{i + 1:02d}", "b": "AAE=", "w": i + 0.25} for i in range(4)]
    changes = [
        {"before": None, "after": rows[0], "op": "c"},
        {"before": rows[0], "after": rows[1], "op": "u", "source": {"table": "x"}},
        {"before": None, "after": rows[2], "op": "r"},
        {"before": rows[2], "after": None, "op": "d"},
    ]
    records = [json.dumps(c).encode() for c in changes]
    one_by_one = create_changelog_decoder("debezium-json", cols, OptionBag({}, "t"))
    expected = [one_by_one.decode([r]).batch.to_pylist() for r in records]
    bulk = create_changelog_decoder("debezium-json", cols, OptionBag({}, "t"))
    monkeypatch.setattr(bulk, "_record", lambda record: pytest.fail("decoded record by record"))
    got = bulk.decode(records)
    assert got.batch.to_pylist() == [row for rows_ in expected for row in rows_]
    assert got.kept is not None and got.kept.tolist() == [0, 1, 1, 2, 3]
    assert [KINDS[k] for k in got.batch.column(ROW_KIND_COLUMN).to_pylist()] == ["+I", "-U", "+U", "+I", "-D"]


def test_a_bad_record_in_a_chunk_is_found_by_the_record_by_record_path() -> None:
    d = create_changelog_decoder("debezium-json", PRODUCTS, OptionBag({}, "t"))
    good = json.dumps({"after": {"id": 1}, "op": "c"}).encode()
    with pytest.raises(FormatError, match="record 2 of the chunk: field 'id'"):
        d.decode([good, json.dumps({"after": {"id": "x"}, "op": "c"}).encode(), good])


@pytest.mark.parametrize("blank", [b" ", b"\t", b"\n"])
def test_a_record_of_two_changes_beside_a_blank_one_is_bad_in_bulk_too(blank: bytes) -> None:
    """pyarrow reads a chunk as a stream of objects: a record holding two changes and a
    blank record (no change) give two rows for two records, which must not pass as good."""
    change = json.dumps({"before": None, "after": {"id": 1}, "op": "c"}).encode()
    d = create_changelog_decoder(
        "debezium-json", PRODUCTS, OptionBag({"debezium-json.ignore-parse-errors": "true"}, "t")
    )
    got = d.decode([change + change, blank, change])
    assert got.batch.column("id").to_pylist() == [1] and got.skipped == 1 and got.bad == [0]
