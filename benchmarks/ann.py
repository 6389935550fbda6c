"""HNSW side by side: Sleuth's numba HNSW, hnswlib and faiss IndexHNSWFlat.

    .venv/bin/python -m benchmarks.ann [--n 100000] [--threads 2] [--repeats 3]

Same data (the real all-MiniLM-L6-v2 set in ../shared/datasets), same M=16,
ef_construction=200 and the same build threads for all three. Queries run single-threaded
(numba.set_num_threads(1), hnswlib num_threads=1, faiss omp 1) as one batch call, timed
by the calling thread's CPU time, best of `--repeats`, with the libraries interleaved at
each ef so machine noise hits all alike. Prints recall@10 and QPS per ef, build time,
index bytes, QPS ratios at recall@10 = 0.95 (interpolated), and filtered search at 10%
selectivity against unfiltered.

Then the product path, one query per call: `Collection.search` of a collection created
with default settings (no hand-set seal or merge sizes) and filled by upserting the same
rows in batches of 1,000, waited on until its background sealing and merging are done
(the number of segments the defaults produced is printed), beside the raw index, hnswlib
and faiss each called once per query too. The product path is timed both as users call
it by default (payloads decoded) and asking for ids and scores only.
"""

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import hnswlib
import numba
import numpy as np

from vectorstore import Collection, Database
from vectorstore.config import HnswConfig
from vectorstore.flat import exact_search
from vectorstore.hnsw import HnswIndex
from vectorstore.metrics import METRICS

from .datasets import load_ann_dev

M, EF_CONSTRUCTION, K = 16, 200, 10
EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256)
TARGET = 0.95
SELECTIVITY = 0.10

Searcher = Callable[[np.ndarray, int], np.ndarray]


def load(n: int | None, n_queries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = load_ann_dev(n_base=n, n_queries=n_queries)
    gt = data.gt[:, :K]
    if gt.shape[1] < K:
        gt = exact_search(data.base, data.queries, K, 0, None)[0]
    return data.base, data.queries, gt


def recall(found: np.ndarray, gt: np.ndarray) -> float:
    pairs = zip(found, gt, strict=True)
    hits = sum(len(set(f[f >= 0].tolist()) & set(g.tolist())) for f, g in pairs)
    return hits / gt.size


def build_sleuth(base: np.ndarray, threads: int) -> tuple[HnswIndex, float, int]:
    numba.set_num_threads(threads)
    start = time.perf_counter()
    config = HnswConfig(M=M, ef_construction=EF_CONSTRUCTION)
    index = HnswIndex.build(base, METRICS["cosine"], config)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        index.write(Path(tmp))
        size = sum(p.stat().st_size for p in Path(tmp).iterdir()) + base.nbytes
    return index, seconds, size


def build_hnswlib(base: np.ndarray, threads: int) -> tuple[hnswlib.Index, float, int]:
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    start = time.perf_counter()
    index.init_index(max_elements=base.shape[0], M=M, ef_construction=EF_CONSTRUCTION,
                     random_seed=42)
    index.add_items(base, np.arange(base.shape[0]), num_threads=threads)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        index.save_index(os.path.join(tmp, "index.bin"))
        size = os.path.getsize(os.path.join(tmp, "index.bin"))
    return index, seconds, size


def build_faiss(base: np.ndarray, threads: int) -> tuple[faiss.IndexHNSWFlat, float, int]:
    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(base.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    start = time.perf_counter()
    index.add(base)
    seconds = time.perf_counter() - start
    return index, seconds, len(faiss.serialize_index(index))


def searchers(ours: HnswIndex, hnsw: hnswlib.Index, fai: faiss.IndexHNSWFlat
              ) -> dict[str, Searcher]:
    def sleuth(queries: np.ndarray, ef: int) -> np.ndarray:
        return ours.search(queries, K, None, {"ef": ef})[0]

    def with_hnswlib(queries: np.ndarray, ef: int) -> np.ndarray:
        hnsw.set_ef(ef)
        return hnsw.knn_query(queries, k=K, num_threads=1)[0]

    def with_faiss(queries: np.ndarray, ef: int) -> np.ndarray:
        fai.hnsw.efSearch = ef
        return fai.search(queries, K)[1]

    return {"sleuth": sleuth, "hnswlib": with_hnswlib, "faiss": with_faiss}


def best_qps(run: Callable[[], np.ndarray], n: int, repeats: int) -> tuple[float, np.ndarray]:
    """Queries per second of the calling thread's CPU time (the single-threaded searches
    all run on it), so other processes sharing the machine do not count against it."""
    best, found = 0.0, run()
    for _ in range(repeats):
        start = time.thread_time()
        found = run()
        best = max(best, n / (time.thread_time() - start))
    return best, found


def sweep(libs: dict[str, Searcher], queries: np.ndarray, gt: np.ndarray, repeats: int
          ) -> dict[str, list[tuple[int, float, float]]]:
    numba.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    curves: dict[str, list[tuple[int, float, float]]] = {name: [] for name in libs}
    print(f"\n{'ef':>5} " + " ".join(f"{name + ' R@10':>16} {'QPS':>8}" for name in libs))
    for ef in EFS:
        cells = []
        for name, search in libs.items():
            qps, found = best_qps(lambda s=search, e=ef: s(queries, e), len(queries), repeats)
            curves[name].append((ef, recall(found, gt), qps))
            cells.append(f"{curves[name][-1][1]:>16.4f} {qps:>8.0f}")
        print(f"{ef:>5} " + " ".join(cells), flush=True)
    return curves


def qps_at(curve: list[tuple[int, float, float]], target: float) -> float:
    """QPS at `target` recall, interpolating log QPS linearly in recall; nan if the
    sweep never reaches it."""
    for (_, r0, q0), (_, r1, q1) in zip(curve, curve[1:], strict=False):
        if r0 >= target:
            return q0
        if r1 >= target:
            t = (target - r0) / (r1 - r0)
            return float(np.exp(np.log(q0) + t * (np.log(q1) - np.log(q0))))
    return float(curve[0][2]) if curve and curve[0][1] >= target else float("nan")


def filtered(ours: HnswIndex, base: np.ndarray, queries: np.ndarray, repeats: int) -> None:
    """Sleuth's filtered search at SELECTIVITY against its own unfiltered search, at the
    same ef and at recall@10 = TARGET (each against its own exact oracle)."""
    numba.set_num_threads(1)
    allowed = (np.random.default_rng(7).random(base.shape[0]) < SELECTIVITY).astype(np.uint8)
    truth = {"all": exact_search(base, queries, K, 0, None)[0],
             "filtered": exact_search(base, queries, K, 0, allowed)[0]}
    masks = {"all": None, "filtered": allowed}
    curves: dict[str, list[tuple[int, float, float]]] = {"all": [], "filtered": []}
    print(f"\nfiltered search, {SELECTIVITY:.0%} of rows allowed (single thread):")
    print(f"{'ef':>5} {'R@10 all':>9} {'QPS all':>8} {'R@10 10%':>9} {'QPS 10%':>8} "
          f"{'slowdown':>8}")
    for ef in (16, 24, 32, 48, 64, 96, 128):
        for name, mask in masks.items():
            qps, found = best_qps(lambda m=mask, e=ef: ours.search(queries, K, m, {"ef": e})[0],
                                  len(queries), repeats)
            assert mask is None or np.all(mask[found[found >= 0]] == 1)
            curves[name].append((ef, recall(found, truth[name]), qps))
        (_, ra, qa), (_, rf, qf) = curves["all"][-1], curves["filtered"][-1]
        print(f"{ef:>5} {ra:>9.4f} {qa:>8.0f} {rf:>9.4f} {qf:>8.0f} {qa / qf:>7.2f}x")
    at = {name: qps_at(curve, TARGET) for name, curve in curves.items()}
    print(f"at recall@10 = {TARGET}: unfiltered {at['all']:.0f} QPS, filtered "
          f"{at['filtered']:.0f} QPS, slowdown {at['all'] / at['filtered']:.2f}x")


def fill_collection(db: Database, base: np.ndarray) -> tuple[Collection, float]:
    """A default-settings collection holding `base`, upserted in batches of 1,000 and
    flushed (every seal and merge the defaults plan, done); seconds it took."""
    col = db.create_collection("product", dim=base.shape[1], metric="cosine")
    start = time.perf_counter()
    for lo in range(0, base.shape[0], 1000):
        hi = min(lo + 1000, base.shape[0])
        col.upsert([str(i) for i in range(lo, hi)], base[lo:hi],
                   [{"row": i, "source": f"doc{i // 50}.txt"} for i in range(lo, hi)])
    col.flush()
    return col, time.perf_counter() - start


def per_call(col: Collection, ours: HnswIndex, hnsw: hnswlib.Index, fai: faiss.IndexHNSWFlat
             ) -> dict[str, Searcher]:
    """Every engine called once per query (the way an application asks)."""
    def ids(found: list) -> list[int]:
        """One call's hit ids, taken as the call returns (an application reads its
        hits and drops them; holding every call's Hit objects until the end would
        add the garbage collector's full passes over them, ~a third of the time)."""
        return [int(h.id) for h in found] + [-1] * (K - len(found))

    def product(queries: np.ndarray, ef: int) -> np.ndarray:
        return np.array([ids(col.search(q, K, params={"ef": ef})) for q in queries])

    def product_ids(queries: np.ndarray, ef: int) -> np.ndarray:
        return np.array([ids(col.search(q, K, params={"ef": ef}, payload=False))
                         for q in queries])

    def index(queries: np.ndarray, ef: int) -> np.ndarray:
        return np.array([ours.search(q[None], K, None, {"ef": ef})[0][0] for q in queries])

    def with_hnswlib(queries: np.ndarray, ef: int) -> np.ndarray:
        hnsw.set_ef(ef)
        return np.array([hnsw.knn_query(q, k=K, num_threads=1)[0][0] for q in queries])

    def with_faiss(queries: np.ndarray, ef: int) -> np.ndarray:
        fai.hnsw.efSearch = ef
        return np.array([fai.search(q[None], K)[1][0] for q in queries])

    return {"product": product, "product ids": product_ids, "index": index,
            "hnswlib": with_hnswlib, "faiss": with_faiss}


def product_path(built: dict, base: np.ndarray, queries: np.ndarray, gt: np.ndarray,
                 repeats: int) -> None:
    """The product path against the raw index, hnswlib and faiss, one query per call."""
    with tempfile.TemporaryDirectory() as tmp, Database(tmp) as db:
        numba.set_num_threads(2)
        col, seconds = fill_collection(db, base)
        stats = col.stats()
        print(f"\nproduct path: Collection.search, default settings, {base.shape[0]} rows "
              f"upserted in batches of 1,000 and flushed in {seconds:.1f} s -> "
              f"{stats['sealed_segments']} sealed segment(s) of {stats['sealed_rows']} rows, "
              f"{stats['growing_rows']} rows in the write buffer")
        print("one query per call, single thread (ids: `payload=False`, ids and scores only)")
        curves = sweep(per_call(col, *(b[0] for b in built.values())), queries, gt, repeats)
    at = {name: qps_at(curve, TARGET) for name, curve in curves.items()}
    print(f"\nQPS at recall@10 = {TARGET}, one query per call: "
          + ", ".join(f"{n} {q:.0f}" for n, q in at.items()))
    print("ratios to hnswlib: " + ", ".join(f"{n} {q / at['hnswlib']:.2f}x"
                                            for n, q in at.items() if n != "hnswlib"))


def common_arguments(doc: str) -> argparse.ArgumentParser:
    """The options every side-by-side ANN benchmark takes: data size, build threads, and
    how many timed repeats."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="base rows (default: all)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="build threads for all")
    parser.add_argument("--repeats", type=int, default=3)
    return parser


def main() -> None:
    args = common_arguments(__doc__).parse_args()
    print(f"load average: {os.getloadavg()}, {os.cpu_count()} cpus, numba {numba.__version__}")
    base, queries, gt = load(args.n, args.queries)
    print(f"data: {base.shape[0]} x {base.shape[1]}, {queries.shape[0]} queries; "
          f"M={M} ef_construction={EF_CONSTRUCTION}; build threads {args.threads}")
    built = {"sleuth": build_sleuth(base, args.threads),
             "hnswlib": build_hnswlib(base, args.threads),
             "faiss": build_faiss(base, args.threads)}
    for name, (_, seconds, size) in built.items():
        print(f"{name:>8} build {seconds:7.1f} s  index {size / 2**20:7.1f} MiB")
    curves = sweep(searchers(*(b[0] for b in built.values())), queries, gt, args.repeats)
    at = {name: qps_at(curve, TARGET) for name, curve in curves.items()}
    print(f"\nQPS at recall@10 = {TARGET}: " + ", ".join(f"{n} {q:.0f}" for n, q in at.items()))
    print(f"ratio sleuth/hnswlib {at['sleuth'] / at['hnswlib']:.2f}, "
          f"sleuth/faiss {at['sleuth'] / at['faiss']:.2f}; build time sleuth/hnswlib "
          f"{built['sleuth'][1] / built['hnswlib'][1]:.2f}")
    filtered(built["sleuth"][0], base, queries, args.repeats)
    product_path(built, base, queries, gt, args.repeats)
    print(f"\nnumba threading layer {numba.threading_layer()}; load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
