"""Functions the UDF tests create with CREATE FUNCTION ... AS 'tests.unit.sqlstream.udf_module.x'."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sqlstream.udf import AggregateFunction, TableFunction, udaf, udf, udtf


@udf(result_type="BIGINT")
def count_char(s: str | None, c: str) -> int:
    """Nexmark q14's UDF: how often c occurs in s."""
    return 0 if s is None else s.count(c)


@udf(input_types=["BIGINT"], result_type="BIGINT", func_type="arrow")
def bucket(v: pa.Array) -> pa.Array:
    """Vectorized: v // 10 over a whole column."""
    return pc.divide(v, 10)


def shout(s: str) -> str:
    """Plain annotated function, no decorator."""
    return s.upper() + "!"


@udf(result_type="BIGINT")
def boom(v: int) -> int:
    if v == 3:
        raise ValueError("three is not allowed")
    return v


@udf(input_types=["BIGINT"], result_type="BIGINT")
def wrong(v):  # type: ignore[no-untyped-def]
    return f"not a number {v}"


@udf(input_types=["BIGINT"], result_type="BIGINT", deterministic=False)
def noisy(v):  # type: ignore[no-untyped-def]
    return v


NOT_A_FUNCTION = 3


@udf(input_types=["BIGINT"], result_type="BIGINT", func_type="arrow")
def short(v: pa.Array) -> pa.Array:
    """Vectorized, but returns one value too few."""
    return v.slice(1)


@udtf(result_types=["STRING", "INT"])
def split_words(line: str):  # type: ignore[no-untyped-def]
    """A generator: one row (word, length) per word; no row for NULL or an empty line."""
    if line:
        for w in line.split(" "):
            yield w, len(w)


class Repeat(TableFunction):
    """A TableFunction class: ``n`` copies of ``v`` (a one-column function yields plain values)."""

    def eval(self, v: int, n: int):  # type: ignore[no-untyped-def]
        for _ in range(n):
            yield v


replicate = udtf(Repeat(), result_types="BIGINT")


@udtf(input_types=["BIGINT"], result_types=["BIGINT", "BIGINT"])
def bad_rows(v):  # type: ignore[no-untyped-def]
    yield (v,)


class WeightedAvg(AggregateFunction):
    """PyFlink's documentation example: the weighted average of ``value`` by ``weight``,
    with retract, so it runs over an updating input too. The accumulator is a list."""

    def create_accumulator(self):  # type: ignore[no-untyped-def]
        return [0, 0]

    def accumulate(self, accumulator, value: int, weight: int) -> None:  # type: ignore[no-untyped-def]
        accumulator[0] += value * weight
        accumulator[1] += weight

    def retract(self, accumulator, value: int, weight: int) -> None:  # type: ignore[no-untyped-def]
        accumulator[0] -= value * weight
        accumulator[1] -= weight

    def get_value(self, accumulator) -> float | None:  # type: ignore[no-untyped-def]
        return None if accumulator[1] == 0 else accumulator[0] / accumulator[1]


weighted_avg = udaf(WeightedAvg(), result_type="DOUBLE", accumulator_type="ARRAY<BIGINT>")


class Concat(AggregateFunction):
    """No retract: refused over an updating input. Keeps the order rows arrived in."""

    def create_accumulator(self):  # type: ignore[no-untyped-def]
        return []

    def accumulate(self, accumulator, s: str) -> None:  # type: ignore[no-untyped-def]
        if s is not None:
            accumulator.append(s)

    def get_value(self, accumulator) -> str:  # type: ignore[no-untyped-def]
        return "|".join(accumulator)


concat_all = udaf(Concat(), result_type="STRING")


@udf(result_type="BIGINT")
def fails_on_thousands(v: int) -> int:
    """Raises on every multiple of 1000: the rows the udf-errors tests expect in their table."""
    if v % 1000 == 0:
        raise ValueError(f"{v} is a round number")
    return v * 2


class Total(AggregateFunction):
    """SUM as a Python aggregate: the restore tests compare it with DuckDB's sum."""

    def create_accumulator(self):  # type: ignore[no-untyped-def]
        return [0]

    def accumulate(self, accumulator, v: int) -> None:  # type: ignore[no-untyped-def]
        accumulator[0] += v

    def retract(self, accumulator, v: int) -> None:  # type: ignore[no-untyped-def]
        accumulator[0] -= v

    def get_value(self, accumulator) -> int:  # type: ignore[no-untyped-def]
        return accumulator[0]


py_total = udaf(Total())


class NullableTotal(AggregateFunction):
    """SUM's semantics as a Python aggregate: NULLs skipped, NULL until a value came; no
    retract (an OVER frame never takes rows back out)."""

    def create_accumulator(self):  # type: ignore[no-untyped-def]
        return [None]

    def accumulate(self, accumulator, v: int | None) -> None:  # type: ignore[no-untyped-def]
        if v is not None:
            accumulator[0] = v if accumulator[0] is None else accumulator[0] + v

    def get_value(self, accumulator) -> int | None:  # type: ignore[no-untyped-def]
        return accumulator[0]


nullable_total = udaf(NullableTotal(), result_type="BIGINT")


@udaf(input_types=["BIGINT"], result_type="DOUBLE", func_type="pandas")
def mean_udaf(v):  # type: ignore[no-untyped-def]
    """PyFlink's documentation example of a vectorized aggregate: a Series in, one value out."""
    return v.mean()


@udaf(input_types=["BIGINT", "BIGINT"], result_type="BIGINT", func_type="pandas")
def spread(v, w):  # type: ignore[no-untyped-def]
    """Two Series of one window: max(v) - min(w); raises on a window holding 13."""
    if (v == 13).any():
        raise ValueError("13 in the window")
    return int(v.max() - w.min())
