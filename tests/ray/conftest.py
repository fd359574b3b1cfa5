"""A Ray cluster of several nodes on this machine, for the whole test session.

Three Ray nodes (a head and two workers, each its own raylet and object store) with two
logical CPUs each, no dashboard and 80 MB object stores: the machine is small and shared,
and the tests need several nodes, not real cores. ``ray_address`` is what a test puts
into ``ray.address``; ``ray_cluster`` lets a test add and remove nodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray
from ray.cluster_utils import Cluster

NODE = {"num_cpus": 2, "object_store_memory": 80 * 1024 * 1024}
NODES = 3


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    for _ in range(NODES - 1):
        cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def ray_address(ray_cluster: Cluster) -> str:
    return str(ray_cluster.address)
