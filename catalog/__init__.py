"""The catalog: data types, schemas, table and view definitions, connector option specs.

The bottom layer: it imports no other package of ours, so the planner (and any tool that
embeds it) gets types and connector capabilities with nothing else installed.
"""

from catalog.connectors import CONNECTORS, FORMATS, ChangelogMode, ConnectorSpec, Guarantee
from catalog.errors import CatalogError, OptionError, SqlStreamError
from catalog.schema import Column, ColumnKind, Schema, Watermark
from catalog.store import Catalog, DuckDBCatalog
from catalog.table import TableDef, ViewDef, redact
from catalog.types import DataType, parse_type

__all__ = [
    "CONNECTORS",
    "FORMATS",
    "Catalog",
    "CatalogError",
    "ChangelogMode",
    "Column",
    "ColumnKind",
    "ConnectorSpec",
    "DataType",
    "DuckDBCatalog",
    "Guarantee",
    "OptionError",
    "Schema",
    "SqlStreamError",
    "TableDef",
    "ViewDef",
    "Watermark",
    "parse_type",
    "redact",
]
