"""Flink's ``datagen`` connector: its options and the rules between them.

The per-column options (``fields.<column>.*``) are checked here as far as they depend on
the options alone (unknown columns, a sequence without its start, a kind's foreign
options); what depends on each column's type is checked when the generators are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catalog.connectors.spec import ConnectorConfig, ConnectorSpec, OptionType, TableInfo
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError, did_you_mean
from catalog.options import parse_int

_I, _B, _D, _E = OptionType.INT, OptionType.BOOL, OptionType.DURATION, OptionType.ENUM

RANDOM_ONLY = ("min", "max", "max-past", "length", "var-len")
SEQUENCE_ONLY = ("start", "end")


@dataclass(frozen=True)
class DatagenConfig(ConnectorConfig):
    """Rows per second (of the whole source), how many rows (None: unbounded), the seed."""

    rows_per_second: int
    number_of_rows: int | None
    seed: int


def configure_datagen(table: TableInfo) -> DatagenConfig:
    options, where = table.options, table.where
    rate = parse_int(options.get("rows-per-second", "10000"), "rows-per-second")
    if rate <= 0:
        raise OptionError(f"{where}: 'rows-per-second' must be positive")
    total_text = options.get("number-of-rows")
    total = None if total_text is None else parse_int(total_text, "number-of-rows")
    if total is not None and total < 0:
        raise OptionError(f"{where}: 'number-of-rows' must not be negative")
    names = table.column_names
    for key in options:
        if not key.startswith("fields."):
            continue
        column, _, option = key[len("fields.") :].rpartition(".")
        if names and column not in names:
            raise OptionError(
                f"{where}: unknown option '{key}' (the table has no column '{column}')",
                hint=did_you_mean(key, [f"fields.{n}.{option}" for n in names])
                or f"the columns are {', '.join(names)}",
            )
        kind = options.get(f"fields.{column}.kind", "random").lower()
        wrong = RANDOM_ONLY if kind == "sequence" else SEQUENCE_ONLY if kind == "random" else ()
        if option in wrong:
            raise OptionError(f"{where}: '{key}' does not apply to kind '{kind}'")
        if kind == "sequence" and f"fields.{column}.start" not in options:
            raise OptionError(
                f"{where}: 'fields.{column}.start' is required for a sequence",
                hint=f"add 'fields.{column}.start' = '1'",
            )
    return DatagenConfig(rate, total, parse_int(options.get("sqlstream.seed", "0"), "sqlstream.seed"))


def _bounded(options: Mapping[str, str]) -> bool:
    return "number-of-rows" in options


DATAGEN = ConnectorSpec(
    "datagen",
    (
        _o("rows-per-second", _I, default="10000"),
        _o("number-of-rows", _I),
        _o("scan.parallelism", _I),
        _o("sqlstream.seed", _I, default="0"),
        _o("fields.#.kind", _E, default="random", choices=("random", "sequence")),
        _o("fields.#.min"),
        _o("fields.#.max"),
        _o("fields.#.max-past", _D),
        _o("fields.#.length", _I),
        _o("fields.#.start"),
        _o("fields.#.end"),
        _o("fields.#.null-rate", OptionType.DOUBLE, default="0"),
        _o("fields.#.var-len", _B, default="false"),
    ),
    source=True,
    bounded=_bounded,
    configure=configure_datagen,
)
