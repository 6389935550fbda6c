"""IVF-PQ against faiss-cpu IndexIVFPQ on the shared real embeddings.

    .venv/bin/python -m benchmarks.ivfpq [--nprobe 4 8 16 ...] [--rerank 4 10]

Both indexes get the same cosine-prepared vectors, training sample, nlist, m and 8-bit
codes; faiss re-ranks with IndexRefineFlat (k_factor = rerank), we re-rank against the
float32 vectors. Training and adding use every thread; searches run one batch of all
queries on one thread (numba and faiss/OpenMP/BLAS all limited to 1), best of --repeat.
Reports recall@10, QPS, train and add seconds and bytes per vector held in RAM, then the
QPS ratio at equal recall (faiss QPS interpolated along its recall curve).
"""

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import faiss
import numba
import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.datasets import load_ann_dev
from vectorstore.config import IvfPqConfig
from vectorstore.ivfpq import IvfPqIndex, add, choose_m, choose_nlist, fit
from vectorstore.metrics import METRICS

K = 10
METRIC = METRICS["cosine"]


@dataclass(frozen=True)
class Row:
    library: str
    nprobe: int
    rerank: int
    recall: float
    qps: float


def recall_at_k(rows: np.ndarray, gt: np.ndarray) -> float:
    return float(np.mean([len(set(r[:K]) & set(g[:K])) / K for r, g in zip(rows, gt, strict=True)]))


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def best_qps(search: Callable[[], np.ndarray], nq: int, repeat: int) -> tuple[np.ndarray, float]:
    times = []
    for _ in range(repeat):
        rows, seconds = timed(search)
        times.append(seconds)
    return rows, nq / min(times)


def build_ours(base: np.ndarray, config: IvfPqConfig) -> tuple[IvfPqIndex, float, float]:
    nlist, m = choose_nlist(len(base), config), choose_m(base.shape[1], config)
    (centroids, codebooks), t_train = timed(lambda: fit(base, nlist, m, config))
    arrays, t_add = timed(lambda: add(base, centroids, codebooks, METRIC.kernel))
    return IvfPqIndex(base, METRIC, config, arrays), t_train, t_add


def build_faiss(base: np.ndarray, sample: np.ndarray, nlist: int, m: int
                ) -> tuple[faiss.Index, faiss.IndexRefineFlat, float, float]:
    """IndexIVFPQ and an IndexRefineFlat over it (which must wrap it while empty); the
    add time is the IVF-PQ's alone."""
    ivf = faiss.index_factory(base.shape[1], f"IVF{nlist},PQ{m}x8", faiss.METRIC_INNER_PRODUCT)
    _, t_train = timed(lambda: ivf.train(sample))
    refine = faiss.IndexRefineFlat(ivf)
    _, t_add = timed(lambda: ivf.add(base))
    refine.refine_index.add(base)
    refine.ntotal = ivf.ntotal
    return ivf, refine, t_train, t_add


def faiss_ram_bytes(index: faiss.Index) -> int:
    """What the index holds in RAM: its serialised size (codes, int64 ids, centroids,
    codebooks) is a close lower bound."""
    return int(faiss.serialize_index(index).nbytes)


def sweep(ours: IvfPqIndex, ivf: faiss.Index, refine: faiss.IndexRefineFlat,
          queries: np.ndarray, gt: np.ndarray, nprobes: list[int], reranks: list[int],
          repeat: int) -> list[Row]:
    out = []
    for r in [0, *reranks]:
        for nprobe in nprobes:
            faiss.extract_index_ivf(ivf).nprobe = nprobe
            rows, qps = best_qps(lambda r=r, p=nprobe: ours.search(
                queries, K, None, {"nprobe": p, "rerank": r})[0], len(queries), repeat)
            out.append(Row("sleuth", nprobe, r, recall_at_k(rows, gt), qps))
            target = ivf if r == 0 else refine
            if r:
                refine.k_factor = r
            rows, qps = best_qps(lambda t=target: t.search(queries, K)[1], len(queries), repeat)
            out.append(Row("faiss", nprobe, r, recall_at_k(rows, gt), qps))
    return out


def qps_ratios(rows: list[Row]) -> list[tuple[Row, float]]:
    """For each of our rows, our QPS over faiss's QPS at the same recall with the same
    re-rank, interpolating faiss's (recall, QPS) curve; NaN outside its recall range."""
    out = []
    for row in (r for r in rows if r.library == "sleuth"):
        theirs = sorted((r.recall, r.qps) for r in rows
                        if r.library == "faiss" and r.rerank == row.rerank)
        recalls, qps = np.array(theirs).T
        inside = recalls[0] <= row.recall <= recalls[-1]
        out.append((row, row.qps / np.interp(row.recall, recalls, qps) if inside else np.nan))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nprobe", type=int, nargs="+", default=[4, 8, 16, 32, 48, 64, 128, 256])
    parser.add_argument("--rerank", type=int, nargs="+", default=[4, 10])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}, cores: {os.cpu_count()}")
    data = load_ann_dev()
    base, queries = METRIC.prepare(data.base), METRIC.prepare(data.queries)
    config = IvfPqConfig()
    ours, o_train, o_add = build_ours(base, config)
    nlist, m = ours.arrays.centroids.shape[0], ours.arrays.codes.shape[1]
    rng = np.random.default_rng(config.seed)
    sample = base[np.sort(rng.choice(len(base), config.train_size, replace=False))]
    ivf, refine, f_train, f_add = build_faiss(base, sample, nlist, m)
    print(f"n={len(base)} d={base.shape[1]} nlist={nlist} m={m} nbits=8 "
          f"queries={len(queries)} k={K}")
    print(f"train s: sleuth {o_train:.1f}  faiss {f_train:.1f}   "
          f"add s: sleuth {o_add:.1f}  faiss {f_add:.1f}")
    print(f"RAM bytes/vector: sleuth {ours.nbytes() / len(base):.1f} (float32 stay on disk), "
          f"faiss {faiss_ram_bytes(ivf) / len(base):.1f} "
          f"(+{4 * base.shape[1]} with IndexRefineFlat, which keeps float32 in RAM); "
          f"float32 {4 * base.shape[1]}")
    numba.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    with threadpool_limits(1):
        ours.search(queries[:2], K, None, {})
        rows = sweep(ours, ivf, refine, queries, data.gt, args.nprobe, args.rerank,
                     args.repeat)
    print(f"\n{'library':8} {'nprobe':>6} {'rerank':>6} {'recall@10':>9} {'QPS':>8}")
    for r in rows:
        print(f"{r.library:8} {r.nprobe:6d} {r.rerank:6d} {r.recall:9.4f} {r.qps:8.0f}")
    print("\nQPS ratio sleuth / faiss at equal recall@10 (same re-rank):")
    for row, ratio in qps_ratios(rows):
        print(f"  nprobe {row.nprobe:4d} rerank {row.rerank:3d} recall {row.recall:.4f}: "
              + ("outside faiss's range" if np.isnan(ratio) else f"{ratio:.2f}x"))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
