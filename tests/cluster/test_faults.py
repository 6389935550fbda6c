"""Faults during a bounded write and query loop on the three-node cluster: a replica
actor killed, then a whole node removed. No acknowledged write is lost, no query fails
past the router's deadline, and the replica catches up and serves again."""

import threading
import time

import numpy as np
import pytest
import ray

from cluster import local
from cluster.placement import placement_key, shard_of

pytestmark = pytest.mark.slow

DIM = 16
LOOP_SECONDS = 150.0
"""Hard bound on each loop (it normally stops long before, once enough writes went in)."""
CATCH_UP_SECONDS = 120.0


class Load:
    """Writes batches of 10 records and runs queries in two threads, bounded in count and
    time; remembers every acknowledged id, every failure and the slowest query."""

    def __init__(self, collection, max_writes: int = 400) -> None:
        self.collection = collection
        self.max_writes = max_writes
        self.acked: list[str] = []
        self.failures: list[BaseException] = []
        self.queries = 0
        self.slowest = 0.0
        self._stop = threading.Event()
        self._until = time.monotonic() + LOOP_SECONDS
        self._threads = [threading.Thread(target=self._write), threading.Thread(target=self._read)]
        rng = np.random.default_rng(7)
        self._vectors = rng.normal(size=(max_writes * 10, DIM)).astype(np.float32)

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._until

    def _write(self) -> None:
        for n in range(self.max_writes):
            if not self._running():
                return
            ids = [f"w{n}-{j}" for j in range(10)]
            try:
                self.collection.upsert(ids, self._vectors[n * 10:(n + 1) * 10],
                                       [{"doc_id": f"w{n}", "n": n}] * 10)
            except Exception as exc:
                self.failures.append(exc)
                continue
            self.acked.extend(ids)

    def _read(self) -> None:
        rng = np.random.default_rng(8)
        while self._running():
            started = time.monotonic()
            try:
                self.collection.search(rng.normal(size=DIM).astype(np.float32), k=5)
                self.collection.count({"n": {"$gte": 0}})
            except Exception as exc:
                self.failures.append(exc)
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.queries += 1

    def wait_for(self, acked: int) -> None:
        while len(self.acked) < acked and self._running():
            time.sleep(0.1)


def _roles(collection) -> list[list[str]]:
    return [[r["role"] for r in rows]
            for rows in ray.get([c.describe.remote() for c in collection.coordinators])]


def _wait_all_live(collection) -> None:
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        if all(role == "live" for roles in _roles(collection) for role in roles):
            return
        time.sleep(0.5)
    raise AssertionError(f"replicas not all live after {CATCH_UP_SECONDS} s: "
                         f"{_roles(collection)}")


def _check_every_copy(collection, acked: list[str]) -> None:
    """Every acknowledged id is readable, and every replica of each shard holds exactly
    its shard's records (asked directly, replica by replica)."""
    assert all(r is not None for r in collection.get(acked, include_vectors=False))
    for shard, replicas in enumerate(collection._replicas):
        mine = [i for i in acked if shard_of(placement_key(i, {"doc_id": i.split("-")[0]}),
                                             collection.spec.shards) == shard]
        counts = ray.get([r.read.remote("count") for r in replicas])
        assert len(set(counts)) == 1, f"replicas of shard {shard} disagree: {counts}"
        for replica in replicas:
            found = ray.get(replica.read.remote("get", ids=mine, include_vectors=False))
            assert all(r is not None for r in found)


@pytest.fixture
def loaded(cluster_db):
    collection = cluster_db.create_collection("faults", dim=DIM, index="flat", shards=2,
                                              replicas=2)
    yield collection
    cluster_db.drop_collection("faults")


def test_a_killed_replica_loses_nothing_and_catches_up(loaded):
    victim = loaded._replicas[0][1]
    with Load(loaded) as load:
        load.wait_for(300)
        ray.kill(victim, no_restart=False)  # Ray restarts it: a new, lagging incarnation
        load.wait_for(len(load.acked) + 600)
    _wait_all_live(loaded)
    assert load.failures == []
    print(f"{len(load.acked)} acknowledged records, {load.queries} queries, slowest "
          f"{load.slowest:.2f} s")
    _check_every_copy(loaded, load.acked)


def test_a_removed_node_loses_nothing_and_its_replicas_move(loaded, ray_cluster):
    rows = ray.get(loaded.coordinators[0].describe.remote())
    workers = {node.node_id: node for node in ray_cluster.worker_nodes}
    node = next(workers[r["node"]] for r in rows if r["node"] in workers)
    with Load(loaded) as load:
        load.wait_for(300)
        ray_cluster.remove_node(node)
        load.wait_for(len(load.acked) + 600)
    try:
        _wait_all_live(loaded)
        assert load.failures == []
        print(f"{len(load.acked)} acknowledged records, {load.queries} queries, slowest "
              f"{load.slowest:.2f} s")
        moved = [r["node"] for rows in ray.get([c.describe.remote()
                                                 for c in loaded.coordinators]) for r in rows]
        assert node.node_id not in moved
        _check_every_copy(loaded, load.acked)
    finally:
        ray_cluster.add_node(**local.node_args(cpus=2, store_mb=150))
