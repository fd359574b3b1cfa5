from pathlib import Path

import pytest

from catalog import Catalog, Column, DuckDBCatalog, Schema, TableDef, ViewDef, Watermark
from catalog.errors import CatalogError
from catalog.schema import ColumnKind
from catalog.types import parse_type


def _table(name: str = "bids", temporary: bool = False) -> TableDef:
    return TableDef(
        name,
        Schema(
            (
                Column("bidtime", parse_type("TIMESTAMP(3)")),
                Column("price", parse_type("DECIMAL(10, 2)")),
                Column("doubled", parse_type("DECIMAL(11, 2)"), ColumnKind.COMPUTED, expr="price * 2"),
            ),
            Watermark("bidtime", "bidtime - INTERVAL '1' SECOND"),
        ),
        {"connector": "datagen", "password": "s3cret"},
        temporary=temporary,
    )


def test_lookup_is_case_insensitive_and_mistakes_suggest_names() -> None:
    cat = Catalog()
    cat.create(_table())
    assert cat.table("BIDS").name == "bids"
    with pytest.raises(CatalogError) as e:
        cat.resolve("bid")
    assert "did you mean 'bids'" in str(e.value)


def test_duplicates_and_if_not_exists() -> None:
    cat = Catalog()
    cat.create(_table())
    assert cat.create(_table(), if_not_exists=True) is False
    with pytest.raises(CatalogError, match="already exists"):
        cat.create(_table())


def test_drop_checks_the_kind() -> None:
    cat = Catalog()
    cat.create(ViewDef("v", "SELECT 1"))
    with pytest.raises(CatalogError, match="is a view"):
        cat.drop("v", TableDef)
    assert cat.drop("nope", TableDef, if_exists=True) is False


def test_duckdb_catalog_keeps_tables_across_restarts_but_not_temporary_ones(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    first = DuckDBCatalog(path)
    first.create(_table())
    first.create(_table("scratch", temporary=True))
    first.create(ViewDef("cheap", "SELECT * FROM bids WHERE price < 2"))
    first.close()
    second = DuckDBCatalog(path)
    assert second.table("bids") == _table()
    assert second.get("scratch") is None
    assert isinstance(second.get("cheap"), ViewDef)
    second.drop("bids", TableDef)
    second.close()
    assert DuckDBCatalog(path).get("bids") is None


def test_schema_rejects_watermark_on_unknown_column() -> None:
    with pytest.raises(CatalogError) as e:
        Schema((Column("ts", parse_type("TIMESTAMP(3)")),), Watermark("tss", "tss"))
    assert "did you mean 'ts'" in str(e.value)
