"""Which runtime runs a plan: the local asyncio one (the default) or Ray.

``execution.target`` = ``local`` runs every subtask as an asyncio task of this process
(``runtime.job.Job``); ``ray`` runs each as a Ray actor (``runtime.ray.job.RayJob``),
imported only then, so the local path neither needs nor loads Ray.
"""

from __future__ import annotations

from catalog.config import EXECUTION_TARGET
from planner.physical import PhysicalPlan
from runtime.job import Job


def create_job(plan: PhysicalPlan, job_id: str | None = None, config: dict[str, str] | None = None) -> Job:
    """A job of ``plan`` on the runtime its configuration names (nothing runs yet)."""
    if EXECUTION_TARGET.get({**plan.config, **(config or {})}) == "ray":
        from runtime.ray.job import RayJob

        return RayJob(plan, job_id, config)
    return Job(plan, job_id, config)
