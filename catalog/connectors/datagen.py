"""Flink's ``datagen`` connector: its options, and for each column the generator they ask
for (``FieldGen``), checked against the column's type when the table is created. The
runtime builds its generators from these, so a job never meets an option the plan did not.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.connectors.spec import ConnectorConfig, ConnectorSpec, OptionType, TableInfo
from catalog.connectors.spec import option as _o
from catalog.errors import OptionError, did_you_mean
from catalog.options import parse_duration_ms, parse_int
from catalog.types import DataType

_I, _B, _D, _E = OptionType.INT, OptionType.BOOL, OptionType.DURATION, OptionType.ENUM

RANDOM_ONLY = ("min", "max", "max-past", "length", "var-len")
SEQUENCE_ONLY = ("start", "end")
FIELD_KEYS = ("kind", "null-rate", *RANDOM_ONLY, *SEQUENCE_ONLY)
INT_RANGES = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
}
# Flink's defaults: Float/Double.MIN_VALUE .. MAX_VALUE.
FLOAT_RANGES = {
    "FLOAT": (1.4e-45, 3.4028234663852886e38),
    "DOUBLE": (5e-324, 1.7976931348623157e308),
}
STRINGS = ("STRING", "VARCHAR", "CHAR")
BYTES = ("BYTES", "BINARY", "VARBINARY")
DEFAULT_LENGTH = 100
DEFAULT_COLLECTION = 3


@dataclass(frozen=True)
class FieldGen:
    """How one column (or a nested element) is generated. ``kind``: random | sequence.
    Random numbers lie in ``[low, high]`` (DECIMAL: unscaled integers); strings, bytes and
    collections have ``length`` elements; times lie up to ``max_past_ms`` in the past."""

    type: DataType
    kind: str = "random"
    low: Any = None
    high: Any = None
    length: int = 0
    var_len: bool = False
    max_past_ms: int = 0
    start: int = 0
    end: int = 0
    null_rate: float = 0.0
    children: tuple[FieldGen, ...] = ()


class _FieldOptions:
    """The ``fields.<name>.*`` options of one column, and which of them were read."""

    def __init__(self, options: Mapping[str, str], where: str, name: str) -> None:
        self.options, self.where, self.prefix, self.name = options, where, f"fields.{name}.", name
        self.read: set[str] = set()

    def has(self, key: str) -> bool:
        return self.prefix + key in self.options

    def get(self, key: str) -> str | None:
        self.read.add(key)
        return self.options.get(self.prefix + key)

    def check_unused(self, t: DataType) -> None:
        """A known key this column's generator did not read does not apply to its type."""
        for key in FIELD_KEYS:
            if key not in self.read and self.has(key):
                raise self.error(key, f"does not apply to column '{self.name}' of type {t.sql()}")

    def error(self, key: str, message: str, hint: str | None = None) -> OptionError:
        return OptionError(f"{self.where}: '{self.prefix}{key}' {message}", hint=hint)

    def number(self, key: str, default: Any, kind: type) -> Any:
        text = self.get(key)
        if text is None:
            return default
        try:
            return kind(decimal.Decimal(text.strip())) if kind is int else kind(text.strip())
        except (ValueError, ArithmeticError):
            raise self.error(key, f"= '{text}' is not a number") from None

    def length(self, default: int) -> int:
        text = self.get("length")
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise self.error("length", f"= '{text}' is not an integer") from None
        if value < 0:
            raise self.error("length", "must not be negative")
        return value


def _field_gen(t: DataType, o: _FieldOptions, top: bool = True) -> FieldGen:
    kind = (o.get("kind") or "random").lower() if top else "random"
    if kind not in ("random", "sequence"):
        raise o.error("kind", f"= '{kind}' is not one of random, sequence")
    if top:
        for key in RANDOM_ONLY if kind == "sequence" else SEQUENCE_ONLY:
            if o.has(key):
                raise o.error(key, f"does not apply to kind '{kind}'")
    gen = _sequence(t, o) if kind == "sequence" else _random(t, o, top)
    if top:
        rate = o.number("null-rate", 0.0, float)
        if not 0.0 <= rate <= 1.0:
            raise o.error("null-rate", "must be between 0 and 1")
        if rate > 0:
            gen = dataclasses.replace(gen, null_rate=rate)
    return gen


def _sequence(t: DataType, o: _FieldOptions) -> FieldGen:
    if t.name not in (*INT_RANGES, "FLOAT", "DOUBLE", "DECIMAL", *STRINGS):
        raise o.error("kind", f"= 'sequence' is not supported for the type {t.sql()}")
    if not o.has("start"):
        raise o.error("start", "is required for a sequence", hint=f"add '{o.prefix}start' = '1'")
    start = o.number("start", 0, int)
    lo, hi = INT_RANGES.get(t.name, (-(2**63), 2**63 - 1))
    end = o.number("end", hi, int)
    if start < lo or end > hi:
        raise o.error("end" if end > hi else "start", f"is out of range for {t.sql()}")
    if end < start:
        raise o.error("end", f"({end}) is smaller than the start ({start})")
    return FieldGen(t, "sequence", start=start, end=end)


def _random(t: DataType, o: _FieldOptions, top: bool) -> FieldGen:
    name = t.name
    if name in INT_RANGES:
        tlo, thi = INT_RANGES[name]
        lo, hi = o.number("min", tlo, int), o.number("max", thi, int)
        if lo < tlo or hi > thi:
            raise o.error("min" if lo < tlo else "max", f"is out of range for {t.sql()}")
        if lo > hi:
            raise o.error("min", f"({lo}) is larger than the max ({hi})")
        return FieldGen(t, low=lo, high=hi)
    if name in FLOAT_RANGES:
        flo, fhi = FLOAT_RANGES[name]
        low, high = o.number("min", flo, float), o.number("max", fhi, float)
        if low > high:
            raise o.error("min", f"({low}) is larger than the max ({high})")
        return FieldGen(t, low=low, high=high)
    if name == "DECIMAL":
        limit = 10 ** min(t.precision or 10, 18) - 1
        unit = decimal.Decimal(10) ** (t.scale or 0)
        lo_d = o.number("min", None, decimal.Decimal)
        hi_d = o.number("max", None, decimal.Decimal)
        lo = -limit if lo_d is None else int(lo_d * unit)
        hi = limit if hi_d is None else int(hi_d * unit)
        if lo > hi:
            raise o.error("min", f"({lo_d}) is larger than the max ({hi_d})")
        return FieldGen(t, low=max(lo, -limit), high=min(hi, limit))
    if name in ("BOOLEAN", "TIME", "NULL"):
        return FieldGen(t)
    if name in (*STRINGS, *BYTES):
        default = DEFAULT_LENGTH
        if t.precision is not None and name in ("VARCHAR", "CHAR", "BINARY", "VARBINARY"):
            default = min(default, t.precision)
        var_len = (o.get("var-len") or "false").strip().lower() == "true" if top else False
        return FieldGen(t, length=o.length(default) if top else default, var_len=var_len)
    if name in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE"):
        text = o.get("max-past") if top else None
        max_past = parse_duration_ms(text, o.prefix + "max-past") if text is not None else 0
        return FieldGen(t, max_past_ms=max_past)
    child = _FieldOptions(o.options, o.where, o.name)
    length = (o.length(DEFAULT_COLLECTION) if top else DEFAULT_COLLECTION) if name != "ROW" else 0
    if name in ("ARRAY", "MULTISET", "MAP", "ROW"):
        children = tuple(_field_gen(c, child, top=False) for c in t.children)
        return FieldGen(t, length=length, children=children)
    raise OptionError(f"{o.where}: datagen cannot generate column '{o.name}' of type {t.sql()}")


@dataclass(frozen=True)
class DatagenConfig(ConnectorConfig):
    """Rows per second (of the whole source), how many rows (None: unbounded), the seed,
    and each column's generator."""

    rows_per_second: int
    number_of_rows: int | None
    seed: int
    fields: Mapping[str, FieldGen]


def configure_datagen(table: TableInfo) -> DatagenConfig:
    options, where = table.options, table.where
    rate = parse_int(options.get("rows-per-second", "10000"), "rows-per-second")
    if rate <= 0:
        raise OptionError(f"{where}: 'rows-per-second' must be positive")
    total_text = options.get("number-of-rows")
    total = None if total_text is None else parse_int(total_text, "number-of-rows")
    if total is not None and total < 0:
        raise OptionError(f"{where}: 'number-of-rows' must not be negative")
    fields: dict[str, FieldGen] = {}
    for name, t in table.columns:
        o = _FieldOptions(options, where, name)
        fields[name] = _field_gen(t, o)
        o.check_unused(t)
    names = table.column_names
    for key in options:
        column, _, option = key[len("fields.") :].rpartition(".")
        if key.startswith("fields.") and column not in names:
            raise OptionError(
                f"{where}: unknown option '{key}' (the table has no column '{column}')",
                hint=did_you_mean(key, [f"fields.{n}.{option}" for n in names])
                or f"the columns are {', '.join(names)}",
            )
    seed = parse_int(options.get("sqlstream.seed", "0"), "sqlstream.seed")
    return DatagenConfig(rate, total, seed, fields)


def _bounded(options: Mapping[str, str]) -> bool:
    return "number-of-rows" in options


def _datagen_replay(options: Mapping[str, str], columns: Sequence[tuple[str, str]]) -> str | None:
    """Seeded random values replay exactly (a random stream per seed, subtask and block);
    random timestamps and dates are drawn relative to the wall clock, so they do not.

    >>> _datagen_replay({}, [("v", "BIGINT"), ("ts", "TIMESTAMP(3)")])
    "random datagen field 'ts' (TIMESTAMP(3)) is drawn relative to the current time"
    >>> _datagen_replay({"fields.ts.kind": "sequence"}, [("ts", "TIMESTAMP(3)")]) is None
    True
    """
    for name, type_text in columns:
        kind = options.get(f"fields.{name}.kind", "random").lower()
        base = type_text.split("(")[0].strip().upper()
        if kind == "random" and base in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE", "TIME"):
            return f"random datagen field '{name}' ({type_text}) is drawn relative to the current time"
    return None


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
    replay_nondeterminism=_datagen_replay,
)
