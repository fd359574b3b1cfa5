"""Kafka -> tumbling window -> Kafka (exactly-once) survives a broker restart and fences a
zombie instance of itself.

Both tests run against a broker of their own (``scripts/services up kafka`` with another
``SQLSTREAM_SERVICES_DIR`` and ``SQLSTREAM_KAFKA_PORT``), never the shared one: restarting
the shared broker would break the tests others run at the same time. The restart keeps
the broker's log dir (``scripts/services down`` would delete it): the broker process is
stopped with SIGTERM and started again with the same command line.

- ``test_broker_restart_mid_run_loses_nothing``: the broker goes away for several seconds
  while the job reads, aggregates and writes; the output is each window result exactly
  once.
- ``test_zombie_instance_is_fenced``: instance A runs and checkpoints, then freezes
  (SIGSTOP: a long GC pause, a partitioned host); instance B of the same job (same
  checkpoint dir, same ``sink.transactional-id-prefix``) takes over from A's newest
  checkpoint and finishes. A then wakes up (SIGCONT): it must fail loudly, none of its
  writes become visible, and the output is still each result exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.errors import SqlStreamError
from tests.crash.harness import CrashReport, compare
from tests.crash.test_kafka_exactly_once import (
    Feeder,
    create_topics,
    expected,
    read_committed,
    script,
    window_row,
)
from tests.integration.own_services import OwnServices

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


class OwnBroker(OwnServices):
    """A Kafka broker of this test module's own (``up("kafka")``), which a test may stop
    and start as it likes."""

    def down(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # its data goes anyway: no clean shutdown
            os.kill(int(self.pid_file.read_text().split()[0]), signal.SIGKILL)
        super().down()

    @property
    def pid_file(self) -> Path:
        return self.state / "kafka" / "pid"

    def restart(self, down_for: float) -> float:
        """Stop the broker (SIGTERM: a controlled shutdown, as a rolling restart does), stay
        down for ``down_for`` seconds, start it again on the same log dir; the seconds it
        was unreachable."""
        pid = int(self.pid_file.read_text().split()[0])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        gone = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < deadline, "the broker did not stop within 60 s"
            time.sleep(0.1)
        time.sleep(down_for)
        log = open(self.state / "kafka" / "broker.log", "ab")  # noqa: SIM115 - the broker keeps it
        proc = subprocess.Popen(
            [a.decode() for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 120
        while True:
            probe = subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "services.d" / "kafka_probe.py"), self.bootstrap],
                capture_output=True,
            )
            if probe.returncode == 0:
                return time.monotonic() - gone
            assert proc.poll() is None, "the restarted broker exited"
            assert time.monotonic() < deadline, "the restarted broker did not answer within 120 s"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path_factory.mktemp("own-kafka"))
    try:
        broker.up("kafka")
        yield broker
    finally:
        broker.down()


def start_job(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sqlstream", "run", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


NOISE = (
    "Unable connect",
    "Unable to update",
    "Unable to request",
    "Failed fetch",
    "Got error produce",
    "Task was destroyed",
    "task: <Task",
    "Unclosed AIOKafka",
    "producer: <aiokafka",
    "[INFO] ",
)


def tail(err: str, chars: int = 3000) -> str:
    """The job's stderr without aiokafka's retry chatter (an outage prints pages of it)."""
    lines = [line for line in err.splitlines() if not line.startswith(NOISE)]
    return "\n".join(lines)[-chars:]


def checkpoints_completed(tmp: Path, name: str) -> int:
    return len(list((tmp / "checkpoints" / name).glob("chk-*/_metadata")))


def exact(servers: str, dst: str, rows: int) -> CrashReport:
    report = CrashReport()
    got = [window_row(r.value) for r in asyncio.run(read_committed(servers, dst))]
    compare(expected(rows), got, report)
    return report


def setup_job(
    tmp: Path,
    servers: str,
    rows: int,
    rate: int,
    what: str,
    hold_at: int | None = None,
    restart_strategy: str | None = None,
) -> tuple[str, str, Path, Feeder]:
    tag = uuid.uuid4().hex[:8]
    src, dst, name = f"{what}-src-{tag}", f"{what}-dst-{tag}", f"{what}-{tag}"
    asyncio.run(create_topics(servers, src, dst))
    feeder = Feeder(servers, src, rows, rate, hold_at)
    path = script(tmp, servers, src, dst, "EXACTLY_ONCE", name, rows, restart_strategy=restart_strategy)
    return dst, name, path, feeder


def test_broker_restart_mid_run_loses_nothing(own_broker: OwnBroker, tmp_path: Path) -> None:
    servers, rows = own_broker.bootstrap, 24000
    dst, name, path, feeder = setup_job(tmp_path, servers, rows, 3000, "restart")
    feeder.start()
    job = start_job(path)
    deadline = time.monotonic() + 30
    while checkpoints_completed(tmp_path, name) == 0:  # running, with something committed
        assert job.poll() is None, finish(job)[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoint completed within 30 s"
        time.sleep(0.05)
    outage = own_broker.restart(down_for=0.5)
    code, err = finish(job)
    feeder.join()
    Path(tmp_path / "job.err").write_text(err)
    assert code == 0, f"the job did not ride through a {outage:.1f} s broker outage:\n{tail(err)}"
    report = exact(servers, dst, rows)
    written = re.search(r"finished: ([\d,]+) rows written", err)
    said = f"the job said it wrote {written.group(1) if written else '?'} of {len(expected(rows))} windows"
    print(f"broker unreachable for {outage:.1f} s; {report.summary()}; {said}")
    # rows written but not readable are the sink's (or Kafka's); rows never written, the source's
    assert report.exact, f"{report.summary()}; {said}"


@pytest.mark.parametrize("restart_strategy", ["none", "default"])
def test_zombie_instance_is_fenced(own_broker: OwnBroker, tmp_path: Path, restart_strategy: str) -> None:
    servers, rows = own_broker.bootstrap, 16000
    # half the input, then the rest only once the zombie froze: it wakes with rows to do
    dst, name, path, feeder = setup_job(
        tmp_path,
        servers,
        rows,
        4000,
        "zombie",
        hold_at=rows // 2,
        restart_strategy=None if restart_strategy == "default" else restart_strategy,
    )
    feeder.start()
    zombie = start_job(path)
    try:
        # 120 s: the first job after the restart test's broker restart once took over 60 s
        # to complete two checkpoints in CI (15 s here); the job's own words say why if not
        deadline = time.monotonic() + 120
        while not (feeder.holding.is_set() and checkpoints_completed(tmp_path, name) >= 2):
            assert zombie.poll() is None, tail(finish(zombie)[1])
            if time.monotonic() > deadline:
                zombie.kill()
                done = checkpoints_completed(tmp_path, name)
                held = feeder.holding.is_set()
                pytest.fail(f"{done} checkpoints in 120 s (input held: {held}):\n{tail(finish(zombie)[1])}")
            time.sleep(0.02)
        time.sleep(0.15)  # in the middle of a checkpoint interval: rows written, not committed
        zombie.send_signal(signal.SIGSTOP)
        feeder.release()
        feeder.join()
        code, err = finish(start_job(path))  # takes over from the zombie's newest checkpoint
        Path(tmp_path / "new.err").write_text(err)
        assert code == 0, f"the new instance failed:\n{tail(err)}"
        taken_over = exact(servers, dst, rows)
        zombie.send_signal(signal.SIGCONT)
        zombie_code, zombie_err = finish(zombie, timeout=60)
    finally:
        if zombie.poll() is None:
            zombie.send_signal(signal.SIGCONT)
            zombie.kill()
            zombie.wait()
    Path(tmp_path / "zombie.err").write_text(zombie_err)
    report = exact(servers, dst, rows)
    assert report.exact, f"after the zombie woke: {report.summary()}"
    assert zombie_code not in (0, -signal.SIGKILL), f"the zombie did not fail (exit {zombie_code})"
    assert "fenced" in zombie_err.lower() or "another instance" in zombie_err.lower(), tail(zombie_err)
    print(f"zombie exit {zombie_code}:\n{tail(zombie_err, 1500)}\n{report.summary()}")
    assert taken_over.exact, taken_over.summary()
    assert report.exact, report.summary()
    assert Counter(report.duplicated) == Counter()


def test_a_zombie_writer_refuses_to_open_a_transaction_after_a_takeover(kafka_bootstrap: str) -> None:
    """The narrow case the fencing of open transactions does not cover: the zombie had no
    transaction open when the other instance took over, and its next InitProducerId would
    simply win. Its epoch check sees the id was initialised by someone else and stops it
    before it writes a record."""
    import pyarrow as pa

    from tests.integration.test_kafka_sink import eos_options
    from tests.integration.test_kafka_source import COLS, sink

    tag = uuid.uuid4().hex[:8]
    topic, prefix = f"zombie-writer-{tag}", f"zombie-writer-{tag}"
    config = {"execution.checkpointing.interval": "1 s", "execution.checkpointing.timeout": "10 s"}
    batch = pa.RecordBatch.from_pydict(
        {"id": pa.array([1, 2, 3], pa.int32()), "name": pa.array(["a", "b", "c"], pa.string())}
    )

    async def scenario() -> str:
        await create_topics(kafka_bootstrap, topic, partitions=1)
        old = sink(kafka_bootstrap, eos_options(topic, prefix), COLS, config=config)
        new = sink(kafka_bootstrap, eos_options(topic, prefix), COLS, config=config)
        await old.open()
        await old.recover([])  # the old instance starts...
        await new.open()
        await new.recover([])  # ...and a new one takes over before it wrote anything
        await new.write(batch)
        await new.commit(1, await new.pre_commit(1))
        try:
            with pytest.raises(SqlStreamError) as caught:
                await old.write(batch)
        finally:
            await old.close()
            await new.close()
        return caught.value.message

    message = asyncio.run(scenario())
    assert "another instance of this job" in message and prefix in message, message
    seen = asyncio.run(read_committed(kafka_bootstrap, topic, partitions=1))
    assert len(seen) == 3  # the new instance's rows only
