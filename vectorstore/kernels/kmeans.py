"""k-means under squared L2: k-means++ seeding, Lloyd iterations, empty-cluster repair.

Used twice by IVF-PQ: once for the coarse cells (k = nlist over whole vectors) and once
per PQ sub-space (k = 256 over residual slices). Every array is float32 C-contiguous
unless stated; randomness comes from numba's generator seeded with `seed`, so a given
input and seed always give the same centroids.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _sq_l2(a: np.ndarray, b: np.ndarray) -> float:
    acc = np.float32(0.0)
    for j in range(a.shape[0]):
        t = a[j] - b[j]
        acc += t * t
    return acc


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def assign_nearest(data: np.ndarray, centroids: np.ndarray, labels: np.ndarray,
                   dists: np.ndarray) -> None:
    """Nearest centroid of every row, in parallel over rows.

    data (n, d), centroids (k, d); writes labels int64 (n,) and the squared L2
    distance to that centroid into dists float32 (n,).
    """
    k = centroids.shape[0]
    for i in prange(data.shape[0]):
        best = np.inf
        arg = 0
        for c in range(k):
            dd = _sq_l2(data[i], centroids[c])
            if dd < best:
                best = dd
                arg = c
        labels[i] = arg
        dists[i] = best


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def _lower_min_dist(data: np.ndarray, center: np.ndarray, min_dist: np.ndarray) -> None:
    for i in prange(data.shape[0]):
        dd = _sq_l2(data[i], center)
        if dd < min_dist[i]:
            min_dist[i] = dd


@njit(cache=True, nogil=True)
def _sample_weighted(weights: np.ndarray) -> int:
    total = 0.0
    for i in range(weights.shape[0]):
        total += weights[i]
    if total <= 0.0:
        return np.random.randint(weights.shape[0])
    target = np.random.random() * total
    acc = 0.0
    for i in range(weights.shape[0]):
        acc += weights[i]
        if acc >= target:
            return i
    return weights.shape[0] - 1


@njit(cache=True, nogil=True)
def random_init(data: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k distinct rows of data (n, d), n >= k, drawn uniformly. Returns float32 (k, d)."""
    np.random.seed(seed)
    return data[np.random.permutation(data.shape[0])[:k]].copy()


@njit(cache=True, nogil=True, fastmath=True)
def kmeans_pp_init(data: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centroid is a row
    drawn with probability proportional to its squared distance to the nearest chosen
    one. data (n, d) with n >= k; returns centroids float32 (k, d).
    """
    np.random.seed(seed)
    n, d = data.shape
    centroids = np.empty((k, d), dtype=np.float32)
    min_dist = np.full(n, np.inf, dtype=np.float32)
    pick = np.random.randint(n)
    for c in range(k):
        centroids[c] = data[pick]
        _lower_min_dist(data, centroids[c], min_dist)
        pick = _sample_weighted(min_dist)
    return centroids


@njit(cache=True, nogil=True)
def update_centroids(data: np.ndarray, labels: np.ndarray, dists: np.ndarray,
                     centroids: np.ndarray) -> int:
    """Lloyd update: each centroid becomes the mean of its rows. An empty cluster is
    re-seeded with the row farthest from its own centroid that has not yet re-seeded
    another, so k distinct non-empty cells survive. data (n, d), labels int64 (n,),
    dists float32 (n,) from `assign_nearest`; centroids (k, d) updated in place.
    Returns the number of empty clusters repaired.
    """
    k, d = centroids.shape
    sums = np.zeros((k, d), dtype=np.float64)
    counts = np.zeros(k, dtype=np.int64)
    for i in range(data.shape[0]):
        c = labels[i]
        counts[c] += 1
        for j in range(d):
            sums[c, j] += data[i, j]
    n_empty = 0
    far = np.zeros(0, dtype=np.int64)
    for c in range(k):
        if counts[c] > 0:
            for j in range(d):
                centroids[c, j] = sums[c, j] / counts[c]
            continue
        if n_empty == 0:
            far = np.argsort(-dists)
        centroids[c] = data[far[n_empty]]
        n_empty += 1
    return n_empty


@njit(cache=True, nogil=True)
def kmeans(data: np.ndarray, k: int, n_iter: int, seed: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding then `n_iter` Lloyd iterations over data (n, d), n >= k.
    Returns (centroids float32 (k, d), labels int64 (n,) against those centroids).
    """
    centroids = kmeans_pp_init(data, k, seed)
    labels = np.empty(data.shape[0], dtype=np.int64)
    dists = np.empty(data.shape[0], dtype=np.float32)
    for _ in range(n_iter):
        assign_nearest(data, centroids, labels, dists)
        update_centroids(data, labels, dists, centroids)
    assign_nearest(data, centroids, labels, dists)
    return centroids, labels
