"""Bounded max-heaps over preallocated arrays: the k best (smallest) proxy distances.

A heap is two parallel arrays, `dist` float32 (k,) and `idx` int64 (k,), initialised to
+inf / -1. The root holds the worst kept distance, so a candidate is kept only when it
beats `dist[0]`. All functions are pure and allocate nothing.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def heap_push(dist: np.ndarray, idx: np.ndarray, d: float, i: int) -> bool:
    """Replace the root with (d, i) if d beats it, then sift down. Returns whether kept."""
    if d >= dist[0]:
        return False
    k = dist.shape[0]
    pos = 0
    while True:
        left = 2 * pos + 1
        if left >= k:
            break
        right = left + 1
        child = left
        if right < k and dist[right] > dist[left]:
            child = right
        if dist[child] <= d:
            break
        dist[pos] = dist[child]
        idx[pos] = idx[child]
        pos = child
    dist[pos] = d
    idx[pos] = i
    return True


@njit(cache=True, nogil=True)
def heap_sort(dist: np.ndarray, idx: np.ndarray) -> None:
    """Sort a heap in place, best (smallest) first; padding (-1, +inf) goes last."""
    order = np.argsort(dist, kind="mergesort")
    d2 = dist[order].copy()
    i2 = idx[order].copy()
    dist[:] = d2
    idx[:] = i2
