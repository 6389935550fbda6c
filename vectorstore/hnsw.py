"""The HNSW index of a sealed segment: build, persist, open memory-mapped, search.

Kernels live in `kernels/hnsw.py` (search) and `kernels/hnsw_build.py` (batched
insertion); this class owns the arrays, validates input once, hands out visited-marker
scratch to concurrent searches, and plans filtered searches: an exact scan of the
allowed rows when they are few, otherwise a filter-aware graph walk.
"""

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import numba
import numpy as np

from .arrayfile import read_array, write_array
from .config import HnswConfig
from .errors import CorruptFile
from .kernels.hnsw import search_batch, search_range
from .kernels.hnsw_build import insert_search, link_reverse, reverse_pairs
from .kernels.space import FloatSpace
from .metrics import Metric
from .parallel import kernel_threads
from .planner import VisitedPool, as_mask, as_queries, knob, planned_search, readonly

FILES = ("links0", "upper", "upper_start", "levels", "meta")
FORMAT = 1
MAX_BATCH = 256
BATCH_DIVISOR = 16
# The planner scans the allowed rows exactly when they are at most EXACT_PER_EF * ef
# (cheaper than the walk's ~20 distances per ef on 100k real embeddings) or under
# EXACT_FRACTION of the segment (below ~5% the two-hop walk loses recall: 0.96 at 5%,
# 0.89 at 2% for ef = 64 on the same data).
EXACT_PER_EF = 32
EXACT_FRACTION = 0.05
NO_MASK = readonly(np.zeros(0, dtype=np.uint8))


def draw_levels(n: int, M: int, seed: int) -> np.ndarray:
    """Exponentially decaying random top layers, mL = 1 / ln M: int32 (n,)."""
    uniform = np.random.default_rng(seed).random(n)
    levels = np.floor(-np.log1p(-uniform) / math.log(M))
    return np.minimum(levels, 30).astype(np.int32)


def use_exact_scan(n: int, n_allowed: int, ef: int) -> bool:
    """The filtered-search plan: scan the allowed rows exactly, or walk the graph."""
    return n_allowed <= max(EXACT_PER_EF * ef, EXACT_FRACTION * n)


class HnswIndex:
    """A Hierarchical Navigable Small World graph over one segment's vectors."""

    kind = "hnsw"

    def __init__(self, vectors: np.ndarray, metric: Metric, config: HnswConfig,
                 graph: dict[str, np.ndarray]) -> None:
        self.vectors = readonly(vectors)
        self.metric = metric
        self.config = config
        self.graph = graph
        meta = graph["meta"]
        self.entry, self.top = int(meta[3]), int(meta[4])
        self.links = tuple(readonly(graph[name]) for name in FILES[:3])
        """(links0, upper, upper_start), read-only, as the kernels take them."""
        self.visited = VisitedPool(self.vectors.shape[0])
        self._float_space = FloatSpace(self.vectors, metric.kernel)

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: HnswConfig) -> Self:
        vectors = readonly(np.ascontiguousarray(vectors, dtype=np.float32))
        graph = build_graph(FloatSpace(vectors, metric.kernel), vectors.shape[0], config)
        return cls(vectors, metric, config, graph)

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric,
             config: HnswConfig) -> Self:
        return cls(vectors, metric, config, read_graph(Path(directory), vectors.shape[0]))

    def write(self, directory: Path) -> None:
        for name in FILES:
            write_array(Path(directory) / f"hnsw_{name}.arr", self.graph[name])

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def nbytes(self) -> int:
        """Bytes a search reads from RAM: the float32 vectors and the graph."""
        return self.vectors.nbytes + sum(a.nbytes for a in self.graph.values())

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        queries = readonly(as_queries(queries, self.vectors.shape[1]))
        allowed = as_mask(allowed, len(self))
        ef = max(knob(params, "ef", self.config.ef_search, 1, "hnsw"), k)
        return planned_search(self.vectors, self.metric.kernel, queries, k, allowed,
                              lambda n_allowed: use_exact_scan(len(self), n_allowed, ef),
                              lambda q, mask, rows, dist: self.walk(
                                  self._space(), q, ef, mask, rows, dist))

    def extended(self, vectors: np.ndarray) -> Self:
        """The index over `vectors`, whose first len(self) rows are this index's own
        and the rest new: the new rows are inserted into a copy of this graph (a merge
        of a small segment into a large one costs the small one's insertions)."""
        vectors = readonly(np.ascontiguousarray(vectors, dtype=np.float32))
        graph = build_graph(FloatSpace(vectors, self.metric.kernel), vectors.shape[0],
                            self.config, self.graph)
        return type(self)(vectors, self.metric, self.config, graph)

    def _space(self) -> FloatSpace:
        return self._float_space

    def walk(self, space: Any, queries: Any, ef: int, allowed: np.ndarray | None,
             rows: np.ndarray, dist: np.ndarray) -> None:
        """Walk the graph in `space` for `queries` (in that space's form), writing each
        query's best rows.shape[1] allowed rows and their proxies into rows / dist.
        One query runs on the calling thread: capping numba's threads and launching a
        one-chunk parallel kernel cost ~8 us per call, a tenth of a search."""
        mask = NO_MASK if allowed is None else readonly(allowed)
        links0, upper, upper_start = self.links
        nq = rows.shape[0]
        visited, tags = block = self.visited.acquire()
        try:
            if nq == 1:
                search_range(space, queries, links0, upper, upper_start, self.entry, self.top,
                             ef, mask, allowed is not None, visited, tags, 0, 0, 1, rows, dist)
                return
            with kernel_threads(nq) as chunks:
                search_batch(space, queries, links0, upper, upper_start, self.entry,
                             self.top, ef, mask, allowed is not None, visited, tags, chunks,
                             rows, dist)
        finally:
            self.visited.release(block)


def read_graph(directory: Path, n: int) -> dict[str, np.ndarray]:
    """The graph arrays `HnswIndex.write` wrote, memory-mapped, checked against n rows."""
    graph = {name: read_array(directory / f"hnsw_{name}.arr") for name in FILES}
    problem = _graph_problem(graph, n)
    if problem:
        raise CorruptFile(f"{directory}: hnsw graph does not match its segment: {problem}")
    return graph


def _graph_problem(graph: dict[str, np.ndarray], n: int) -> str | None:
    """Why the graph arrays cannot belong to a segment of n rows, or None if they can."""
    meta = graph["meta"]
    if meta.shape != (5,) or meta[0] != FORMAT or meta[1] != n:
        return f"meta {meta.tolist()} for {n} rows"
    M = int(meta[2])
    shapes = {"links0": (n, 2 * M + 1), "upper_start": (n,), "levels": (n,),
              "upper": (int(graph["levels"].sum()), M + 1)}
    for name, shape in shapes.items():
        if graph[name].shape != shape:
            return f"{name} has shape {graph[name].shape}, expected {shape}"
    return None


def _allocate(n: int, M: int, levels: np.ndarray) -> dict[str, np.ndarray]:
    starts = np.concatenate(([0], np.cumsum(levels[:-1], dtype=np.int64)))
    return {
        "links0": np.zeros((n, 2 * M + 1), dtype=np.int32),
        "upper": np.zeros((int(levels.sum()), M + 1), dtype=np.int32),
        "upper_start": np.where(levels > 0, starts, -1).astype(np.int32),
        "levels": levels,
    }


def _batches(n: int, levels: np.ndarray, start: int) -> Iterator[tuple[int, int]]:
    """Insertion batches of rows [start, n): growing with the graph, and cut so that a
    node raising the top layer is inserted alone (it becomes the entry point)."""
    raises = np.flatnonzero(levels[1:] > np.maximum.accumulate(levels)[:-1]) + 1
    while start < n:
        stop = min(n, start + max(1, min(MAX_BATCH, start // BATCH_DIVISOR)))
        nxt = raises[np.searchsorted(raises, start):]
        if nxt.size and nxt[0] < stop:
            stop = start + 1 if nxt[0] == start else int(nxt[0])
        yield start, stop
        start = stop


def build_graph(space: Any, n: int, config: HnswConfig,
                base: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Insert rows 0..n-1 of `space` (`kernels/space.py`) in batches; the graph arrays.

    With `base`, the graph of the first rows of `space` (built with the same M), those
    rows keep its links and levels and only the rows after them are inserted: growing
    a graph costs the new rows' insertions, not a rebuild."""
    M = config.M
    first = 0 if base is None else base["levels"].shape[0]
    levels = draw_levels(n - first, M, config.seed + first)
    if base is not None:
        levels = np.concatenate([base["levels"], levels])
    graph = _allocate(n, M, levels)
    if base is None:
        entry, top, first = 0, int(levels[0]) if n else 0, 1
    else:  # _allocate lays the base's rows out exactly as it did for the base
        graph["links0"][:first] = base["links0"]
        graph["upper"][:base["upper"].shape[0]] = base["upper"]
        entry, top = int(base["meta"][3]), int(base["meta"][4])
    chunks = numba.get_num_threads()
    visited = np.zeros((chunks, n), np.uint16)
    tags = np.zeros(chunks, np.int64)
    links0, upper, upper_start = graph["links0"], graph["upper"], graph["upper_start"]
    for start, stop in _batches(n, levels, first):
        workers = min(chunks, stop - start)
        insert_search(space, links0, upper, upper_start, levels, entry, top, start, stop, M,
                      config.ef_construction, visited, tags, workers)
        keys, sources, bounds = reverse_pairs(links0, upper, upper_start, levels, top,
                                              start, stop)
        link_reverse(space, links0, upper, upper_start, keys, sources, bounds, M)
        if levels[start] > top:
            entry, top = start, int(levels[start])
    graph["meta"] = np.array([FORMAT, n, M, entry, top], dtype=np.int64)
    return graph
