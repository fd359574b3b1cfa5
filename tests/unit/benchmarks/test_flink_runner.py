"""Flink's side of the benchmarks reads SQL scripts the way ``sqlstream run`` does and its
figures from the helper's output: what a wrong split or sum would misreport."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import flink, flink_job


def test_a_script_splits_into_its_set_ddl_and_insert_statements() -> None:
    text = (
        "-- nexmark q0\n"
        "SET 'parallelism.default' = '1';\n"
        "CREATE TABLE bid (url STRING) WITH ('connector' = 'filesystem', 'path' = '/x;y');\n"
        "CREATE VIEW v AS\n  SELECT url FROM bid;\n"
        "INSERT INTO sink\nSELECT url FROM v;\n"
    )
    assert flink_job.statements(text) == [
        ("set", "parallelism.default", "1"),
        ("ddl", "CREATE TABLE bid (url STRING) WITH ('connector' = 'filesystem', 'path' = '/x;y')"),
        ("ddl", "CREATE VIEW v AS\n  SELECT url FROM bid"),
        ("insert", "INSERT INTO sink\nSELECT url FROM v"),
    ]


def test_whole_process_is_the_process_without_its_later_runs_and_warm_is_the_last() -> None:
    out = (
        "some PyFlink warning\n"
        '{"script": "q1.sql", "run": 0, "wall": 9.5, "cpu": 20.0}\n'
        '{"script": "q1.sql", "run": 1, "wall": 2.5, "cpu": 4.0}\n'
        '{"script": "q1.sql", "run": 2, "wall": 2.0, "cpu": 3.0}\n'
        '{"total_cpu": 35.0}\n'
    )
    process = flink.parse(out, wall=16.0)
    assert process.warm("q1.sql") == flink.Run("q1.sql", 2, 2.0, 3.0)
    assert process.whole() == (16.0 - 4.5, 35.0 - 7.0)


def test_a_script_flink_failed_on_has_no_warm_run_and_its_error() -> None:
    out = (
        '{"script": "q1.sql", "run": 0, "wall": 9.5, "cpu": 20.0}\n'
        '{"script": "q1.sql", "error": "TableException: cannot run this"}\n'
        '{"script": "q2.sql", "run": 0, "wall": 1.0, "cpu": 1.5}\n'
        '{"total_cpu": 35.0}\n'
    )
    process = flink.parse(out, wall=16.0)
    assert process.warm("q1.sql") is None
    assert process.errors == {"q1.sql": "TableException: cannot run this"}
    assert process.warm("q2.sql") == flink.Run("q2.sql", 0, 1.0, 1.5)


def test_output_without_its_total_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="no runs or no total"):
        flink.parse('{"script": "q1.sql", "run": 0, "wall": 1.0, "cpu": 1.0}\n', wall=3.0)


def test_cpu_of_a_process_tree_sums_the_descendants_only(tmp_path: Path) -> None:
    def stat(pid: int, ppid: int, ticks: int) -> None:
        (tmp_path / str(pid)).mkdir()
        # pid (comm) state ppid ... utime stime cutime cstime at fields 14-17
        fields = ["S", str(ppid)] + ["0"] * 9 + [str(ticks), "0", "0", "0"] + ["0"] * 5
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (java (x)) " + " ".join(fields))

    stat(10, 1, 100)  # the helper
    stat(11, 10, 250)  # the JVM it started
    stat(12, 11, 50)  # a JVM child
    stat(20, 1, 999)  # someone else's
    ticks = flink_job.os.sysconf("SC_CLK_TCK")
    assert flink_job.tree_cpu_seconds(10, tmp_path) == pytest.approx(400 / ticks)


def test_every_nexmark_query_has_its_text_and_makes_a_script_of_one_insert(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(Path(flink.__file__).parent))  # as when run as a script
    from benchmarks import nexmark

    files = {name: Path(f"/data/{name}.json") for name in ("person", "auction", "bid")}
    for query in nexmark.QUERIES:
        kinds = [s[0] for s in flink_job.statements(nexmark.script(query, files))]
        assert kinds == ["set", "ddl", "ddl", "ddl", "ddl", "insert"], query
    corpus = nexmark.corpus_queries((nexmark.oc.CORPUS_DIR / "nexmark.sql").read_text())
    assert {q for q, (_, select) in nexmark.QUERIES.items() if select is None} <= set(corpus)
    assert corpus["q3"].startswith("SELECT P.name, P.city, P.state, A.id FROM auction AS A")
