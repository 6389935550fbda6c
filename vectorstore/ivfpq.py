"""IVF-PQ sealed index: an inverted file over k-means cells with product-quantised
residuals, for segments whose float32 vectors should stay on disk.

RAM holds the coarse centroids, the PQ codebooks and the lists as CSR (offsets, row ids,
m-byte codes grouped by cell): m + 4 bytes per vector (m + 8 for L2) plus the
centroids' 16 d / sqrt(n). At 100k x 384-d, m = 48: 75.5 bytes, 1/20 of float32. The
float32 vectors (the segment's memory-mapped file) are read only to re-rank the best
k * rerank candidates exactly, and by the exact paths below.

Exact paths, which never touch the codes:
- a segment with fewer than MIN_TRAIN_ROWS rows is not trained at all: each 256-entry
  PQ codebook needs about 39 training rows per entry (faiss warns below that), and an
  exact scan of fewer than ~10k rows costs about as much as probing the cells anyway;
- a filter so selective that scanning its allowed rows exactly is cheaper than the
  probes (`prefer_exact`).
"""

from pathlib import Path
from typing import Any, Self

import numpy as np

from .arrayfile import read_array, write_array
from .config import IvfPqConfig
from .errors import CorruptFile, DimensionMismatch, InvalidInput
from .flat import exact_search
from .kernels.kmeans import assign_nearest, kmeans
from .kernels.pq import (
    KSUB,
    IvfPqArrays,
    encode,
    residual_terms,
    search_batch,
    train_codebooks,
)
from .kernels.scan import rerank
from .metrics import METRIC_L2, Metric
from .parallel import kernel_threads
from .planner import as_mask, as_queries, knob

MIN_POINTS_PER_CENTROID = 39
MIN_TRAIN_ROWS = MIN_POINTS_PER_CENTROID * KSUB  # 9,984
COARSE_ITERS = 10
PQ_ITERS = 20
MIN_SUBDIM = 8
EMPTY_MASK = np.zeros(0, dtype=np.uint8)


def choose_nlist(n: int, config: IvfPqConfig) -> int:
    """Cells for n rows: config.nlist or about 4 * sqrt(n), capped so each cell has at
    least 39 rows to train on. 0 when the segment is too small to train."""
    if n < MIN_TRAIN_ROWS:
        return 0
    wanted = config.nlist or int(round(4 * np.sqrt(n)))
    return max(1, min(wanted, n // MIN_POINTS_PER_CENTROID))


def choose_m(d: int, config: IvfPqConfig) -> int:
    """Sub-quantisers: config.m, else the largest divisor of d with sub-vectors of at
    least 8 dims (m = 48 for 384-d: 48-byte codes, 1/32 of float32)."""
    if config.m:
        if d % config.m:
            raise InvalidInput(f"ivf_pq.m={config.m} must divide the dimension {d}")
        return config.m
    return max(m for m in range(1, max(1, d // MIN_SUBDIM) + 1) if d % m == 0)


def prefer_exact(n: int, n_allowed: int, nlist: int, nprobe: int, n_cand: int, d: int,
                 m: int) -> bool:
    """Whether an exact scan of the allowed rows costs less than probing: the probes
    read nlist centroids (d each) plus the codes (m each) of enough cells to meet
    nprobe and to see n_cand allowed rows; the exact scan reads d per allowed row."""
    fraction = max(nprobe / nlist, n_cand / max(n_allowed, 1))
    return n_allowed * d <= nlist * d + min(1.0, fraction) * n * m


def fit(vectors: np.ndarray, nlist: int, m: int, config: IvfPqConfig
        ) -> tuple[np.ndarray, np.ndarray]:
    """Train the cells and the PQ codebooks of the residuals on a sample of vectors (n, d):
    config.train_size rows, raised to 39 per centroid when that is more.
    Returns (centroids float32 (nlist, d), codebooks float32 (m, d // m, 256))."""
    n = vectors.shape[0]
    size = min(n, max(config.train_size, MIN_POINTS_PER_CENTROID * max(nlist, KSUB)))
    rng = np.random.default_rng(config.seed)
    sample = np.ascontiguousarray(vectors[np.sort(rng.choice(n, size=size, replace=False))])
    centroids, labels = kmeans(sample, nlist, COARSE_ITERS, config.seed)
    codebooks = train_codebooks(sample - centroids[labels], m, PQ_ITERS, config.seed)
    return centroids, codebooks


def add(vectors: np.ndarray, centroids: np.ndarray, codebooks: np.ndarray, metric: int
        ) -> IvfPqArrays:
    """Assign every row of vectors (n, d) to its cell, encode its residual, and group
    rows by cell into CSR lists (with each row's L2 term when metric is METRIC_L2)."""
    n, nlist = vectors.shape[0], centroids.shape[0]
    labels = np.empty(n, dtype=np.int64)
    assign_nearest(vectors, centroids, labels, np.empty(n, dtype=np.float32))
    codes = encode(vectors, labels, centroids, codebooks)
    terms = residual_terms(labels, codes, centroids, codebooks) if metric == METRIC_L2 \
        else np.zeros(0, dtype=np.float32)
    order = np.argsort(labels, kind="stable")
    offsets = np.zeros(nlist + 1, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=nlist), out=offsets[1:])
    return IvfPqArrays(centroids, codebooks, offsets, order.astype(np.int32),
                       np.ascontiguousarray(codes[order]), terms[order] if terms.size else terms)


class IvfPqIndex:
    """IVF-PQ over one sealed segment; see the module docstring."""

    kind = "ivf_pq"

    def __init__(self, vectors: np.ndarray, metric: Metric, config: IvfPqConfig,
                 arrays: IvfPqArrays | None) -> None:
        self.vectors = vectors
        self.metric = metric
        self.config = config
        self.arrays = arrays
        # Cells come from k-means under L2, so probe by L2 unless the metric is a raw
        # inner product, where large-norm cells matter (measured: +1% recall at equal
        # nprobe on normalised embeddings).
        self._probe_l2 = metric.kernel == METRIC_L2 or metric.normalise
        self._centroid_norms = None if arrays is None else \
            np.einsum("ij,ij->i", arrays.centroids, arrays.centroids)

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: IvfPqConfig) -> Self:
        vectors = _as_matrix(vectors)
        n, d = vectors.shape
        nlist = choose_nlist(n, config)
        arrays = None
        if nlist:
            centroids, codebooks = fit(vectors, nlist, choose_m(d, config), config)
            arrays = add(vectors, centroids, codebooks, metric.kernel)
        return cls(vectors, metric, config, arrays)

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric,
             config: IvfPqConfig) -> Self:
        vectors, directory = _as_matrix(vectors), Path(directory)
        n, d, nlist = (int(v) for v in read_array(directory / "ivfpq_meta.arr", mmap=False))
        if (n, d) != vectors.shape:
            raise CorruptFile(f"{directory}: IVF-PQ index covers {(n, d)} vectors, "
                              f"segment has {vectors.shape}")
        arrays = None
        if nlist:
            arrays = IvfPqArrays(*(read_array(directory / f"ivfpq_{name}.arr", mmap=False)
                                   for name in IvfPqArrays._fields))
        return cls(vectors, metric, config, arrays)

    def write(self, directory: Path) -> None:
        """Write ivfpq_meta.arr ([n, d, nlist], nlist 0 = untrained) and, when trained,
        one ivfpq_<field>.arr per array of `IvfPqArrays`."""
        directory = Path(directory)
        n, d = self.vectors.shape
        nlist = 0 if self.arrays is None else self.arrays.centroids.shape[0]
        write_array(directory / "ivfpq_meta.arr", np.array([n, d, nlist], np.int64))
        for name, array in (self.arrays._asdict().items() if self.arrays else ()):
            write_array(directory / f"ivfpq_{name}.arr", array)

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @property
    def trained(self) -> bool:
        return self.arrays is not None

    def nbytes(self) -> int:
        """Bytes this index keeps in RAM (the float32 vectors stay on disk)."""
        return 0 if self.arrays is None else sum(a.nbytes for a in self.arrays)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        queries = as_queries(queries, self.vectors.shape[1])
        if not isinstance(k, int | np.integer) or k < 1:
            raise InvalidInput(f"k must be a positive integer, got {k!r}")
        nprobe = knob(params, "nprobe", self.config.nprobe, 1, "ivf_pq")
        rerank_factor = knob(params, "rerank", self.config.rerank, 0, "ivf_pq")
        n_cand = k * max(rerank_factor, 1)
        allowed = as_mask(allowed, len(self))
        if self.arrays is None or self._exact_is_cheaper(allowed, nprobe, n_cand):
            return exact_search(self.vectors, queries, k, self.metric.kernel, allowed)
        mask = EMPTY_MASK if allowed is None else allowed
        with kernel_threads(queries.shape[0]):
            rows, dist = search_batch(queries, self._coarse(queries), n_cand,
                                      self.metric.kernel, nprobe, self.arrays, mask,
                                      allowed is not None)
            if rerank_factor:
                rows, dist = rerank(self.vectors, queries, rows, k, self.metric.kernel)
        return rows, dist

    def _coarse(self, queries: np.ndarray) -> np.ndarray:
        """Probe order of the cells for each query (nq, nlist), lower first: squared L2
        less |q|^2, or -<q, c>. One BLAS product for the batch."""
        dots = queries @ self.arrays.centroids.T
        return self._centroid_norms - 2 * dots if self._probe_l2 else -dots

    def _exact_is_cheaper(self, allowed: np.ndarray | None, nprobe: int, n_cand: int) -> bool:
        if allowed is None:
            return False
        n, d = self.vectors.shape
        return prefer_exact(n, int(np.count_nonzero(allowed)), self.arrays.centroids.shape[0],
                            nprobe, n_cand, d, self.arrays.codes.shape[1])


def _as_matrix(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise DimensionMismatch(f"expected a (n, d) matrix, got shape {x.shape}")
    return x
