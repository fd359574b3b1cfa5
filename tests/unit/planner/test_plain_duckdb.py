"""``plain_duckdb.sql`` writes what sqlglot's DuckDB generator writes, or leaves the node to
it; and a job whose expressions are all plain never loads that generator (~21 ms)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from planner import plain_duckdb

ROOT = Path(__file__).parents[3]

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)

leaves = st.one_of(
    st.builds(lambda n, q: exp.column(exp.to_identifier(n, quoted=q)), _TEXT.filter(bool), st.booleans()),
    st.builds(exp.Literal.string, _TEXT),
    st.builds(exp.Literal.number, st.one_of(st.integers(0, 10**20), st.sampled_from(["0.908", "1e3", "07"]))),
    st.builds(
        lambda v, u: exp.Interval(this=exp.Literal.string(v), unit=exp.Var(this=u)),
        st.sampled_from(["4", "-1", "1.5", "10"]),
        st.sampled_from(["SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "second"]),
    ),
    st.just(exp.Null()),
    st.builds(exp.Boolean, this=st.booleans()),
    st.builds(lambda n: exp.column(n, table="t", quoted=True), _TEXT.filter(bool)),  # not plain: a table
)

# the plain ones, and some that are not (the generator writes a modulo inside a product
# with parentheses of its own, Flink's division and || are other calls)
BINARY = [exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Add, exp.Sub, exp.Mul, exp.And, exp.Or,
          exp.Mod, exp.Div, exp.DPipe]  # fmt: skip

trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda k, a, b: k(this=a, expression=b), st.sampled_from(BINARY), inner, inner),
        st.builds(exp.Paren, this=inner),
        st.builds(exp.Not, this=inner),
        st.builds(lambda a: exp.Anonymous(this="LOWER", expressions=[a]), inner),
    ),
    max_leaves=12,
)


@settings(max_examples=600, deadline=None)
@given(tree=trees)
def test_a_plain_expression_is_written_as_the_duckdb_generator_writes_it(tree: exp.Expr) -> None:
    plain = plain_duckdb.sql(tree)
    if plain is not None:
        assert plain == tree.sql(dialect="duckdb")


def test_the_expressions_of_a_filter_and_a_watermark_are_plain() -> None:
    """Those of Nexmark q3 and q8, as the planner binds them."""
    state = exp.column(exp.to_identifier("state", quoted=True))
    q3 = exp.or_(
        exp.EQ(this=state, expression=exp.Literal.string("OR")),
        exp.EQ(this=state.copy(), expression=exp.Literal.string("CA")),
    )
    watermark = exp.Sub(
        this=exp.column(exp.to_identifier("dateTime", quoted=True)),
        expression=exp.Interval(this=exp.Literal.string("4"), unit=exp.Var(this="SECOND")),
    )
    assert plain_duckdb.sql(q3) == """"state" = 'OR' OR "state" = 'CA'"""
    assert plain_duckdb.sql(watermark) == """"dateTime" - INTERVAL '4' SECOND"""
    assert plain_duckdb.sql(exp.Div(this=state.copy(), expression=exp.Literal.number(2))) is None


PROBE = """
import json, sys
from sqlstream.entry import main
sys.argv = ["sqlstream", "run", sys.argv[1]]
code = main()
print(json.dumps({"code": code, "generator": "sqlglot.generators.duckdb" in sys.modules}))
"""


def _generator_loaded(tmp_path: Path, select: str) -> bool:
    (tmp_path / "in.json").write_text('{"x": 1, "s": "CA", "ts": "2024-01-01 00:00:00"}\n')
    (tmp_path / "job.sql").write_text(
        "CREATE TABLE src (x BIGINT, s STRING, ts TIMESTAMP(3), "
        "WATERMARK FOR ts AS ts - INTERVAL '4' SECOND) "
        f"WITH ('connector' = 'filesystem', 'path' = '{tmp_path / 'in.json'}', 'format' = 'json');\n"
        "CREATE TABLE out1 (x BIGINT, n BIGINT) WITH ('connector' = 'blackhole');\n"
        f"INSERT INTO out1 {select};\n"
    )
    probe = [sys.executable, "-c", PROBE, str(tmp_path / "job.sql")]
    out = subprocess.run(probe, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    assert found["code"] == 0 and "finished: 1 rows written" in out.stderr
    return bool(found["generator"])


def test_a_job_of_plain_expressions_loads_no_duckdb_generator(tmp_path: Path) -> None:
    plain = "SELECT x, COUNT(*) FROM src WHERE s = 'CA' OR x > 2 GROUP BY x"
    assert not _generator_loaded(tmp_path, plain)
    assert _generator_loaded(tmp_path, "SELECT x, CHAR_LENGTH(s) FROM src")
