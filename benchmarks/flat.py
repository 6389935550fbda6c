"""Exact search and upsert throughput of the store against its peers, in one run.

    .venv/bin/python -m benchmarks.flat [--upsert-rows 50000]

Data: the shared real embeddings (100,000 x 384 all-MiniLM-L6-v2, normalised) and their
1,000 held-out queries. Exact search: Sleuth's flat collection (end to end, ids and
payloads included) and its bare kernel, beside numpy matmul + argpartition and faiss
IndexFlatIP. Upsert: records/s in batches of 1,000 with fsync on, beside chromadb's
PersistentClient.add. Everything uses the machine's default thread count.
"""

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable

import numpy as np

from benchmarks.datasets import load_ann_dev
from vectorstore import Database
from vectorstore.flat import exact_search
from vectorstore.metrics import METRIC_IP

K = 10


def recall(found: np.ndarray, gt: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(g[:K])) / K for f, g in zip(found, gt, strict=True)]))


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def numpy_search(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    scores = queries @ base.T
    part = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def search_rows(name: str, single: Callable[[np.ndarray], np.ndarray],
                batch: Callable[[np.ndarray], np.ndarray], queries: np.ndarray,
                gt: np.ndarray, n_single: int) -> dict:
    single(queries[0])
    found = np.array([single(q) for q in queries[:n_single]])
    t_single = timed(lambda: [single(q) for q in queries[:n_single]])
    t_batch = timed(lambda: batch(queries), repeat=3)
    return {"engine": name, "recall": recall(found, gt[:n_single]),
            "single_qps": n_single / t_single, "batch_qps": len(queries) / t_batch}


def bench_search(base: np.ndarray, queries: np.ndarray, gt: np.ndarray, n_single: int,
                 workdir: str) -> list[dict]:
    import faiss

    rows = []
    with Database(f"{workdir}/search") as db:
        col = db.create_collection("flat", dim=base.shape[1], metric="dot", index="flat",
                                   seal_rows=base.shape[0] + 1)
        for start in range(0, base.shape[0], 10_000):
            stop = min(start + 10_000, base.shape[0])
            col.upsert([str(i) for i in range(start, stop)], base[start:stop],
                       [{"i": i} for i in range(start, stop)])
        col.flush()

        def ids(hits: list) -> np.ndarray:
            return np.array([int(h.id) for h in hits])

        rows.append(search_rows(
            "sleuth Collection.search", lambda q: ids(col.search(q, k=K)),
            lambda qs: [ids(h) for h in col.search(qs, k=K)], queries, gt, n_single))
    rows.append(search_rows(
        "sleuth exact_search kernel",
        lambda q: exact_search(base, q[None, :], K, METRIC_IP, None)[0][0],
        lambda qs: exact_search(base, qs, K, METRIC_IP, None)[0], queries, gt, n_single))
    rows.append(search_rows("numpy matmul+argpartition", lambda q: numpy_search(base, q[None])[0],
                            lambda qs: numpy_search(base, qs), queries, gt, n_single))
    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    rows.append(search_rows("faiss IndexFlatIP", lambda q: index.search(q[None], K)[1][0],
                            lambda qs: index.search(qs, K)[1], queries, gt, n_single))
    return rows


def bench_upsert(base: np.ndarray, n: int, workdir: str) -> list[dict]:
    import chromadb

    batches = [(start, min(start + 1000, n)) for start in range(0, n, 1000)]
    payloads = [{"source": f"doc{i // 50}.pdf", "page": i % 50, "chunk": i} for i in range(n)]
    ids = [f"id{i}" for i in range(n)]
    with Database(f"{workdir}/upsert") as db:
        col = db.create_collection("up", dim=base.shape[1], metric="cosine")
        start = time.perf_counter()
        for a, b in batches:
            col.upsert(ids[a:b], base[a:b], payloads[a:b])
        sleuth_rate = n / (time.perf_counter() - start)
    client = chromadb.PersistentClient(path=f"{workdir}/chroma")
    chroma = client.create_collection("upsert", metadata={"hnsw:space": "cosine"},
                                      embedding_function=None)
    start = time.perf_counter()
    for a, b in batches:
        chroma.add(ids=ids[a:b], embeddings=base[a:b], metadatas=payloads[a:b])
    chroma_rate = n / (time.perf_counter() - start)
    return [{"engine": "sleuth Collection.upsert (fsync)", "records_per_s": sleuth_rate},
            {"engine": "chromadb PersistentClient.add", "records_per_s": chroma_rate}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upsert-rows", type=int, default=50_000)
    parser.add_argument("--single-queries", type=int, default=200)
    args = parser.parse_args()
    data = load_ann_dev()
    workdir = tempfile.mkdtemp(prefix="sleuth-bench-")
    try:
        search = bench_search(data.base, data.queries, data.gt, args.single_queries, workdir)
        upsert = bench_upsert(data.base, args.upsert_rows, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    faiss_row = next(r for r in search if r["engine"].startswith("faiss"))
    print(f"\nExact search, {data.base.shape[0]:,} x {data.base.shape[1]} real embeddings, k={K}")
    print(f"{'engine':32} {'recall@10':>9} {'1-query QPS':>12} {'vs faiss':>9} "
          f"{'batch QPS':>10} {'vs faiss':>9}")
    for r in search:
        print(f"{r['engine']:32} {r['recall']:9.3f} {r['single_qps']:12.1f} "
              f"{r['single_qps'] / faiss_row['single_qps']:9.2f} {r['batch_qps']:10.1f} "
              f"{r['batch_qps'] / faiss_row['batch_qps']:9.2f}")
    print(f"\nUpsert, {args.upsert_rows:,} records in batches of 1,000")
    chroma_rate = upsert[1]["records_per_s"]
    for r in upsert:
        print(f"{r['engine']:36} {r['records_per_s']:12.0f} rec/s "
              f"{r['records_per_s'] / chroma_rate:6.2f}x chromadb")


if __name__ == "__main__":
    main()
