"""Exact search over a block of vectors: the flat index and the growing segment's scan.

One query goes through a parallel numba scan; a batch goes through BLAS matmul in
blocks followed by argpartition, which is faster once there are several queries.
"""

from pathlib import Path
from typing import Any, Self

import numpy as np

from .config import FlatConfig
from .kernels.scan import push_scores, scan_rows_topk, scan_topk, sort_heaps
from .metrics import METRIC_IP, Metric
from .parallel import kernel_threads

EMPTY_MASK = np.zeros(0, dtype=np.uint8)
EMPTY_F32 = np.zeros(0, dtype=np.float32)
BATCH_MIN = 4
BLOCK_ROWS = 32_768
SPARSE_FRACTION = 0.05


def _matmul_topk(vectors: np.ndarray, queries: np.ndarray, k: int, metric: int,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Batch path: BLAS inner products block by block, pushed into per-query heaps."""
    nq = queries.shape[0]
    dist = np.full((nq, k), np.inf, dtype=np.float32)
    idx = np.full((nq, k), -1, dtype=np.int64)
    q_norms = np.einsum("ij,ij->i", queries, queries) if metric != METRIC_IP else EMPTY_F32
    mask = EMPTY_MASK if allowed is None else allowed
    scores = np.empty((nq, min(BLOCK_ROWS, vectors.shape[0])), dtype=np.float32)
    for start in range(0, vectors.shape[0], BLOCK_ROWS):
        block = vectors[start:start + BLOCK_ROWS]
        norms = np.einsum("ij,ij->i", block, block) if metric != METRIC_IP else EMPTY_F32
        out = scores[:, :block.shape[0]]
        np.matmul(queries, block.T, out=out)
        push_scores(out, start, metric, norms, q_norms, mask, allowed is not None, dist, idx)
    sort_heaps(dist, idx)
    return idx, dist


def _pad(rows: np.ndarray, dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if rows.shape[1] >= k:
        return np.ascontiguousarray(rows[:, :k]), np.ascontiguousarray(dist[:, :k])
    nq, have = rows.shape
    out_i = np.full((nq, k), -1, dtype=np.int64)
    out_d = np.full((nq, k), np.inf, dtype=np.float32)
    out_i[:, :have], out_d[:, :have] = rows, dist
    return out_i, out_d


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int, metric: int,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of each query among the allowed rows of `vectors`.

    vectors (n, d) and queries (nq, d) float32 C-contiguous; allowed None or uint8 (n,).
    Returns (rows int64 (nq, k), proxy float32 (nq, k)), best first, padded -1 / +inf.
    """
    nq, n = queries.shape[0], vectors.shape[0]
    if n == 0:
        return _pad(np.zeros((nq, 0), np.int64), np.zeros((nq, 0), np.float32), k)
    if allowed is not None:
        n_allowed = int(np.count_nonzero(allowed))
        if n_allowed < SPARSE_FRACTION * n:
            rows = np.flatnonzero(allowed).astype(np.int64)
            out = [scan_rows_topk(vectors, rows, queries[q], k, metric) for q in range(nq)]
            return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])
    if nq >= BATCH_MIN:
        return _matmul_topk(vectors, queries, k, metric, allowed)
    mask = EMPTY_MASK if allowed is None else allowed
    with kernel_threads(n // 4096) as blocks:
        out = [scan_topk(vectors, queries[q], k, metric, mask, allowed is not None, blocks)
               for q in range(nq)]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


class FlatIndex:
    """The flat index: no structure beyond the segment's vectors; search is exact."""

    kind = "flat"

    def __init__(self, vectors: np.ndarray, metric: Metric) -> None:
        self.vectors = vectors
        self.metric = metric

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: FlatConfig) -> Self:
        return cls(vectors, metric)

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric,
             config: FlatConfig) -> Self:
        return cls(vectors, metric)

    def write(self, directory: Path) -> None:
        """Nothing to write: the segment already holds the vectors."""

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def nbytes(self) -> int:
        """Bytes a search reads from RAM: every float32 vector."""
        return self.vectors.nbytes

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return exact_search(self.vectors, queries, k, self.metric.kernel, allowed)
