"""Exact search over a block of vectors: the flat index and the growing segment's scan.

One query goes through a parallel numba scan; a batch goes through BLAS matmul in
blocks followed by per-query heaps, which is faster once there are several queries.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

import numba
import numpy as np

from .config import FlatConfig
from .kernels.scan import push_scores, scan_rows_topk, scan_topk, sort_heaps
from .metrics import METRIC_IP, Metric
from .parallel import kernel_threads, single_threaded_blas

EMPTY_MASK = np.zeros(0, dtype=np.uint8)
EMPTY_F32 = np.zeros(0, dtype=np.float32)
BATCH_MIN = 4
BLOCK_ROWS = 2_048
QUERY_BLOCK = 512
WORKER_MIN_QUERIES = 64
SPARSE_FRACTION = 0.05


def _matmul_share(vectors: np.ndarray, queries: np.ndarray, metric: int,
                  row_norms: np.ndarray, q_norms: np.ndarray, allowed: np.ndarray | None,
                  dist: np.ndarray, idx: np.ndarray) -> None:
    """One worker's queries: BLAS inner products of QUERY_BLOCK queries x BLOCK_ROWS rows
    (a block of scores that stays in cache), each pushed into its queries' heaps."""
    nq, n = queries.shape[0], vectors.shape[0]
    mask = EMPTY_MASK if allowed is None else allowed
    scores = np.empty((min(QUERY_BLOCK, nq), min(BLOCK_ROWS, n)), dtype=np.float32)
    for q0 in range(0, nq, QUERY_BLOCK):
        q1 = min(q0 + QUERY_BLOCK, nq)
        q_block = queries[q0:q1]
        for start in range(0, n, BLOCK_ROWS):
            block = vectors[start:start + BLOCK_ROWS]
            out = scores[:q1 - q0, :block.shape[0]]
            np.matmul(q_block, block.T, out=out)
            push_scores(out, start, metric, row_norms[start:start + BLOCK_ROWS],
                        q_norms[q0:q1], mask, allowed is not None, dist[q0:q1], idx[q0:q1])
    sort_heaps(dist, idx)


def _matmul_topk(vectors: np.ndarray, queries: np.ndarray, k: int, metric: int,
                 allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Batch path, as faiss IndexFlat does it: BLAS on blocks, then per-query heaps.

    The queries are split between the kernel threads (at least WORKER_MIN_QUERIES each),
    each running single-threaded BLAS and heap pushes on its own share: no thread waits
    for another until the end. A small batch runs on the calling thread with BLAS's own
    threads. Each query sees the rows in ascending order either way, so among equal
    scores the earlier rows are kept, as in a plain scan.
    """
    nq = queries.shape[0]
    dist = np.full((nq, k), np.inf, dtype=np.float32)
    idx = np.full((nq, k), -1, dtype=np.int64)
    l2 = metric != METRIC_IP
    q_norms = np.einsum("ij,ij->i", queries, queries) if l2 else EMPTY_F32
    row_norms = np.einsum("ij,ij->i", vectors, vectors) if l2 else EMPTY_F32
    workers = min(numba.get_num_threads(), nq // WORKER_MIN_QUERIES)
    if workers <= 1:
        _matmul_share(vectors, queries, metric, row_norms, q_norms, allowed, dist, idx)
        return idx, dist
    bounds = np.linspace(0, nq, workers + 1).astype(np.int64)

    def share(a: int, b: int) -> None:
        _matmul_share(vectors, queries[a:b], metric, row_norms, q_norms[a:b], allowed,
                      dist[a:b], idx[a:b])

    with single_threaded_blas(), ThreadPoolExecutor(workers) as pool:
        list(pool.map(share, bounds[:-1], bounds[1:]))
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
