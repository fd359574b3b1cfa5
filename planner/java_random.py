"""RAND and RAND_INTEGER as Flink computes them (RandCallGen): with a seed taken from a row,
each row draws from its own ``new java.util.Random(seed)``, so the answer is a function of
the seed, reproduced here exactly with Java's linear congruential generator; without a seed,
DuckDB's random(). A constant seed makes Flink draw one repeatable sequence across the rows
of a task, which depends on how rows reach it: refused by name.

Each rewrite receives its node with the children already in DuckDB's terms.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from planner.errors import UnsupportedError
from planner.numeric import template

_MASK = (1 << 48) - 1
_MULTIPLIER = 0x5DEECE66D
_STEP = f"(({{s}} * {_MULTIPLIER} + 11) & {_MASK})"


def _draws(seed: exp.Expr, body: str) -> exp.Expr:
    """``body`` with ``__s1`` and ``__s2``, the generator's state after its first and second
    step from ``seed`` (Random.next(bits) is the state's top ``bits`` bits)."""
    start = f"CAST(xor(CAST({{seed}} AS BIGINT), {_MULTIPLIER}) & {_MASK} AS HUGEINT)"
    return template(
        f"CASE WHEN {{seed}} IS NOT NULL THEN list_transform([{_STEP.format(s=start)}], "
        f"__s1 -> list_transform([{_STEP.format(s='__s1')}], __s2 -> {body})[1])[1] END",
        seed=seed,
    )


def check_seed(node: exp.Expr) -> None:
    """Refuses RAND or RAND_INTEGER with a constant seed (called when binding, to say where)."""
    if isinstance(node, exp.Rand) and node.this is not None:
        _check_seed(node.this, "RAND")
    elif isinstance(node, exp.Anonymous) and node.name.upper() == "RAND_INTEGER":
        for seed in node.expressions[:-1]:  # RAND_INTEGER(seed, bound); the bound is last
            _check_seed(seed, "RAND_INTEGER")


def _check_seed(seed: exp.Expr, name: str) -> None:
    if isinstance(seed, exp.Literal) or (isinstance(seed, exp.Neg) and isinstance(seed.this, exp.Literal)):
        raise UnsupportedError(
            f"{name} with a constant seed is not supported yet: Flink draws one repeatable "
            "sequence across a task's rows, whose order sqlstream does not keep"
        )


def _rand(n: exp.Rand) -> exp.Expr:
    """RAND([seed]): Random(seed).nextDouble(), NULL for a NULL seed."""
    seed = n.this
    if seed is None:
        return template("random()")
    _check_seed(seed, "RAND")
    return _draws(seed, "CAST(((__s1 >> 22) << 27) + (__s2 >> 21) AS DOUBLE) / 9007199254740992.0")


def _rand_integer(n: exp.Anonymous) -> exp.Expr:
    """RAND_INTEGER([seed, ] bound): Random(seed).nextInt(bound); a bound below 1 fails the job
    (Java's IllegalArgumentException). nextInt draws again when the first draw falls in the
    last, partial run of ``bound`` values (at most two draws are taken: a third is needed
    with a chance below bound² / 2⁶²)."""
    *seeded, bound = n.expressions
    message = exp.Literal.string("RAND_INTEGER: bound must be positive")
    if not seeded:
        return template(
            "CASE WHEN {b} <= 0 THEN error({m}) ELSE CAST(floor(random() * {b}) AS INTEGER) END",
            b=bound,
            m=message,
        )
    (seed,) = seeded
    _check_seed(seed, "RAND_INTEGER")
    first, second = "(__s1 >> 17)", "(__s2 >> 17)"
    body = (
        "CASE WHEN ({b} & -{b}) = {b} THEN ({b} * " + first + ") >> 31 "
        f"WHEN {first} - {first} % {{b}} + ({{b}} - 1) < 2147483648 THEN {first} % {{b}} "
        f"ELSE {second} % {{b}} END"
    )
    value = _draws(seed, body.replace("{b}", "__bound"))
    return template(
        "CASE WHEN {b} IS NULL THEN NULL WHEN {b} <= 0 THEN error({m}) "
        "ELSE CAST(list_transform([CAST({b} AS HUGEINT)], __bound -> {v})[1] AS INTEGER) END",
        b=bound,
        m=message,
        v=value,
    )


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {
    exp.Rand: _rand,
    "RAND_INTEGER": _rand_integer,
}
