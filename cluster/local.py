"""A Ray cluster of several nodes on this machine, for tests, benchmarks and trying out.

`ray.cluster_utils.Cluster` runs each node's raylet and object store as its own
processes, so removing a node is a real node loss. Everything listens on 127.0.0.1; each
node gets few CPUs and a small object store, and no dashboard.
"""

import os

import ray
import ray._private.ray_constants
from ray.cluster_utils import Cluster

from cluster.spec import NAMESPACE

HOST = "127.0.0.1"


def node_args(cpus: int, store_mb: int) -> dict:
    """The arguments of one small local node."""
    return {"num_cpus": cpus, "object_store_memory": store_mb << 20,
            "node_ip_address": HOST, "include_dashboard": False}


def start(nodes: int = 3, cpus: int = 2, store_mb: int = 150) -> Cluster:
    """Start a cluster of `nodes` nodes and connect this process to it."""
    _loopback()
    local = Cluster(initialize_head=True, head_node_args=node_args(cpus, store_mb))
    for _ in range(nodes - 1):
        local.add_node(**node_args(cpus, store_mb))
    local.wait_for_nodes()
    ray.init(address=local.address, namespace=NAMESPACE, log_to_driver=False)
    return local


def _loopback() -> None:
    """Make Ray take "this machine" as 127.0.0.1, not its network address (which a node
    joining the head would otherwise dial): the switch Ray reads for single-machine
    clusters, set for this process and for the node processes it starts. Usage
    statistics off: nothing leaves the machine."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = False


def stop(local: Cluster) -> None:
    """Disconnect and stop every node."""
    ray.shutdown()
    local.shutdown()
