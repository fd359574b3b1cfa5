import pytest

from catalog.errors import TypeParseError
from catalog.types import parse_type


@pytest.mark.parametrize(
    ("text", "flink", "duckdb"),
    [
        ("INT", "INT", "INTEGER"),
        ("integer not null", "INT NOT NULL", "INTEGER"),
        ("STRING", "STRING", "VARCHAR"),
        ("VARCHAR(2147483647)", "STRING", "VARCHAR"),
        ("VARCHAR(10)", "VARCHAR(10)", "VARCHAR"),
        ("DECIMAL(10, 2)", "DECIMAL(10, 2)", "DECIMAL(10, 2)"),
        ("DECIMAL", "DECIMAL(10, 0)", "DECIMAL(10, 0)"),
        ("TIMESTAMP(3)", "TIMESTAMP(3)", "TIMESTAMP"),
        ("TIMESTAMP", "TIMESTAMP(6)", "TIMESTAMP"),
        ("TIMESTAMP_LTZ(3)", "TIMESTAMP_LTZ(3)", "TIMESTAMPTZ"),
        ("TIMESTAMP(3) WITH LOCAL TIME ZONE", "TIMESTAMP_LTZ(3)", "TIMESTAMPTZ"),
        ("ARRAY<INT>", "ARRAY<INT>", "INTEGER[]"),
        ("MAP<STRING, BIGINT>", "MAP<STRING, BIGINT>", "MAP(VARCHAR, BIGINT)"),
        ("ROW<a INT, b STRING>", "ROW<`a` INT, `b` STRING>", 'STRUCT("a" INTEGER, "b" VARCHAR)'),
        (
            "ROW(a INT, `b c` ARRAY<DOUBLE>)",
            "ROW<`a` INT, `b c` ARRAY<DOUBLE>>",
            'STRUCT("a" INTEGER, "b c" DOUBLE[])',
        ),
        ("BYTES", "BYTES", "BLOB"),
    ],
)
def test_types_parse_and_print_in_flink_and_duckdb_spelling(text: str, flink: str, duckdb: str) -> None:
    t = parse_type(text)
    assert t.sql() == flink
    assert t.duckdb() == duckdb
    assert parse_type(t.sql()) == t


@pytest.mark.parametrize("text", ["INTT", "DECIMAL(10,", "ARRAY<INT", "INT INT", "ROW<a>"])
def test_bad_types_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(TypeParseError) as e:
        parse_type(text)
    assert text.split("(")[0].split("<")[0] in str(e.value) or "data type" in str(e.value)
