"""The metric registry: how each metric is stored, scanned and reported.

Kernels compute a cheap proxy distance where lower is better: negative inner product
(METRIC_IP) or squared L2 (METRIC_L2). Cosine is normalise-on-write plus inner product.
The proxy is turned into the user-facing score once, when results leave the store.
"""

from dataclasses import dataclass

import numpy as np

METRIC_IP = 0
METRIC_L2 = 1


@dataclass(frozen=True)
class Metric:
    name: str
    kernel: int  # METRIC_IP or METRIC_L2
    normalise: bool
    higher_is_better: bool

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Return float32 C-contiguous vectors ready to store or query with."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.normalise:
            with np.errstate(over="ignore"):
                norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
            if not np.isfinite(norms).all():  # finite values whose norm overflows float32
                norms = np.linalg.norm(vectors.astype(np.float64), axis=-1, keepdims=True)
                return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
            vectors = vectors / np.where(norms == 0, 1, norms).astype(np.float32)
        return vectors

    def score(self, proxy: np.ndarray) -> np.ndarray:
        """Turn proxy distances into scores: similarity for cosine/dot, distance for l2."""
        if self.kernel == METRIC_IP:
            return (-proxy).astype(np.float32)
        return np.sqrt(np.maximum(proxy, 0)).astype(np.float32)


METRICS = {
    "cosine": Metric("cosine", METRIC_IP, normalise=True, higher_is_better=True),
    "dot": Metric("dot", METRIC_IP, normalise=False, higher_is_better=True),
    "l2": Metric("l2", METRIC_L2, normalise=False, higher_is_better=False),
}
