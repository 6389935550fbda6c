"""Sleuth's text index against bm25s, and hybrid search latency, in one run.

    .venv/bin/python -m benchmarks.text [--rows 100000] [--queries 1000]

Data: the 100,000 passages of the shared development set (`ann_dev_passages.txt`; its
last 1,000 lines are the queries) with their all-MiniLM-L6-v2 vectors. Reported:
- build: Sleuth's text index (analyse every passage, invert, write the checksummed
  postings files, fsync'd: what ingest and sealing do) beside bm25s (tokenize with English
  stopwords and the same Snowball stemmer, index, save); index bytes per chunk. Each is
  warmed first by building an index of the 1,000 query lines (new objects, no cache
  shared): Sleuth's numba kernels load from their on-disk cache once per process
  (~0.7 s), which is no part of indexing.
- text search: single-query QPS through `Collection.search(text=..., mode="text")` on a
  sealed 100k collection (analysis, statistics, scoring, top 10, payloads) beside
  bm25s's `retrieve` of one tokenized query with its numba backend, taking turns query by
  query (its numpy backend on its own), and how many of bm25s's top 10 Sleuth also
  returns (the analyzers differ: Sleuth adds whole code tokens).
- hybrid: p50 / p95 latency of `Collection.search(vector, text=...)` (the default
  hybrid: RRF over 50 candidates from each side) beside vector-only `search(vector)`.
Needs `pip install bm25s` (the `bench` extra). Single-threaded loops, one query at a time.
"""

import argparse
import copy
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import Stemmer

from benchmarks.datasets import DATASETS, load_ann_dev, load_passages
from vectorstore import Database
from vectorstore.config import TextConfig
from vectorstore.text.analyzer import Analyzer
from vectorstore.text.postings import FILES, GrowingPostings

K = 10
TEXT = TextConfig(fields=(("text", 1.0),))
BATCH = 5_000


def sleuth_build(passages: list[str], directory: Path) -> int:
    """Analyse, invert and write the postings of `passages`; the bytes written."""
    postings = GrowingPostings(Analyzer(TEXT))
    for i in range(0, len(passages), BATCH):
        postings.append([{"text": p} for p in passages[i:i + BATCH]])
    postings.view().sealed().write(directory)
    return sum((directory / name).stat().st_size for name in FILES)


def bm25s_build(passages: list[str], directory: Path):
    """bm25s's index of `passages`, saved to `directory` as Sleuth's is written."""
    import bm25s

    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(passages, stopwords="en", stemmer=stemmer,
                                   show_progress=False), show_progress=False)
    retriever.save(directory)
    return retriever, stemmer


def bm25s_search(retriever, stemmer, query: str) -> list[int]:
    import bm25s

    tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, return_ids=False,
                            show_progress=False)[0]
    tokens = [t for t in tokens if t in retriever.vocab_dict]
    if not tokens:
        return []
    ids, _ = retriever.retrieve([tokens], k=K, show_progress=False, n_threads=1)
    return ids[0].tolist()


def load_collection(db: Database, passages: list[str], vectors: np.ndarray):
    col = db.create_collection("passages", dim=vectors.shape[1], text=TEXT,
                               seal_rows=len(passages))
    for i in range(0, len(passages), BATCH):
        col.upsert([str(j) for j in range(i, min(i + BATCH, len(passages)))],
                   vectors[i:i + BATCH], [{"text": p} for p in passages[i:i + BATCH]])
    col.flush()
    return col


class Clock:
    """Wall and CPU time of a call. The machine is shared, so CPU time (this process's)
    is reported beside wall time: it does not count the time other processes held the
    core, which wall time does."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, fn, *args):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
        return out

    def qps(self) -> str:
        wall, cpu = len(self.wall) / sum(self.wall), len(self.cpu) / sum(self.cpu)
        return f"{wall:7.0f} QPS ({cpu:6.0f} CPU)"

    def ms(self, q: float) -> tuple[float, float]:
        return 1000 * np.percentile(self.wall, q), 1000 * np.percentile(self.cpu, q)


def interleaved(fns: dict, items: list) -> dict[str, Clock]:
    """Time each function on each item, taking turns item by item, so a change in the
    machine's load falls on every engine alike."""
    for fn in fns.values():
        fn(items[0])
    clocks = {name: Clock() for name in fns}
    for item in items:
        for name, fn in fns.items():
            clocks[name].time(fn, item)
    return clocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    lines = load_passages(DATASETS)
    data = load_ann_dev(DATASETS, n_base=args.rows, n_queries=args.queries)
    passages, queries = lines[:args.rows], lines[100_000:100_000 + args.queries]
    workdir = Path(tempfile.mkdtemp(prefix="sleuth-text-bench-"))
    print(f"{args.rows} passages, {len(queries)} queries; load {_load()}")
    try:
        for name in ("warm", "postings"):
            (workdir / name).mkdir()
        sleuth_build(lines[100_000:], workdir / "warm")
        bm25s_build(lines[100_000:], workdir / "warm-bm25s")
        sleuth, bm25 = Clock(), Clock()
        s_bytes = sleuth.time(sleuth_build, passages, workdir / "postings")
        retriever, stemmer = bm25.time(bm25s_build, passages, workdir / "bm25s")
        print(f"build   sleuth {sleuth.wall[0]:6.2f} s ({sleuth.cpu[0]:5.2f} CPU)   bm25s "
              f"{bm25.wall[0]:6.2f} s ({bm25.cpu[0]:5.2f} CPU)   ratio "
              f"{sleuth.wall[0] / bm25.wall[0]:.2f}x ({sleuth.cpu[0] / bm25.cpu[0]:.2f}x CPU)"
              " (goal <= 1.5x)")
        print(f"index   sleuth {s_bytes / args.rows:6.1f} bytes per chunk (postings, terms, "
              "lengths)")
        with Database(workdir / "db") as db:
            start = time.perf_counter()
            col = load_collection(db, passages, data.base)
            print(f"collection loaded and sealed in {time.perf_counter() - start:.1f} s")
            _search_rows(col, retriever, stemmer, queries, data.queries)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"load {_load()}")


def _search_rows(col, retriever, stemmer, queries: list[str], vectors: np.ndarray) -> None:
    numba_retriever = copy.copy(retriever)  # the same index, scored by bm25s's numba kernels
    numba_retriever.backend = "numba"
    clocks = interleaved({
        "sleuth": lambda q: col.search(text=q, k=K, mode="text"),
        "bm25s numba": lambda q: bm25s_search(numba_retriever, stemmer, q),
    }, queries)
    # bm25s's numpy backend reads the same index arrays as its numba one: taking turns with
    # them, it would bring each query's postings into the cache just before the numba
    # backend reads them. It runs on its own (it is the slower of the two by far).
    clocks |= interleaved({"bm25s numpy": lambda q: bm25s_search(retriever, stemmer, q)},
                          queries)
    for name, clock in clocks.items():
        print(f"text    {name:12s} {clock.qps()}")
    best, ours = clocks["bm25s numba"], clocks["sleuth"]
    print(f"        sleuth / bm25s numba QPS {sum(best.wall) / sum(ours.wall):.2f}x "
          f"({sum(best.cpu) / sum(ours.cpu):.2f}x CPU) (goal >= 1.0x; side by side)")
    overlap = np.mean([len({int(h.id) for h in col.search(text=q, k=K, mode="text")} &
                           set(bm25s_search(retriever, stemmer, q))) / K for q in queries])
    print(f"        top-10 overlap with bm25s {overlap:.3f}")
    clocks = interleaved({
        "vector": lambda i: col.search(vectors[i], k=K),
        "hybrid": lambda i: col.search(vectors[i], text=queries[i], k=K),
    }, list(range(len(queries))))
    for name, clock in clocks.items():
        (p50, p50_cpu), (p95, p95_cpu) = clock.ms(50), clock.ms(95)
        print(f"{name:7s} p50 {p50:6.2f} ms ({p50_cpu:5.2f} CPU)   p95 {p95:6.2f} ms "
              f"({p95_cpu:5.2f} CPU)   {clock.qps()}")
    (v50, v50_cpu), (h50, h50_cpu) = clocks["vector"].ms(50), clocks["hybrid"].ms(50)
    print(f"hybrid p50 / vector p50 {h50 / v50:.2f}x ({h50_cpu / v50_cpu:.2f}x CPU) "
          "(goal <= 2x)")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
