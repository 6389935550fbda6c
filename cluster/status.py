"""What `sleuth cluster status` shows: the cluster's nodes, and every distributed
collection's shards and replicas with their node, role, size and health."""

from dataclasses import dataclass
from typing import Any

import ray

from cluster.database import ClusterDatabase


@dataclass(frozen=True)
class ReplicaRow:
    collection: str
    shard: int
    replica: int
    role: str
    """live (serving), joining (catching up), stale (behind, not yet rejoining), down."""
    node: str | None
    address: str | None
    records: int | None
    disk_bytes: int | None
    health: str | None


def nodes() -> list[dict[str, Any]]:
    """The cluster's nodes: id, address, alive, CPUs and object store bytes."""
    return [{"node": n["NodeID"], "address": n["NodeManagerAddress"], "alive": n["Alive"],
             "cpus": n["Resources"].get("CPU", 0),
             "object_store_bytes": n["Resources"].get("object_store_memory", 0)}
            for n in ray.nodes()]


def replica_rows(db: ClusterDatabase) -> list[ReplicaRow]:
    """One row per replica of every collection, in collection, shard, replica order."""
    addresses = {n["node"]: n["address"] for n in nodes()}
    rows = []
    for name in db.list_collections():
        collection = db.get_collection(name)
        described = ray.get([c.describe.remote() for c in collection.coordinators])
        for shard in described:
            for r in shard:
                rows.append(ReplicaRow(name, r["shard"], r["replica"], r["role"], r["node"],
                                       addresses.get(r["node"]), r["count"], r["disk_bytes"],
                                       r["health"]))
    return rows
