"""A collection on a local three-node Ray cluster beside the same data in one process.

    .venv/bin/python -m benchmarks.cluster [--rows 20000] [--queries 300] [--docs 120]

Starts a Ray cluster of three nodes on this machine (`cluster.local`: 2 CPUs and 150 MB
of object store each, 127.0.0.1 only) and measures, side by side in one run:

  fan-out   p50/p99 latency of one-query k=10 searches, vector and hybrid (BM25 over
            the passages' text fused with the vector ranking), over the first `--rows`
            rows of ann_dev (HNSW), on a local collection in this process, and through the
            router on distributed collections of 1 shard x 1 replica (the cost of one
            Ray hop) and 3 shards x 2 replicas (scatter, gather, merge); queries
            alternate between the three so machine noise hits all of them; with the
            CPU time the calling process (the router) spends per query;
  ingest    chunks/s of the single-process pipeline (`Ingestor`) into a local store
            against Ray Data (`RayIngestor`, one and two embedding actors) into a
            3 x 2 collection, on `--docs` generated documents (benchmarks.ingest's),
            end to end: model loading in the actors included; `--rounds` rounds, the
            three alternating within each.

It also prints what a replica holds per record (disk bytes, the RAM of its HNSW
index), the inputs of the sizing in docs/cluster.md. Needs ann_dev and its passages
(see the README).
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.datasets import DATASETS, load_ann_dev, load_passages
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


MODES = ("vector", "hybrid")
QUERY_WORDS = 6
"""A hybrid query's text: the first words of the query passage."""


def fill(collection, base: np.ndarray, texts: list[str], batch: int = 2000) -> None:
    for start in range(0, len(base), batch):
        rows = range(start, min(start + batch, len(base)))
        collection.upsert([f"r{i}" for i in rows], base[start:start + batch],
                          [{"doc_id": f"d{i // 8}", "n": i, "text": texts[i]} for i in rows])
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
    passages = load_passages(DATASETS)
    words = [" ".join(p.split()[:QUERY_WORDS]) for p in passages[100_000:100_000 + queries]]
    started = time.perf_counter()
    for target in targets.values():
        fill(target, data.base, passages)
    print(f"filled {len(targets)} collections of {rows} rows in "
          f"{time.perf_counter() - started:.0f} s")
    for target in targets.values():  # warm: numba kernels load in each replica
        for query, text in zip(data.queries[:5], words, strict=False):
            target.search(query, k=10, text=text, mode="hybrid")
    timings = {(name, mode): [] for name in targets for mode in MODES}
    cpu = dict.fromkeys(timings, 0.0)
    exact = {}
    for q, query in enumerate(data.queries):
        for name, target in targets.items():
            for mode in MODES:
                started, used = time.perf_counter(), time.process_time()
                hits = target.search(query, k=10, text=words[q], mode=mode)
                timings[name, mode].append(time.perf_counter() - started)
                cpu[name, mode] += time.process_time() - used
                if mode == "vector":
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


def ingest(db: ClusterDatabase, work: Path, docs: int, rounds: int
           ) -> dict[str, tuple[int, list[float]]]:
    """Chunks and seconds per round of each pipeline, the pipelines alternating within
    each round (so a busy spell on the machine does not fall on one of them only)."""
    folder = work / "docs"
    folder.mkdir()
    rng = random.Random(11)
    for i in range(docs):
        write_document(folder, i, rng)
    embedder = shared_embedder()
    results: dict[str, tuple[int, list[float]]] = {}

    def timed(name: str, run) -> None:
        started = time.perf_counter()
        chunks = run()
        results.setdefault(name, (chunks, []))[1].append(time.perf_counter() - started)

    def single(n: int) -> int:
        with Database(work / f"ingest{n}") as store, \
                Ingestor(open_collection(store, "docs", embedder), embedder) as ingestor:
            return ingestor.ingest([folder]).chunks

    def on_ray(actors: int, n: int) -> int:
        name = f"ray{actors}.{n}"
        target = open_collection(db, name, embedder)
        try:
            return RayIngestor(target, embedder, embed_actors=actors).ingest([folder]).chunks
        finally:
            db.drop_collection(name)

    for n in range(rounds):
        timed("single process (Ingestor)", lambda n=n: single(n))
        for actors in (1, 2):
            timed(f"Ray Data, {actors} embedding actor(s), 3 x 2",
                  lambda actors=actors, n=n: on_ray(actors, n))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2, help="ingest rounds")
    args = parser.parse_args()
    load_ann_dev(DATASETS, n_base=1, n_queries=1)  # stop now, with one line, if missing
    load_passages(DATASETS)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="sleuth-cluster-") as tmp:
        work = Path(tmp)
        started = local.start(nodes=3, cpus=2, store_mb=150)
        try:
            db = ClusterDatabase(work / "nodes")
            found = fan_out(db, work, args.rows, args.queries)
            ingested = ingest(db, work, args.docs, args.rounds)
        finally:
            local.stop(started)
    table = Table(title=f"one-query k=10 searches, HNSW, {args.rows} rows, {args.queries} "
                  f"queries (hybrid: the vector and the query passage's first "
                  f"{QUERY_WORDS} words)")
    for column in ("store", "mode", "p50 ms", "p99 ms", "QPS (1 client)",
                   "caller CPU ms/query"):
        table.add_column(column)
    for (name, mode), seconds in found["timings"].items():
        p50, p99 = percentiles(seconds)
        table.add_row(name, mode, f"{p50:.2f}", f"{p99:.2f}", f"{1 / np.mean(seconds):.0f}",
                      f"{found['cpu'][name, mode] * 1000:.2f}")
    console.print(table)
    console.print(f"top-10 overlap with the local collection: {found['overlap']:.3f}; "
                  f"per record: {found['disk_per_record']:.0f} disk bytes (one copy: a "
                  f"replica per shard), {found['index_ram_per_record']:.0f} bytes of HNSW "
                  f"index in RAM")
    table = Table(title=f"ingest of {args.docs} generated documents, {args.rounds} round(s)")
    for column in ("pipeline", "chunks", "seconds per round", "chunks/s (best round)"):
        table.add_column(column)
    for name, (chunks, seconds) in ingested.items():
        table.add_row(name, str(chunks), " ".join(f"{s:.1f}" for s in seconds),
                      f"{chunks / min(seconds):.1f}")
    console.print(table)
    console.print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
