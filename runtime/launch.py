"""Which runtime runs a plan: the local asyncio one (the default) or Ray.

``execution.target`` = ``local`` runs every subtask as an asyncio task of this process
(``runtime.job.Job``); ``ray`` runs each as a Ray actor (``runtime.ray.job.RayJob``),
imported only then, so the local path neither needs nor loads Ray.
"""

from __future__ import annotations

from catalog.config import EXECUTION_TARGET
from planner.physical import PhysicalPlan
from runtime.job import Job


def create_job(
    plan: PhysicalPlan,
    job_id: str | None = None,
    config: dict[str, str] | None = None,
    preflight: bool = False,
) -> Job:
    """A job of ``plan`` on the runtime its configuration names (nothing runs yet). With
    ``preflight``, the job checks now, in the caller's thread, what it can before it
    starts (an object store for its checkpoints takes a file; on Ray, the cluster is
    reachable, has enough CPUs, and every node reaches the checkpoint folder): the
    statement that submits it fails with the reason instead of a job that fails."""
    job: Job
    if EXECUTION_TARGET.get({**plan.config, **(config or {})}) == "ray":
        from runtime.ray.job import RayJob

        job = RayJob(plan, job_id, config)
    else:
        job = Job(plan, job_id, config)
    if preflight:
        job.preflight()
    return job
