"""Random-projection forest sealed index (Annoy's design, Bernhardsson 2013): `trees`
random-projection trees over the segment, searched together through one priority queue
until `search_k` allowed rows were read, those rows scored exactly.

Each tree splits by the hyperplane equidistant from two sampled rows (kernels in
`kernels/rpforest.py`); trees are built in parallel, one per thread, each from its own
seed, so the forest is the same whatever the thread count. RAM holds the trees: 4 bytes
per row per tree for the leaves plus one normal (4 d bytes) per internal node, about
2 n / leaf_size of them per tree. The float32 vectors are the segment's memory-mapped
file, read for every candidate.

Knobs per search: `search_k` (allowed rows read, duplicates across trees included, as
Annoy counts them; default config.search_k, or trees * k * SEARCH_K_PER_TREE) and
`trees` (use the first so many trees, up to the built number).
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Self

import numba
import numpy as np

from .arrayfile import read_array, write_array
from .config import RpForestConfig
from .errors import CorruptFile
from .kernels.rpforest import build_tree, search_batch
from .metrics import Metric
from .parallel import kernel_threads
from .planner import VisitedPool, as_mask, as_queries, knob, planned_search, readonly

SEARCH_K_PER_TREE = 16
EXACT_FRACTION = 0.05
EMPTY_MASK = np.zeros(0, dtype=np.uint8)


class ForestArrays(NamedTuple):
    """The forest's flat arrays; shapes in `kernels/rpforest.py`."""

    normals: np.ndarray
    offsets: np.ndarray
    children: np.ndarray
    leaves: np.ndarray
    leaf_rows: np.ndarray
    roots: np.ndarray


def _relabel(children: np.ndarray, node_base: int, leaf_base: int) -> np.ndarray:
    """A tree's child codes with its node and leaf ids shifted to the forest's."""
    return np.where(children >= 0, children + node_base, children - leaf_base).astype(np.int32)


def build_forest(vectors: np.ndarray, trees: int, leaf_size: int, seed: int) -> ForestArrays:
    """Build `trees` trees (tree t from seed + t) on a thread pool and concatenate them."""
    n = vectors.shape[0]
    with ThreadPoolExecutor(max(1, numba.get_num_threads())) as pool:
        parts = list(pool.map(lambda t: build_tree(vectors, leaf_size, seed + t),
                              range(trees)))
    node_base = np.cumsum([0] + [p[1].shape[0] for p in parts])
    leaf_base = np.cumsum([0] + [p[4].shape[0] for p in parts])
    return ForestArrays(
        normals=np.concatenate([p[1] for p in parts]),
        offsets=np.concatenate([p[2] for p in parts]),
        children=np.concatenate([_relabel(p[3], node_base[t], leaf_base[t])
                                 for t, p in enumerate(parts)]),
        leaves=np.concatenate([p[4] + t * n for t, p in enumerate(parts)]),
        leaf_rows=np.concatenate([p[0] for p in parts]),
        roots=np.concatenate([_relabel(np.array([p[5]]), node_base[t], leaf_base[t])
                              for t, p in enumerate(parts)]))


class RpForestIndex:
    """A forest of random-projection trees over one sealed segment."""

    kind = "rp_forest"

    def __init__(self, vectors: np.ndarray, metric: Metric, config: RpForestConfig,
                 arrays: ForestArrays) -> None:
        self.vectors = readonly(vectors)
        self.metric = metric
        self.config = config
        self.arrays = ForestArrays(*(readonly(a) for a in arrays))
        self.visited = VisitedPool(len(self))

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: RpForestConfig) -> Self:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        forest = build_forest(vectors, config.trees, config.leaf_size, config.seed)
        return cls(vectors, metric, config, forest)

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric,
             config: RpForestConfig) -> Self:
        arrays = ForestArrays(*(read_array(Path(directory) / f"rpforest_{name}.arr")
                                for name in ForestArrays._fields))
        n, d = vectors.shape
        trees, m = arrays.roots.shape[0], arrays.offsets.shape[0]
        expected = {"normals": (m, d), "children": (m, 2), "leaf_rows": (trees * n,)}
        for name, shape in expected.items():
            if getattr(arrays, name).shape != shape:
                raise CorruptFile(f"{directory}: rpforest_{name} has shape "
                                  f"{getattr(arrays, name).shape}, expected {shape}")
        return cls(vectors, metric, config, arrays)

    def write(self, directory: Path) -> None:
        for name, array in self.arrays._asdict().items():
            write_array(Path(directory) / f"rpforest_{name}.arr", array)

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @property
    def trees(self) -> int:
        return self.arrays.roots.shape[0]

    def nbytes(self) -> int:
        """Bytes of the trees held in RAM (the float32 vectors stay on disk)."""
        return sum(a.nbytes for a in self.arrays)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        queries = readonly(as_queries(queries, self.vectors.shape[1]))
        allowed = as_mask(allowed, len(self))
        trees = min(knob(params, "trees", self.trees, 1, "rp_forest"), self.trees)
        default = self.config.search_k or trees * k * SEARCH_K_PER_TREE
        search_k = max(knob(params, "search_k", default, 1, "rp_forest"), k)
        n = len(self)

        def exact_when(n_allowed: int) -> bool:
            return n_allowed <= max(2 * search_k, EXACT_FRACTION * n)

        def approximate(q: np.ndarray, mask: np.ndarray | None, rows: np.ndarray,
                        dist: np.ndarray) -> None:
            a = self.arrays
            with self.visited.take() as (visited, tags), \
                    kernel_threads(q.shape[0]) as chunks:
                search_batch(a.normals, a.offsets, a.children, a.leaves, a.leaf_rows,
                             a.roots, trees, self.vectors, q, self.metric.kernel, search_k,
                             EMPTY_MASK if mask is None else mask, mask is not None,
                             visited, tags, chunks, rows, dist)

        return planned_search(self.vectors, self.metric.kernel, queries, k, allowed,
                              exact_when, approximate)
