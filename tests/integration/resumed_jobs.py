"""A job stopped once its output is what a test waits for and two more checkpoints
completed, so that a later run resumes from a checkpoint that holds that output's state
(the upsert restore tests: ChangelogNormalize, SinkUpsertMaterializer)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlstream
from sqlstream.jobs import JobHandle


def run_until(
    config: dict[str, str],
    script: str,
    insert: str,
    reached: Callable[[JobHandle], bool],
    seen: Callable[[JobHandle], object] = lambda job: None,
) -> dict[str, Any]:
    """Run ``insert`` after the DDL ``script`` until ``reached(job)`` and two more
    checkpoints completed (60 s at most: then fails with ``seen(job)``, what it saw
    instead), then cancel it; returns its last metrics."""
    with sqlstream.connect(config=config) as s:
        s.execute_script(script)
        job = s.execute(insert).job
        assert job is not None
        try:
            deadline = time.monotonic() + 60
            while not reached(job):
                assert time.monotonic() < deadline and not job.done, (seen(job), job.error)
                time.sleep(0.2)
            done = job.metrics()["checkpoints"]["completed"]
            while job.metrics()["checkpoints"]["completed"] < done + 2:
                assert time.monotonic() < deadline and not job.done, job.error
                time.sleep(0.05)
            return job.metrics()
        finally:
            job.cancel()
            job.wait(10)
