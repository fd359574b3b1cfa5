"""JSON form of catalog objects, for the DuckDB-file catalog and physical plans."""

from __future__ import annotations

from typing import Any

from catalog.schema import Column, ColumnKind, Schema, Watermark
from catalog.table import TableDef, ViewDef
from catalog.types import parse_type


def column_to_json(c: Column) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "type": c.type.sql(), "kind": c.kind.value}
    for key in ("expr", "metadata_key", "comment"):
        if getattr(c, key) is not None:
            out[key] = getattr(c, key)
    if c.virtual:
        out["virtual"] = True
    return out


def column_from_json(d: dict[str, Any]) -> Column:
    return Column(
        name=d["name"],
        type=parse_type(d["type"]),
        kind=ColumnKind(d.get("kind", "physical")),
        expr=d.get("expr"),
        metadata_key=d.get("metadata_key"),
        virtual=d.get("virtual", False),
        comment=d.get("comment"),
    )


def schema_to_json(s: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {"columns": [column_to_json(c) for c in s.columns]}
    if s.watermark:
        out["watermark"] = {"column": s.watermark.column, "expr": s.watermark.expr}
    if s.primary_key:
        out["primary_key"] = list(s.primary_key)
    return out


def schema_from_json(d: dict[str, Any]) -> Schema:
    wm = d.get("watermark")
    return Schema(
        columns=tuple(column_from_json(c) for c in d["columns"]),
        watermark=Watermark(wm["column"], wm["expr"]) if wm else None,
        primary_key=tuple(d.get("primary_key", ())),
    )


def table_to_json(t: TableDef) -> dict[str, Any]:
    return {
        "kind": "table",
        "name": t.name,
        "schema": schema_to_json(t.schema),
        "options": dict(t.options),
        "temporary": t.temporary,
        "comment": t.comment,
        **({"partition_keys": list(t.partition_keys)} if t.partition_keys else {}),
    }


def view_to_json(v: ViewDef) -> dict[str, Any]:
    return {
        "kind": "view",
        "name": v.name,
        "query": v.query,
        "temporary": v.temporary,
        "columns": list(v.columns),
        "comment": v.comment,
        **({"scope": list(v.scope)} if v.scope else {}),
    }


def object_from_json(d: dict[str, Any]) -> TableDef | ViewDef:
    if d["kind"] == "view":
        return ViewDef(
            name=d["name"],
            query=d["query"],
            temporary=d.get("temporary", False),
            columns=tuple(d.get("columns", ())),
            comment=d.get("comment"),
            scope=(d["scope"][0], d["scope"][1]) if d.get("scope") else None,
        )
    return TableDef(
        name=d["name"],
        schema=schema_from_json(d["schema"]),
        options=dict(d.get("options", {})),
        temporary=d.get("temporary", False),
        comment=d.get("comment"),
        partition_keys=tuple(d.get("partition_keys", ())),
    )
