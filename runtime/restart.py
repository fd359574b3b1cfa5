"""Restart strategy: a failed job with checkpointing comes back by itself from its newest
complete checkpoint, as Flink's does, so a broker or database restart in the middle of
a run costs a pause, not a re-run by hand.

Flink's keys: ``restart-strategy.type`` = ``none`` | ``fixed-delay`` (the default when
checkpointing is on; without checkpoints a restart would start over from scratch, so the
default is ``none``), ``restart-strategy.fixed-delay.attempts`` (default 3 here; Flink's
is unbounded, which would retry a broken record forever) and
``restart-strategy.fixed-delay.delay`` (default 1 s). Each restart resumes from the
newest complete checkpoint of the job; recovery commits what it recorded and aborts the
rest, so no row is lost or repeated.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from catalog.config import (
    CHECKPOINT_RESUME,
    RESTART_ATTEMPTS,
    RESTART_DELAY,
    RESTART_STRATEGY,
    SAVEPOINT_PATH,
    checkpointing_enabled,
)
from catalog.errors import SqlStreamError
from runtime.checkpoint.coordinator import CheckpointConfig
from runtime.checkpoint.storage import CheckpointStorage
from runtime.job import Job, JobStatus
from runtime.launch import create_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestartStrategy:
    attempts: int = 0  # restarts allowed after the first run fails
    delay_s: float = 1.0

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> RestartStrategy:
        kind = RESTART_STRATEGY.get(config) or ("fixed-delay" if checkpointing_enabled(config) else "none")
        if kind == "none":
            return cls(0)
        attempts = RESTART_ATTEMPTS.get(config)
        delay = RESTART_DELAY.get(config) or 0
        return cls(max(attempts, 0), delay / 1000)


def restartable(error: BaseException) -> bool:
    """False when the failure, or what caused it, says a restart cannot help or would do
    harm (``restartable = False``): a Kafka sink fenced by a newer instance of the job is
    a zombie, and restarting it would let it take the job back and commit results again."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if getattr(current, "restartable", True) is False:
            return False
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return True


OWNER_FILE = "_owner"


def _owner_file(job: Job) -> tuple[CheckpointStorage, str]:
    storage = CheckpointConfig.from_config(job.config).storage(job.plan.name)
    return storage, storage.store.join(storage.job_dir, OWNER_FILE)


def claim(job: Job) -> str:
    """Record that this instance runs the job now; the newest claim wins."""
    token = uuid.uuid4().hex
    storage, path = _owner_file(job)
    storage.store.makedirs(storage.job_dir)
    storage.store.write_atomically(path, token)
    return token


def still_owner(job: Job, token: str) -> bool:
    """False once another instance of the job (same name, same checkpoint folder) has
    started after this one: this one is then a zombie and must not come back."""
    storage, path = _owner_file(job)
    try:
        return storage.store.read_text(path).strip() == token
    except OSError:
        return True


class TakenOverError(SqlStreamError):
    """Another instance of the job started after this one; restarting would redo its work."""

    restartable = False


def restart_config(job: Job) -> dict[str, str]:
    """The configuration of the next attempt: resume from the newest complete checkpoint
    of the job when there is one (it supersedes a savepoint the first attempt started
    from); otherwise start as the first attempt did."""
    config = dict(job.config)
    latest = CheckpointConfig.from_config(config).storage(job.plan.name).latest()
    if latest is not None:
        config[SAVEPOINT_PATH.name] = latest
    config[CHECKPOINT_RESUME.name] = "latest"
    return config


async def run_with_restarts(
    first: Job,
    strategy: RestartStrategy,
    on_restart: Callable[[Job, BaseException, int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Job:
    """Run ``first`` and, while it fails and attempts remain, new attempts of it.
    Returns the last attempt; raises its error when it failed for good. ``on_restart``
    hears of each new attempt (the job, the failure, the attempt number)."""
    job = first
    restarts = 0
    token = claim(job) if strategy.attempts else None
    while True:
        try:
            await job.run()
            return job
        except Exception as error:
            try:
                if token is not None and not still_owner(job, token):
                    raise TakenOverError(
                        f"job '{job.plan.name}' failed ({error}), and another instance of it has started "
                        "since: this one stops instead of restarting, so it cannot redo that instance's work",
                        hint="run one instance of a job at a time (a job is named by 'pipeline.name')",
                    ) from error
                if (
                    job.status == JobStatus.CANCELED
                    or cancelled()
                    or restarts >= strategy.attempts
                    or not restartable(error)
                ):
                    raise
                restarts += 1
                log.warning(
                    "job %s failed (%s); restart %d of %d", job.id, error, restarts, strategy.attempts
                )
                await asyncio.sleep(strategy.delay_s)
                if cancelled():
                    raise
            except BaseException:
                job.release()  # no next attempt
                raise
            previous = job
            job = create_job(job.plan, job_id=job.id, config=restart_config(job))
            job.adopt(previous)
            if on_restart is not None:
                on_restart(job, error, restarts)
