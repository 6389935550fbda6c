"""The product path's scaling curve: one default-settings collection per size.

    .venv/bin/python -m benchmarks.scale [--sizes 100000 300000 1000000] [--queries 200]
        [--data DIR]

Data: the real all-MiniLM-L6-v2 set (100,000 x 384, ../shared/datasets); past 100,000
rows it is extended by copies of itself with small random perturbations (Gaussian noise
of standard deviation 0.01 per dimension, renormalised), which the output says. For
each size, in a fresh directory with default settings (no hand-set seal or merge
sizes): upsert time (batches of 1,000, fsync on), seal and merge time (`flush`), the
segments the defaults produced, bytes on disk, reopen time (a new `Database` opening
the collection), the resident memory the reopened collection adds to the process after
its searches, and single-query QPS of `Collection.search` (ids and scores, one query per
call, one thread) at recall@10 0.95 against exact search, unfiltered and with filters
selecting 10% and 1% of the rows. QPS is per CPU second of the calling thread.
"open MiB" is the resident memory opening added, "+RSS MiB" what it had added after the
searches. With `--data DIR` each size's collection is kept in DIR/<rows> and reused by
later runs, so reopening a million rows can be measured again without rebuilding it
(build figures then read "kept").
"""

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from vectorstore import Collection, Database
from vectorstore.flat import exact_search
from vectorstore.metrics import METRIC_IP

from .ann import qps_at, recall
from .datasets import load_ann_dev

K, TARGET = 10, 0.95
EFS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)
NOISE = 0.01
# name: (filter, the rows it selects by bucket = row % 100)
FILTERS = {"all": (None, None), "10%": ({"bucket": {"$lt": 10}}, lambda b: b < 10),
           "1%": ({"bucket": 0}, lambda b: b == 0)}


def extended(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`base` repeated to n rows, each copy after the first perturbed and renormalised."""
    rng = np.random.default_rng(seed)
    parts = [base[:n]]
    while sum(p.shape[0] for p in parts) < n:
        rows = min(base.shape[0], n - sum(p.shape[0] for p in parts))
        noisy = base[:rows] + rng.normal(0, NOISE, (rows, base.shape[1])).astype(np.float32)
        parts.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def rss_mib() -> float:
    """Resident memory of this process now, MiB."""
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def fill(col: Collection, vectors: np.ndarray) -> tuple[float, float]:
    """Upsert in batches of 1,000 (payload: the row and its bucket 0..99), then flush;
    (upsert seconds, seal and merge seconds)."""
    start = time.perf_counter()
    for lo in range(0, vectors.shape[0], 1000):
        hi = min(lo + 1000, vectors.shape[0])
        col.upsert([str(i) for i in range(lo, hi)], vectors[lo:hi],
                   [{"row": i, "bucket": i % 100} for i in range(lo, hi)])
    upserted = time.perf_counter()
    col.flush()
    return upserted - start, time.perf_counter() - upserted


def qps_curve(col: Collection, queries: np.ndarray, truth: np.ndarray,
              where: dict | None) -> list[tuple[int, float, float]]:
    """(ef, recall@10, QPS) of one query per call, ids and scores only."""
    curve = []
    col.search(queries[0], K, where=where, params={"ef": EFS[0]}, payload=False)  # warm-up
    for ef in EFS:
        start = time.thread_time()
        found = [col.search(q, K, where=where, params={"ef": ef}, payload=False)
                 for q in queries]
        qps = len(queries) / (time.thread_time() - start)
        ids = np.array([[int(h.id) for h in hits] + [-1] * (K - len(hits)) for hits in found])
        curve.append((ef, recall(ids, truth), qps))
        if curve[-1][1] >= TARGET + 0.02:
            break
    return curve


def build(directory: Path, vectors: np.ndarray) -> dict:
    """Fill a new collection at `directory` with `vectors`; its build figures."""
    with Database(directory) as db:
        col = db.create_collection("scale", dim=vectors.shape[1], metric="cosine")
        upsert, seal = fill(col, vectors)
    return {"upsert_s": upsert, "seal_merge_s": seal}


def reopen(directory: Path) -> tuple[Database, Collection, float, float]:
    """Open the collection at `directory`: (database, collection, seconds, MiB of
    resident memory added)."""
    before = rss_mib()
    start = time.perf_counter()
    db = Database(directory)
    col = db.get_collection("scale")
    col.count()
    return db, col, time.perf_counter() - start, rss_mib() - before


def measure(size: int, base: np.ndarray, queries: np.ndarray, kept: Path | None) -> dict:
    """Build (or, under `kept`, reuse) the collection of `size` rows, reopen it, search."""
    vectors = extended(base, size)
    bucket = np.arange(size) % 100
    truths = {name: exact_search(vectors, queries, K, METRIC_IP,
                                 None if pick is None else pick(bucket).astype(np.uint8))[0]
              for name, (_, pick) in FILTERS.items()}
    with tempfile.TemporaryDirectory(prefix="sleuth-scale-") as tmp:
        directory = Path(tmp) if kept is None else kept / str(size)
        built = {"upsert_s": None, "seal_merge_s": None}
        if not (directory / "collections" / "scale").exists():
            built = build(directory, vectors)
        before, threads = rss_mib(), numba.get_num_threads()
        db, col, seconds, opened = reopen(directory)
        with db:
            stats = col.stats()
            if stats["count"] != size:
                raise SystemExit(f"{directory} holds {stats['count']} rows, not {size}")
            numba.set_num_threads(1)
            at = {name: qps_at(qps_curve(col, queries, truths[name], where), TARGET)
                  for name, (where, _) in FILTERS.items()}
            numba.set_num_threads(threads)
            resident = rss_mib() - before
    return {"rows": size, **built, "rss_mib": resident, "open_rss_mib": opened,
            "disk_mib": stats["disk_bytes"] / 2**20, "segments": stats["sealed_segments"],
            "reopen_s": seconds, **{f"qps_{name}": qps for name, qps in at.items()}}


def _figure(value: float | None, width: int, digits: int = 1) -> str:
    return f"{'kept':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path,
                        help="keep each size's collection in DIR/<rows> and reuse it when "
                             "present (its upsert and seal times then read 'kept')")
    args = parser.parse_args()
    data = load_ann_dev(n_queries=args.queries)
    print(f"load average: {os.getloadavg()}, {os.cpu_count()} cpus")
    print(f"data: the real set ({data.base.shape[0]} x {data.base.shape[1]}); rows past it "
          f"are perturbed copies (noise sd {NOISE} per dimension, renormalised); "
          f"{len(data.queries)} queries, recall@10 against exact search")
    print(f"{'rows':>9} {'upsert s':>9} {'seal+merge s':>12} {'segments':>8} {'open MiB':>8} "
          f"{'+RSS MiB':>8} {'disk MiB':>9} {'reopen s':>8} {'QPS@0.95':>9} {'10% QPS':>8} "
          f"{'1% QPS':>8}")
    for size in args.sizes:
        r = measure(size, data.base, data.queries, args.data)
        print(f"{r['rows']:>9} {_figure(r['upsert_s'], 9)} {_figure(r['seal_merge_s'], 12)} "
              f"{r['segments']:>8} {r['open_rss_mib']:>8.0f} {r['rss_mib']:>8.0f} "
              f"{r['disk_mib']:>9.0f} {r['reopen_s']:>8.2f} {r['qps_all']:>9.0f} "
              f"{r['qps_10%']:>8.0f} {r['qps_1%']:>8.0f}  load {os.getloadavg()[0]:.1f}",
              flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
