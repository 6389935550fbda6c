"""Proxy distances between float32 vectors: negative inner product or squared L2.

`metric` is METRIC_IP (0) or METRIC_L2 (1) from `vectorstore.metrics`; lower is better
for both, so every search keeps the smallest values.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def proxy_distance(a: np.ndarray, b: np.ndarray, metric: int) -> float:
    """Distance of two (d,) float32 vectors under `metric` (0: -dot, 1: squared L2)."""
    acc = np.float32(0.0)
    if metric == 0:
        for j in range(a.shape[0]):
            acc += a[j] * b[j]
        return -acc
    for j in range(a.shape[0]):
        t = a[j] - b[j]
        acc += t * t
    return acc
