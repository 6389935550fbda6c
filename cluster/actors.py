"""The Ray side of a distributed collection: making, finding and removing its actors.

Each shard gets a placement group of one small bundle per replica, spread over nodes
(strategy SPREAD: replicas land on distinct nodes while there are enough, and Ray moves
a bundle to a surviving node when its node dies). Replicas and coordinators are named,
detached actors restarted by Ray without limit (`max_restarts=-1`): they outlive the
process that made them, and any process connected to the cluster finds them by name.
"""

import contextlib
from typing import Any

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from cluster.replica import Replica
from cluster.shard import Shard
from cluster.spec import NAMESPACE, CollectionSpec

REPLICA_CPUS = 0.01
"""What a replica reserves of a node: a token, so that placement, not CPU, decides."""
READ_THREADS = 8
"""Calls a replica serves at once (reads go on while a write waits for its fsync)."""
GROUP_SECONDS = 120.0

RemoteReplica = ray.remote(Replica)
RemoteShard = ray.remote(Shard)


def create(spec: CollectionSpec) -> list[Any]:
    """Start every replica and coordinator of `spec`; the coordinators' handles."""
    coordinators = []
    for shard in range(spec.shards):
        group = placement_group([{"CPU": REPLICA_CPUS}] * spec.replicas, strategy="SPREAD",
                                name=spec.group_name(shard), lifetime="detached")
        ray.get(group.ready(), timeout=GROUP_SECONDS)
        replicas = [
            RemoteReplica.options(
                name=spec.replica_name(shard, r), namespace=NAMESPACE, lifetime="detached",
                max_restarts=-1, max_concurrency=READ_THREADS, num_cpus=REPLICA_CPUS,
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    group, placement_group_bundle_index=r),
            ).remote(spec, shard, r)
            for r in range(spec.replicas)
        ]
        coordinators.append(RemoteShard.options(
            name=spec.shard_name(shard), namespace=NAMESPACE, lifetime="detached",
            max_restarts=-1, num_cpus=0,
        ).remote(spec, shard, replicas))
    return coordinators


def lookup(name: str) -> Any | None:
    """A named actor of Sleuth's namespace, None if there is none."""
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return None


def replicas(spec: CollectionSpec, shard: int) -> list[Any]:
    return [ray.get_actor(spec.replica_name(shard, r), namespace=NAMESPACE)
            for r in range(spec.replicas)]


def actor_names() -> list[str]:
    """Names of the live named actors in Sleuth's namespace."""
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == NAMESPACE]


def remove(spec: CollectionSpec) -> None:
    """Kill every actor of `spec` and free its placement groups (data already dropped)."""
    for shard in range(spec.shards):
        names = [spec.shard_name(shard)] + [spec.replica_name(shard, r)
                                            for r in range(spec.replicas)]
        for name in names:
            actor = lookup(name)
            if actor is not None:
                ray.kill(actor, no_restart=True)
        with contextlib.suppress(ValueError):
            remove_placement_group(ray.util.get_placement_group(spec.group_name(shard)))
