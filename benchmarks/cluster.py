"""A collection on a local three-node Ray cluster beside the same data in one process.

    .venv/bin/python -m benchmarks.cluster [--rows 20000] [--queries 300] [--docs 120]

Starts a Ray cluster of three nodes on this machine (`cluster.local`: 2 CPUs and 150 MB
of object store each, 127.0.0.1 only) and measures, side by side in one run:

  fan-out   p50/p99 latency of one-query k=10 searches over the first `--rows` rows of
            ann_dev (HNSW), on a local collection in this process, and through the
            router on distributed collections of 1 shard x 1 replica (the cost of one
            Ray hop) and 3 shards x 2 replicas (scatter, gather, merge); queries
            alternate between the three so machine noise hits all of them; with the
            CPU time the calling process (the router) spends per query;
  ingest    chunks/s of the single-process pipeline (`Ingestor`) into a local store
            against Ray Data (`RayIngestor`, one and two embedding actors) into a
            3 x 2 collection, on `--docs` generated documents (benchmarks.ingest's),
            end to end: model loading in the actors included.

It also prints what a replica holds per record (disk bytes, the RAM of its HNSW
index), the inputs of the sizing in docs/cluster.md. Needs ann_dev (see the README).
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.datasets import DATASETS, load_ann_dev
from benchmarks.ingest import write_document
from cluster import local
from cluster.database import ClusterDatabase
from cluster.ingest import RayIngestor
from ingest.embedding import shared_embedder
from ingest.pipeline import Ingestor
from ingest.store import open_collection
from vectorstore import Database

LAYOUTS = ((1, 1), (3, 2))
INDEX = {"type": "hnsw", "M": 16, "ef_construction": 100}


def fill(collection, base: np.ndarray, batch: int = 2000) -> None:
    for start in range(0, len(base), batch):
        rows = range(start, min(start + batch, len(base)))
        collection.upsert([f"r{i}" for i in rows], base[start:start + batch],
                          [{"doc_id": f"d{i // 8}", "n": i} for i in rows])
    collection.flush()


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def fan_out(db: ClusterDatabase, work: Path, rows: int, queries: int) -> dict:
    data = load_ann_dev(DATASETS, n_base=rows, n_queries=queries)
    targets = {}
    store = Database(work / "local")
    targets["local (in process)"] = store.create_collection("bench", dim=384, index=INDEX,
                                                            seal_rows=5000)
    for shards, replicas in LAYOUTS:
        targets[f"cluster {shards} x {replicas}"] = db.create_collection(
            f"bench{shards}x{replicas}", dim=384, index=INDEX, shards=shards,
            replicas=replicas, seal_rows=5000)
    started = time.perf_counter()
    for target in targets.values():
        fill(target, data.base)
    print(f"filled {len(targets)} collections of {rows} rows in "
          f"{time.perf_counter() - started:.0f} s")
    for target in targets.values():  # warm: numba kernels load in each replica
        for query in data.queries[:5]:
            target.search(query, k=10)
    timings: dict[str, list[float]] = {name: [] for name in targets}
    cpu = dict.fromkeys(targets, 0.0)
    exact = {}
    for q, query in enumerate(data.queries):
        for name, target in targets.items():
            started, used = time.perf_counter(), time.process_time()
            hits = target.search(query, k=10)
            timings[name].append(time.perf_counter() - started)
            cpu[name] += time.process_time() - used
            exact.setdefault(q, {})[name] = [h.id for h in hits]
    same = np.mean([len(set(v["local (in process)"]) & set(v[f"cluster {s} x {r}"])) / 10
                    for v in exact.values() for s, r in LAYOUTS])
    stats = targets["cluster 3 x 2"].stats()
    segment_ram = _index_ram(store, rows)
    store.close()
    for shards, replicas in LAYOUTS:
        db.drop_collection(f"bench{shards}x{replicas}")
    return {"timings": timings, "cpu": {n: c / queries for n, c in cpu.items()},
            "overlap": same, "disk_per_record": stats["disk_bytes"] / rows,
            "index_ram_per_record": segment_ram}


def _index_ram(store: Database, rows: int) -> float:
    """RAM a search keeps per record in the local collection's sealed HNSW segments."""
    collection = store.get_collection("bench")
    sealed = collection._snap().sealed
    return sum(seg.index.nbytes() for seg in sealed) / max(1, sum(map(len, sealed)))


def ingest(db: ClusterDatabase, work: Path, docs: int) -> dict[str, tuple[int, float]]:
    folder = work / "docs"
    folder.mkdir()
    rng = random.Random(11)
    for i in range(docs):
        write_document(folder, i, rng)
    embedder = shared_embedder()
    results = {}
    with Database(work / "ingest") as store:
        started = time.perf_counter()
        with Ingestor(open_collection(store, "docs", embedder), embedder) as ingestor:
            report = ingestor.ingest([folder])
        results["single process (Ingestor)"] = (report.chunks, time.perf_counter() - started)
    for actors in (1, 2):
        name = f"ray{actors}"
        started = time.perf_counter()
        target = open_collection(db, name, embedder)
        report = RayIngestor(target, embedder, embed_actors=actors).ingest([folder])
        results[f"Ray Data, {actors} embedding actor(s), 3 x 2"] = (
            report.chunks, time.perf_counter() - started)
        db.drop_collection(name)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--docs", type=int, default=120)
    args = parser.parse_args()
    load_ann_dev(DATASETS, n_base=1, n_queries=1)  # stop now, with one line, if missing
    console = Console()
    with tempfile.TemporaryDirectory(prefix="sleuth-cluster-") as tmp:
        work = Path(tmp)
        started = local.start(nodes=3, cpus=2, store_mb=150)
        try:
            db = ClusterDatabase(work / "nodes")
            found = fan_out(db, work, args.rows, args.queries)
            ingested = ingest(db, work, args.docs)
        finally:
            local.stop(started)
    table = Table(title=f"one-query k=10 HNSW search, {args.rows} rows, {args.queries} queries")
    for column in ("store", "p50 ms", "p99 ms", "QPS (1 client)", "caller CPU ms/query"):
        table.add_column(column)
    for name, seconds in found["timings"].items():
        p50, p99 = percentiles(seconds)
        table.add_row(name, f"{p50:.2f}", f"{p99:.2f}", f"{1 / np.mean(seconds):.0f}",
                      f"{found['cpu'][name] * 1000:.2f}")
    console.print(table)
    console.print(f"top-10 overlap with the local collection: {found['overlap']:.3f}; "
                  f"per record: {found['disk_per_record']:.0f} disk bytes (all replicas of "
                  f"3 x 2), {found['index_ram_per_record']:.0f} bytes of HNSW index in RAM")
    table = Table(title=f"ingest of {args.docs} generated documents")
    for column in ("pipeline", "chunks", "seconds", "chunks/s"):
        table.add_column(column)
    for name, (chunks, seconds) in ingested.items():
        table.add_row(name, str(chunks), f"{seconds:.1f}", f"{chunks / seconds:.1f}")
    console.print(table)
    console.print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
