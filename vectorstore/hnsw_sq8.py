"""HNSW over int8 scalar-quantised codes (SQ8): the graph is built and walked on one
byte per dimension with integer dot products, and the best rerank * k rows of the walk
are re-scored exactly on the segment's memory-mapped float32 vectors.

Quantisation is trained per segment and per dimension: the range [lo_j, hi_j] holds
`quantile` of the dimension's values in a sample (1.0: min/max; outliers beyond it are
clipped), mapped linearly onto -127..127. Queries are quantised per query (see
`kernels/space.py` for how the integer dot product estimates the float proxy). RAM holds
the codes (d bytes per row, plus 4 for L2's per-row term) and the graph (4 (2M + 1)
bytes per row on layer 0 plus the few upper layers): 523 bytes per row at d = 384,
M = 16, against 1,667 for float HNSW. The float32 vectors stay on disk, read only for the
re-rank (rerank * k rows per query) and the exact paths.

Knobs per search: `ef` (beam width, raised to rerank * k) and `rerank` (>= 1, so the
returned scores are always exact).
"""

from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np

from .arrayfile import read_array, write_array
from .config import HnswSq8Config
from .errors import CorruptFile
from .hnsw import HnswIndex, build_graph, read_graph, use_exact_scan
from .kernels.scan import rerank
from .kernels.space import Sq8Queries, Sq8Space, sq8_encode
from .metrics import METRIC_IP, Metric
from .parallel import kernel_threads
from .planner import as_mask, as_queries, knob, planned_search, readonly

TRAIN_ROWS = 20_000
LEVELS = 127


class Sq8Arrays(NamedTuple):
    """offsets / scales float32 (d,): x^_j = offsets_j + scales_j * codes_j; codes int8
    (n, d); terms float32 (n,) = |x^|^2 for L2, (0,) for inner products."""

    offsets: np.ndarray
    scales: np.ndarray
    codes: np.ndarray
    terms: np.ndarray


def train(vectors: np.ndarray, quantile: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension offsets and scales from a sample of the rows."""
    n, d = vectors.shape
    if n == 0:
        return np.zeros(d, np.float32), np.ones(d, np.float32)
    rng = np.random.default_rng(seed)
    sample = vectors[np.sort(rng.choice(n, min(n, TRAIN_ROWS), replace=False))]
    lo, hi = np.quantile(sample, [1 - quantile, quantile], axis=0)
    scales = np.maximum(hi - lo, 1e-12) / (2 * LEVELS)
    return ((hi + lo) / 2).astype(np.float32), scales.astype(np.float32)


def quantise(vectors: np.ndarray, offsets: np.ndarray, scales: np.ndarray, metric: int
             ) -> Sq8Arrays:
    """Codes of every row (and their |x^|^2 for L2)."""
    codes = np.clip(np.rint((vectors - offsets) / scales), -LEVELS, LEVELS).astype(np.int8)
    terms = np.zeros(0, np.float32)
    if metric != METRIC_IP:
        decoded = offsets + scales * codes.astype(np.float32)
        terms = np.einsum("ij,ij->i", decoded, decoded).astype(np.float32)
    return Sq8Arrays(offsets, scales, codes, terms)


def sq8_queries(queries: np.ndarray, offsets: np.ndarray, scales: np.ndarray, metric: int
                ) -> Sq8Queries:
    """Queries (m, d) float32 as int8 codes with their scale and constant."""
    return Sq8Queries(*sq8_encode(queries, offsets, scales, LEVELS, metric))


class HnswSq8Index(HnswIndex):
    """HNSW on SQ8 codes with float32 re-ranking; see the module docstring."""

    kind = "hnsw_sq8"

    def __init__(self, vectors: np.ndarray, metric: Metric, config: HnswSq8Config,
                 graph: dict[str, np.ndarray], sq8: Sq8Arrays) -> None:
        super().__init__(vectors, metric, config, graph)
        self.sq8 = Sq8Arrays(*(readonly(a) for a in sq8))
        self._no_rows = Sq8Queries(np.zeros((0, vectors.shape[1]), np.int8),
                                   np.zeros(0, np.float32), np.zeros(0, np.float32))

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: HnswSq8Config) -> Self:
        vectors = readonly(np.ascontiguousarray(vectors, dtype=np.float32))
        offsets, scales = train(vectors, config.quantile, config.seed)
        sq8 = quantise(vectors, offsets, scales, metric.kernel)
        rows_as_queries = sq8_queries(vectors, offsets, scales, metric.kernel)
        space = Sq8Space(sq8.codes, sq8.terms, *rows_as_queries, metric.kernel)
        return cls(vectors, metric, config, build_graph(space, vectors.shape[0], config), sq8)

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric,
             config: HnswSq8Config) -> Self:
        directory = Path(directory)
        n, d = vectors.shape
        sq8 = Sq8Arrays(*(read_array(directory / f"sq8_{name}.arr")
                          for name in Sq8Arrays._fields))
        terms = (0,) if metric.kernel == METRIC_IP else (n,)
        expected = {"offsets": (d,), "scales": (d,), "codes": (n, d), "terms": terms}
        for name, shape in expected.items():
            if getattr(sq8, name).shape != shape:
                raise CorruptFile(f"{directory}: sq8_{name} has shape "
                                  f"{getattr(sq8, name).shape}, expected {shape}")
        return cls(vectors, metric, config, read_graph(directory, n), sq8)

    def write(self, directory: Path) -> None:
        super().write(directory)
        for name, array in self.sq8._asdict().items():
            write_array(Path(directory) / f"sq8_{name}.arr", array)

    def nbytes(self) -> int:
        """Bytes a search reads from RAM: codes, row terms and graph (the float32
        vectors stay on disk but for rerank * k rows per query)."""
        graph = sum(a.nbytes for a in self.graph.values())
        return graph + sum(a.nbytes for a in self.sq8)

    def _space(self) -> Sq8Space:
        return Sq8Space(self.sq8.codes, self.sq8.terms, *self._no_rows, self.metric.kernel)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        queries = readonly(as_queries(queries, self.vectors.shape[1]))
        allowed = as_mask(allowed, len(self))
        n_cand = k * knob(params, "rerank", self.config.rerank, 1, "hnsw_sq8")
        ef = max(knob(params, "ef", self.config.ef_search, 1, "hnsw_sq8"), n_cand)

        def approximate(q: np.ndarray, mask: np.ndarray | None, rows: np.ndarray,
                        dist: np.ndarray) -> None:
            found = np.full((q.shape[0], n_cand), -1, dtype=np.int64)
            estimates = np.full((q.shape[0], n_cand), np.inf, dtype=np.float32)
            coded = sq8_queries(q, self.sq8.offsets, self.sq8.scales, self.metric.kernel)
            self.walk(self._space(), coded, ef, mask, found, estimates)
            with kernel_threads(q.shape[0]):
                rows[:], dist[:] = rerank(self.vectors, q, found, k, self.metric.kernel)

        return planned_search(self.vectors, self.metric.kernel, queries, k, allowed,
                              lambda n_allowed: use_exact_scan(len(self), n_allowed, ef),
                              approximate)
