"""The rest of the index family side by side with the libraries people would use instead.

    .venv/bin/python -m benchmarks.quantized [--n 100000] [--queries 1000] [--threads 2]
                                             [--only sq8 lsh forest] [--repeats 3]

On the shared real embeddings (../shared/datasets, 100,000 x 384 all-MiniLM-L6-v2,
cosine), in one run:
- hnsw_sq8 against faiss IndexHNSWSQ (8-bit), usearch (i8) and hnswlib (float32), all
  with M=16, ef_construction=200, sweeping ef (ours at --sq8-rerank);
- lsh against faiss IndexLSH (trained thresholds) + IndexRefineFlat at the same bits and
  the same re-rank factor, sweeping the re-rank, plus our multi-probe tables;
- rp_forest against annoy at the same number of trees, sweeping search_k.
Builds use --threads threads for everyone. Queries run single-threaded (numba, faiss and
BLAS limited to one thread), one query per call, timed by the calling thread's CPU time,
best of --repeats, libraries interleaved at each setting. Prints recall@10 and QPS per
setting, build seconds, resident bytes per vector, and QPS ratios at equal recall
(interpolated along each curve), each against its goal from issue #18.
"""

import os
import time
from collections.abc import Callable
from typing import NamedTuple

import faiss
import numba
import numpy as np
from annoy import AnnoyIndex
from threadpoolctl import threadpool_limits
from usearch.index import Index as UsearchIndex

from vectorstore.config import HnswSq8Config, LshConfig, RpForestConfig
from vectorstore.hnsw_sq8 import HnswSq8Index
from vectorstore.lsh import LshIndex
from vectorstore.metrics import METRICS
from vectorstore.rpforest import RpForestIndex

from .ann import (
    EF_CONSTRUCTION,
    EFS,
    K,
    M,
    best_qps,
    build_hnswlib,
    common_arguments,
    load,
    qps_at,
    recall,
)

METRIC = METRICS["cosine"]
Curve = list[tuple[int, float, float]]  # (setting, recall@10, QPS)
Search = Callable[[np.ndarray, int], np.ndarray]  # (one query (1, d), setting) -> ids


class Seconds(NamedTuple):
    """A build's wall-clock seconds and its process CPU seconds (all threads): on a
    machine shared with other work, CPU seconds are the fairer comparison."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:6.1f} s ({self.cpu:6.1f} s CPU)"


def timed(fn: Callable[[], object]) -> tuple[object, Seconds]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, Seconds(time.perf_counter() - wall, time.process_time() - cpu)


def one_per_call(search: Search, queries: np.ndarray, setting: int) -> np.ndarray:
    return np.stack([search(queries[i:i + 1], setting) for i in range(queries.shape[0])])


def sweep(title: str, knob: str, settings: list[int], libs: dict[str, Search],
          queries: np.ndarray, gt: np.ndarray, repeats: int) -> dict[str, Curve]:
    """Recall@10 and single-thread QPS of every library at every setting."""
    numba.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    curves: dict[str, Curve] = {name: [] for name in libs}
    print(f"\n{title}\n{knob:>8} " + " ".join(f"{name + ' R@10':>22} {'QPS':>7}"
                                            for name in libs))
    with threadpool_limits(1):
        for setting in settings:
            cells = []
            for name, search in libs.items():
                qps, found = best_qps(lambda s=search, v=setting: one_per_call(s, queries, v),
                                      len(queries), repeats)
                curves[name].append((setting, recall(found, gt), qps))
                cells.append(f"{curves[name][-1][1]:>22.4f} {qps:>7.0f}")
            print(f"{setting:>8} " + " ".join(cells), flush=True)
    return curves


def by_recall(curve: Curve) -> Curve:
    """The curve sorted by recall, for interpolation (settings need not be monotone)."""
    return sorted(curve, key=lambda point: point[1])


def report_ratio(what: str, ours: Curve, theirs: Curve, target: float, goal: float) -> None:
    a, b = qps_at(by_recall(ours), target), qps_at(by_recall(theirs), target)
    ratio = a / b
    verdict = "n/a (a curve does not reach it)" if np.isnan(ratio) else \
        ("goal held" if ratio >= goal else "goal NOT held")
    print(f"  {what} at recall@10 {target}: {a:.0f} vs {b:.0f} QPS = {ratio:.2f}x "
          f"(goal >= {goal}x: {verdict})")


def build_threads(threads: int) -> None:
    """Let every library's build use `threads` threads."""
    numba.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)


def bench_sq8(base: np.ndarray, queries: np.ndarray, gt: np.ndarray, args) -> None:
    d, n = base.shape[1], base.shape[0]
    build_threads(args.threads)
    config = HnswSq8Config(M=M, ef_construction=EF_CONSTRUCTION, rerank=args.sq8_rerank)
    ours, t_ours = timed(lambda: HnswSq8Index.build(base, METRIC, config))
    (hnsw, _, hnsw_bytes), t_hnsw = timed(lambda: build_hnswlib(base, args.threads))
    fsq = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, M, faiss.METRIC_INNER_PRODUCT)
    fsq.hnsw.efConstruction = EF_CONSTRUCTION
    _, t_fsq = timed(lambda: (fsq.train(base), fsq.add(base)))
    us = UsearchIndex(ndim=d, metric="cos", dtype="i8", connectivity=M,
                      expansion_add=EF_CONSTRUCTION)
    _, t_us = timed(lambda: us.add(np.arange(n), base, threads=args.threads))
    resident = {"sleuth hnsw_sq8": ours.nbytes(), "hnswlib float": hnsw_bytes,
                "faiss HNSWSQ8": faiss.serialize_index(fsq).nbytes, "usearch i8": us.memory_usage}
    seconds = {"sleuth hnsw_sq8": t_ours, "hnswlib float": t_hnsw, "faiss HNSWSQ8": t_fsq,
               "usearch i8": t_us}
    print(f"\nhnsw_sq8: M={M} ef_construction={EF_CONSTRUCTION}, ours re-ranks "
          f"{args.sq8_rerank} x k on float32 (mapped from disk)")
    for name in resident:
        print(f"  {name:>16} build {seconds[name]}  resident "
              f"{resident[name] / n:7.1f} bytes/vector")

    def with_us(q: np.ndarray, ef: int) -> np.ndarray:
        us.expansion_search = ef
        return us.search(q[0], K, threads=1).keys

    def with_hnswlib(q: np.ndarray, ef: int) -> np.ndarray:
        hnsw.set_ef(ef)
        return hnsw.knn_query(q, k=K, num_threads=1)[0][0]

    def with_faiss(q: np.ndarray, ef: int) -> np.ndarray:
        fsq.hnsw.efSearch = ef
        return fsq.search(q, K)[1][0]

    libs = {"sleuth hnsw_sq8": lambda q, ef: ours.search(q, K, None, {"ef": ef})[0][0],
            "hnswlib float": with_hnswlib, "faiss HNSWSQ8": with_faiss, "usearch i8": with_us}
    curves = sweep("hnsw_sq8 vs peers, by ef", "ef", list(EFS), libs, queries, gt,
                   args.repeats)
    print("hnsw_sq8 goals:")
    report_ratio("QPS sleuth hnsw_sq8 / hnswlib float", curves["sleuth hnsw_sq8"],
                 curves["hnswlib float"], 0.95, 1.2)
    for peer in ("faiss HNSWSQ8", "usearch i8"):
        report_ratio(f"QPS sleuth hnsw_sq8 / {peer}", curves["sleuth hnsw_sq8"],
                     curves[peer], 0.95, 1.0)
    ratio = resident["sleuth hnsw_sq8"] / resident["hnswlib float"]
    print(f"  resident bytes sleuth hnsw_sq8 / hnswlib float = {ratio:.3f} "
          f"(goal <= 0.35: {'goal held' if ratio <= 0.35 else 'goal NOT held'})")


def bench_lsh(base: np.ndarray, queries: np.ndarray, gt: np.ndarray, args) -> None:
    d, n = base.shape[1], base.shape[0]
    build_threads(args.threads)
    for bits in args.lsh_bits:
        ours, t_ours = timed(lambda b=bits: LshIndex.build(base, METRIC, LshConfig(bits=b)))
        flsh = faiss.IndexLSH(d, bits, True, True)
        refine = faiss.IndexRefineFlat(flsh)
        _, t_f = timed(lambda f=flsh, r=refine: (r.train(base), r.add(base)))
        print(f"\nlsh {bits} bits: build sleuth {t_ours}, faiss {t_f}; resident "
              f"before re-rank: sleuth {ours.arrays.codes.nbytes / n:.0f} bytes/vector "
              f"(goal <= 64), faiss {flsh.code_size} bytes/vector")

        def with_faiss(q: np.ndarray, rerank: int, r=refine) -> np.ndarray:
            r.k_factor = rerank
            return r.search(q, K)[1][0]

        libs = {"sleuth lsh": lambda q, rr, o=ours: o.search(q, K, None, {"rerank": rr})[0][0],
                "faiss LSH+refine": with_faiss}
        curves = sweep(f"lsh {bits} bits vs faiss, by re-rank factor", "rerank",
                       args.lsh_rerank, libs, queries, gt, args.repeats)
        print(f"lsh {bits} bits goals:")
        for target in (0.90, 0.95):
            report_ratio("QPS sleuth lsh / faiss", curves["sleuth lsh"],
                         curves["faiss LSH+refine"], target, 1.0)
    tables = LshIndex.build(base, METRIC, LshConfig(bits=max(args.lsh_bits), tables=8))
    print(f"\nsleuth lsh {max(args.lsh_bits)} bits with 8 multi-probe tables: resident "
          f"{tables.nbytes() / n:.0f} bytes/vector; probes sweep at re-rank 20")
    sweep("lsh multi-probe tables", "probes", [4, 16, 64, 256, 1024],
          {"sleuth lsh tables": lambda q, p: tables.search(
              q, K, None, {"probes": p, "rerank": 20})[0][0]}, queries, gt, args.repeats)


def bench_forest(base: np.ndarray, queries: np.ndarray, gt: np.ndarray, args) -> None:
    d, n = base.shape[1], base.shape[0]
    trees = args.trees
    build_threads(args.threads)
    ours, t_ours = timed(lambda: RpForestIndex.build(base, METRIC, RpForestConfig(trees=trees)))
    annoy = AnnoyIndex(d, "angular")
    annoy.set_seed(42)
    for i in range(n):
        annoy.add_item(i, base[i])
    _, t_annoy = timed(lambda: annoy.build(trees, n_jobs=args.threads))
    ratio = t_ours.cpu / t_annoy.cpu
    print(f"\nrp_forest vs annoy, {trees} trees, {args.threads} build threads: build sleuth "
          f"{t_ours}, annoy {t_annoy}; CPU ratio {ratio:.2f} "
          f"(wall {t_ours.wall / t_annoy.wall:.2f}), goal <= 1.0: "
          f"{'goal held' if ratio <= 1.0 else 'goal NOT held'}; trees in RAM: "
          f"sleuth {ours.nbytes() / n:.0f} bytes/vector")
    libs = {"sleuth rp_forest": lambda q, s: ours.search(q, K, None, {"search_k": s})[0][0],
            "annoy": lambda q, s: np.array(annoy.get_nns_by_vector(q[0], K, search_k=s))}
    curves = sweep(f"rp_forest vs annoy ({trees} trees), by search_k", "search_k",
                   args.search_k, libs, queries, gt, args.repeats)
    print("rp_forest goals:")
    report_ratio("QPS sleuth rp_forest / annoy", curves["sleuth rp_forest"], curves["annoy"],
                 0.90, 1.0)


def main() -> None:
    parser = common_arguments(__doc__)
    parser.add_argument("--only", nargs="+", choices=["sq8", "lsh", "forest"],
                        default=["sq8", "lsh", "forest"])
    parser.add_argument("--sq8-rerank", type=int, default=HnswSq8Config().rerank)
    parser.add_argument("--lsh-bits", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--lsh-rerank", type=int, nargs="+", default=[2, 5, 10, 20, 40, 80])
    parser.add_argument("--trees", type=int, default=RpForestConfig().trees)
    parser.add_argument("--search-k", type=int, nargs="+",
                        default=[1000, 2000, 4000, 8000, 16000, 32000])
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}, {os.cpu_count()} cpus, numba {numba.__version__}")
    base, queries, gt = load(args.n, args.queries)
    base, queries = METRIC.prepare(base), METRIC.prepare(queries)
    print(f"data: {base.shape[0]} x {base.shape[1]}, {queries.shape[0]} queries, k={K}")
    sections = {"sq8": bench_sq8, "lsh": bench_lsh, "forest": bench_forest}
    for name in args.only:
        sections[name](base, queries, gt, args)
    print(f"\nload average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
