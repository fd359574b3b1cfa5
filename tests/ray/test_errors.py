"""What cannot run on Ray is refused when the statement is submitted, before any actor
exists, with what to do: Ray not installed, an address nobody answers at, a cluster with
too few CPUs for the parallelism, a checkpoint folder that some node does not share."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

import sqlstream
from catalog.errors import SqlStreamError

pytestmark = pytest.mark.ray

NUMS = """CREATE TABLE nums (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10',
  'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '10')"""
QUERY = "SELECT n % 3 AS k, COUNT(*) AS c FROM nums GROUP BY n % 3"


def refused(config: dict[str, str], sql: str = QUERY) -> SqlStreamError:
    with sqlstream.connect(config={"execution.target": "ray", **config}) as session:
        session.execute(NUMS)
        with pytest.raises(SqlStreamError) as caught:
            session.execute(sql)
        return caught.value


def test_ray_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is missing
    error = refused({})
    assert "needs Ray, which is not installed" in error.message
    assert error.hint is not None and "sqlstream[ray]" in error.hint


def test_unreachable_address() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = refused({"ray.address": f"127.0.0.1:{port}"})
    assert f"cannot reach the Ray cluster at 'ray.address' = '127.0.0.1:{port}'" in error.message
    assert error.hint is not None and "ray start --head" in error.hint


def test_not_enough_cpus(ray_address: str) -> None:
    error = refused({"ray.address": ray_address, "parallelism.default": "40"})
    # 40 subtasks of each of 4 operators, one of the collect node: a fifth of a CPU each
    assert error.message.startswith("the job needs 32.2 CPUs on Ray (parallelism 40: 161 subtasks")
    assert error.message.endswith("but the cluster has 6")
    assert error.hint is not None and "parallelism.default" in error.hint


def test_checkpoint_dir_not_shared(ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``/proc/self/cwd`` is another folder in every process: this one's current folder here,
    a Ray worker's own on each node, as a local disk is on each machine of a real cluster."""
    monkeypatch.chdir(tmp_path)
    insert = """CREATE TABLE sink (k BIGINT, c BIGINT) WITH ('connector' = 'blackhole');
    SET 'execution.checkpointing.interval' = '1 s';
    SET 'state.checkpoints.dir' = '/proc/self/cwd/checkpoints';
    INSERT INTO sink """ + QUERY
    error = refused({"ray.address": ray_address}, insert)
    assert "cannot use the checkpoint folder 'state.checkpoints.dir' = '/proc/self/cwd/checkpoints'" in (
        error.message
    )
    assert "does not see the file the submitting machine wrote there" in error.message
    assert error.hint is not None and "shared mount" in error.hint


def test_cli_target_ray_unreachable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``sqlstream run --target ray --ray-address ...``: the reason, no traceback, exit 1."""
    from sqlstream.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    job = tmp_path / "job.sql"
    job.write_text(f"{NUMS};\nCREATE TABLE sink (k BIGINT, c BIGINT) WITH ('connector' = 'blackhole');\n"
                   f"INSERT INTO sink {QUERY};\n")
    code = main(["run", "--target", "ray", "--ray-address", f"127.0.0.1:{port}", "--fresh", str(job)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot reach the Ray cluster at 'ray.address' = '127.0.0.1:{port}'" in err
    assert "Traceback" not in err
