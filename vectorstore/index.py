"""The one protocol every sealed index follows (flat, HNSW, IVF-PQ).

An index covers the rows of one sealed segment, addressed by local row number
0..n-1. It never owns the float32 vectors: the segment does (memory-mapped) and hands
them to `build` and `open`. Search returns proxy distances (lower is better, see
`metrics.py`); the segment maps local rows to record ids and proxies to scores.
"""

from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np

from .metrics import Metric


class VectorIndex(Protocol):
    kind: str

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: Any) -> Self:
        """Build over `vectors` (n, d) float32 C-contiguous, already prepared by metric."""

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric, config: Any) -> Self:
        """Open what `write` wrote to `directory`, without rebuilding."""

    def write(self, directory: Path) -> None:
        """Persist the index's own files (not the vectors) into `directory`."""

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Top-k of each query among allowed rows.

        queries: (nq, d) float32 C-contiguous, prepared by the metric.
        allowed: None (every row) or a uint8 mask of shape (n,), 1 = may be returned.
        params: per-call knobs (e.g. {"ef": 64} or {"nprobe": 16}); unknown keys ignored.
        Returns (rows int64 (nq, k) padded with -1, proxy float32 (nq, k) padded with
        +inf), each row sorted best first. Whenever at least k rows are allowed, k are
        returned.
        """
