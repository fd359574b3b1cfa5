"""Connecting to Ray, and the checks made before a job's actors are created: Ray is
installed, the cluster answers, it has the CPUs the plan's parallelism needs, and every
node reaches the checkpoint folder. Each failure is a ``RayError`` that says what to do,
raised before any subtask runs.

A subtask actor asks for ``1 / nodes`` of a CPU (``nodes``: the plan's operators), so the
subtasks of one parallel instance of the whole pipeline share one CPU, as a Flink task
slot hosts one subtask of each operator: a job of parallelism ``p`` needs ``p`` CPUs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import uuid
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from catalog.errors import SqlStreamError
from planner.physical import PhysicalPlan
from runtime.checkpoint.store import open_store
from runtime.graph import parallelism

DEFAULT_PORT = 6379
PROBE_TIMEOUT_S = 60.0


class RayError(SqlStreamError):
    """Ray cannot run this job (not installed, unreachable, too small, no shared folder)."""


def require_ray() -> ModuleType:
    """The ``ray`` module, or a clear error when it is not installed."""
    try:
        import ray
    except ImportError:
        raise RayError(
            "execution.target = 'ray' needs Ray, which is not installed in this Python",
            hint="pip install 'sqlstream[ray]' (on the machine that submits the job and on every Ray node)",
        ) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """The head's (host, port) in ``ray.address``; None for 'auto' (Ray finds it)."""
    text = address.strip()
    if text in ("", "auto", "local"):
        return None
    text = text.removeprefix("ray://")
    host, _, port = text.rpartition(":")
    if not host:
        return text, DEFAULT_PORT
    try:
        return host, int(port)
    except ValueError:
        raise RayError(
            f"'ray.address' = '{address}' is not host:port",
            hint="use the address `ray start --head` printed, e.g. 10.0.0.5:6379",
        ) from None


def connect(address: str | None) -> ModuleType:
    """Join the cluster at ``address`` (None: start a Ray instance on this machine), once
    per process. An address nobody answers at is refused in seconds, not after Ray's
    minute of retries."""
    ray = require_ray()
    where = _host_port(address) if address else None
    if where is not None:
        try:
            socket.create_connection(where, timeout=3).close()
        except OSError as e:
            raise RayError(
                f"cannot reach the Ray cluster at 'ray.address' = '{address}': {e.strerror or e}",
                hint="start the cluster's head there (`ray start --head`), or SET 'ray.address' to "
                "its host:port; unset it to start Ray on this machine",
            ) from None
    if ray.is_initialized():
        joined = ray.get_runtime_context().gcs_address
        current = _host_port(joined)
        # the port tells clusters apart (a host has several names: 127.0.0.1, its IP)
        if where is not None and current is not None and current[1] != where[1]:
            raise RayError(
                f"this process already runs jobs on the Ray cluster at {joined}, not on "
                f"'ray.address' = '{address}': a process joins one Ray cluster",
                hint=f"SET 'ray.address' = '{joined}', or run the job from another sqlstream process",
            )
        return ray
    try:
        ray.init(
            address=address or None,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise RayError(
            f"cannot connect to Ray at '{address or 'a new local instance'}': {e}",
            hint="check 'ray.address' and that the cluster runs the same Ray version",
        ) from None
    return ray


def cpu_share(plan: PhysicalPlan) -> float:
    """The CPUs one subtask actor asks Ray for (see the module's docstring), rounded down
    to Ray's precision so that ``nodes`` shares never add up to more than one CPU.

    >>> from planner.physical import CalcSpec, Node
    >>> plan = PhysicalPlan(tuple(Node(i, "n", CalcSpec((), None), (), ()) for i in range(7)))
    >>> cpu_share(plan), cpu_share(plan) * 7 <= 1
    (0.1428, True)
    """
    return math.floor(10_000 / max(len(plan.nodes), 1)) / 10_000


def check_cpus(ray: ModuleType, plan: PhysicalPlan) -> None:
    """Refuse a plan whose subtasks need more CPUs than the whole cluster has (Ray would
    otherwise wait forever for the actors it cannot place)."""
    subtasks = sum(parallelism(n) for n in plan.nodes)
    needed = subtasks * cpu_share(plan)
    total = float(ray.cluster_resources().get("CPU", 0.0))
    if needed > total + 1e-6:
        p = max(parallelism(n) for n in plan.nodes)
        raise RayError(
            f"the job needs {needed:g} CPUs on Ray (parallelism {p}: {subtasks} subtasks of "
            f"{len(plan.nodes)} operators, one CPU per parallel pipeline), but the cluster has {total:g}",
            hint="lower 'parallelism.default', or add nodes to the Ray cluster",
        )


def _probe_folder(folder: str, token: str, options: dict[str, str]) -> str | None:
    """On one node: None when it sees the file the submitter wrote into ``folder`` (a
    shared folder or an object store) and can write its own there; otherwise why not."""
    try:
        store = open_store(folder, options)
        marker = store.join(folder, f".sqlstream-probe-{token}")
        if store.read_text(marker) != token:
            return "it sees another file under that name"
    except (OSError, SqlStreamError) as e:
        why = e.message if isinstance(e, SqlStreamError) else (e.strerror or e)
        return f"it does not see the file the submitting machine wrote there ({why})"
    mine = f"{marker}-{uuid.uuid4().hex[:8]}"
    try:
        store.write_atomically(mine, token)
        store.delete(mine)
    except (OSError, SqlStreamError) as e:
        why = e.message if isinstance(e, SqlStreamError) else (e.strerror or e)
        return f"it cannot write there ({why})"
    return None


def check_checkpoint_dir(ray: ModuleType, directory: str, config: Mapping[str, str]) -> None:
    """Every alive node must see the same checkpoint folder as this machine (a shared
    mount, or the same object store): a subtask writes its state there and restores from
    it on whichever node it lands after a failure."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options = {k: v for k, v in config.items() if k.startswith("s3.")}
    token = uuid.uuid4().hex
    try:
        store = open_store(directory, options)
        marker = store.join(directory, f".sqlstream-probe-{token}")
        store.makedirs(directory)
        store.write_atomically(marker, token)
    except (OSError, SqlStreamError) as e:
        why = e.message if isinstance(e, SqlStreamError) else (e.strerror or e)
        raise RayError(
            f"cannot write the checkpoint folder 'state.checkpoints.dir' = '{directory}': {why}",
            hint="point it at a folder every Ray node and this machine share, or at an object "
            "store (s3://bucket/path) they all reach",
        ) from None
    try:
        probe = ray.remote(num_cpus=0, max_retries=0)(_probe_folder)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        refs: list[tuple[dict[str, Any], Any]] = [
            (
                n,
                probe.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
                ).remote(directory, token, options),
            )
            for n in nodes
        ]
        for node, ref in refs:
            try:
                why = ray.get(ref, timeout=PROBE_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError:
                why = f"it did not answer within {PROBE_TIMEOUT_S:g} s"
            except Exception:  # the node went away meanwhile: it runs no subtask
                continue
            if why is not None:
                raise RayError(
                    f"Ray node {node.get('NodeManagerAddress', '?')} ({node['NodeID'][:12]}) cannot use "
                    f"the checkpoint folder 'state.checkpoints.dir' = '{directory}': {why}",
                    hint="every Ray node must reach the same folder (a shared mount such as NFS) at "
                    "the same path, or the same object store (s3://...) with the same 's3.*' settings",
                )
    finally:
        with contextlib.suppress(OSError, SqlStreamError):
            store.delete(marker)
