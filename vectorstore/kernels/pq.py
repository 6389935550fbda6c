"""Product quantisation of IVF residuals and the asymmetric-distance (ADC) list scan.

A vector x in coarse cell c is stored as m one-byte codes: sub-vector j of the residual
x - centroid[c] is replaced by the nearest of 256 sub-centroids in codebook j (Jégou,
Douze & Schmid 2011). Shapes used throughout:

    codebooks  float32 (m, dsub, 256), d = m * dsub; sub-centroid s is codebooks[j, :, s]
    norms      float32 (m, 256)                squared norms of the sub-centroids (encoding)
    centroids  float32 (nlist, d)              coarse cells
    offsets    int64   (nlist + 1,)            list l holds positions offsets[l]:offsets[l+1]
    rows       int32   (n,)                    segment row of each position
    codes      uint8   (n, m)                  PQ code of each position
    terms      float32 (n,) or (0,)            L2 only: |x^|^2 - |c|^2 of each position
    lut        float32 (m, 256)                per-query lookup table -<q_j, s>

Distances are proxies (lower is better): METRIC_IP (0) estimates -<q, x>, METRIC_L2 (1)
estimates |q - x|^2. Neither needs a table per probed cell: -<q, x^> = -<q, c> - <q, r^>
and |q - x^|^2 = |q - c|^2 + (|x^|^2 - |c|^2) - 2 <q, r^>, where the middle term is
stored per row (4 bytes) instead of faiss's nlist * m * 256 precomputed table.
"""

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .distance import proxy_distance
from .heap import heap_push, heap_sort
from .kmeans import random_init, update_centroids

KSUB = 256


class IvfPqArrays(NamedTuple):
    """The trained state of one IVF-PQ index (shapes above); terms is empty for IP."""

    centroids: np.ndarray
    codebooks: np.ndarray
    offsets: np.ndarray
    rows: np.ndarray
    codes: np.ndarray
    terms: np.ndarray


@njit(cache=True, nogil=True, fastmath=True)
def code_norms(codebooks: np.ndarray) -> np.ndarray:
    """Squared norms float32 (m, 256) of the sub-centroids of codebooks (m, dsub, 256)."""
    m, dsub, ksub = codebooks.shape
    norms = np.zeros((m, ksub), dtype=np.float32)
    for j in range(m):
        for t in range(dsub):
            for s in range(ksub):
                norms[j, s] += codebooks[j, t, s] * codebooks[j, t, s]
    return norms


@njit(cache=True, nogil=True, fastmath=True)
def ip_lut(query: np.ndarray, codebooks: np.ndarray, lut: np.ndarray) -> None:
    """Fill lut (m, 256) with -<q_j, s> for each sub-vector q_j of query (d,) and each
    sub-centroid s of codebooks (m, dsub, 256). The inner loop runs over the 256
    sub-centroids, so it vectorises.
    """
    m, dsub, ksub = codebooks.shape
    for j in range(m):
        lut[j] = 0.0
        for t in range(dsub):
            v = query[j * dsub + t]
            for s in range(ksub):
                lut[j, s] -= v * codebooks[j, t, s]


@njit(cache=True, nogil=True, fastmath=True)
def _nearest_codes(residual: np.ndarray, codebooks: np.ndarray, norms: np.ndarray,
                   codes: np.ndarray, dists: np.ndarray) -> None:
    """Nearest sub-centroid of each sub-vector r_j of residual (d,), by
    |r_j - s|^2 = |r_j|^2 + |s|^2 - 2 <r_j, s>: its index into codes (m,) and squared
    distance into dists (m,)."""
    m, dsub, _ = codebooks.shape
    lut = np.empty((m, KSUB), dtype=np.float32)
    ip_lut(residual, codebooks, lut)
    for j in range(m):
        arg = 0
        best = np.inf
        for s in range(KSUB):
            dd = norms[j, s] + 2 * lut[j, s]
            if dd < best:
                best = dd
                arg = s
        for t in range(j * dsub, (j + 1) * dsub):
            best += residual[t] * residual[t]
        codes[j] = arg
        dists[j] = best


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def _assign_codes(residuals: np.ndarray, codebooks: np.ndarray, labels: np.ndarray,
                  dists: np.ndarray) -> None:
    norms = code_norms(codebooks)
    for i in prange(residuals.shape[0]):
        _nearest_codes(residuals[i], codebooks, norms, labels[:, i], dists[:, i])


@njit(cache=True, nogil=True)
def train_codebooks(residuals: np.ndarray, m: int, n_iter: int, seed: int) -> np.ndarray:
    """k-means with 256 centroids in each of the m sub-spaces of residuals (n, d),
    n >= 256, d divisible by m, seeded from random rows as faiss does. The m k-means
    run in lockstep, so each Lloyd iteration is one parallel pass over the rows.
    Returns codebooks float32 (m, d // m, 256): sub-centroid s of sub-space j is
    codebooks[j, :, s].
    """
    n, d = residuals.shape
    dsub = d // m
    subs = np.empty((m, n, dsub), dtype=np.float32)
    sub_centroids = np.empty((m, KSUB, dsub), dtype=np.float32)
    for j in range(m):
        subs[j] = residuals[:, j * dsub:(j + 1) * dsub]
        sub_centroids[j] = random_init(subs[j], KSUB, seed + j)
    labels = np.empty((m, n), dtype=np.int64)
    dists = np.empty((m, n), dtype=np.float32)
    for _ in range(n_iter):
        _assign_codes(residuals, np.ascontiguousarray(sub_centroids.transpose(0, 2, 1)),
                      labels, dists)
        for j in range(m):
            update_centroids(subs[j], labels[j], dists[j], sub_centroids[j])
    return np.ascontiguousarray(sub_centroids.transpose(0, 2, 1))


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def encode(vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray,
           codebooks: np.ndarray) -> np.ndarray:
    """PQ codes of the residuals vectors[i] - centroids[labels[i]].

    vectors (n, d), labels int64 (n,), codebooks (m, dsub, 256). Returns codes uint8 (n, m).
    """
    n, m = vectors.shape[0], codebooks.shape[0]
    norms = code_norms(codebooks)
    codes = np.empty((n, m), dtype=np.uint8)
    for i in prange(n):
        _nearest_codes(vectors[i] - centroids[labels[i]], codebooks, norms, codes[i],
                       np.empty(m, dtype=np.float32))
    return codes


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def residual_terms(labels: np.ndarray, codes: np.ndarray, centroids: np.ndarray,
                   codebooks: np.ndarray) -> np.ndarray:
    """|x^|^2 - |c|^2 = |r^|^2 + 2 <c, r^> of each row's reconstruction x^ = c + r^
    (labels int64 (n,), codes uint8 (n, m)): the per-row part of the L2 ADC distance,
    |q - x^|^2 = |q - c|^2 + term - 2 <q, r^>. Returns float32 (n,).
    """
    n, (m, dsub, _) = labels.shape[0], codebooks.shape
    terms = np.zeros(n, dtype=np.float32)
    for i in prange(n):
        c = centroids[labels[i]]
        acc = np.float32(0.0)
        for j in range(m):
            s = codes[i, j]
            for t in range(dsub):
                v = codebooks[j, t, s]
                acc += v * (v + 2 * c[j * dsub + t])
        terms[i] = acc
    return terms


@njit(cache=True, nogil=True, fastmath=True)
def adc_scan_list(lut: np.ndarray, base: float, scale: float, index: IvfPqArrays, start: int,
                  stop: int, mask: np.ndarray, use_mask: bool, heap_dist: np.ndarray,
                  heap_idx: np.ndarray) -> int:
    """Push positions start:stop of one list into the heap (float32 / int64 (kc,)) with
    ADC distance base + scale * sum_j lut[j, code_j] (+ index.terms[p] when present),
    skipping rows with mask[row] == 0 when use_mask. Returns the allowed rows scanned.
    """
    codes, terms, rows = index.codes, index.terms, index.rows
    m = codes.shape[1]
    use_terms = terms.shape[0] > 0
    seen = 0
    for p in range(start, stop):
        if use_mask and mask[rows[p]] == 0:
            continue
        seen += 1
        acc = np.float32(0.0)
        for j in range(m):
            acc += lut[j, codes[p, j]]
        acc = base + scale * acc
        if use_terms:
            acc += terms[p]
        if acc < heap_dist[0]:
            heap_push(heap_dist, heap_idx, acc, rows[p])
    return seen


@njit(cache=True, nogil=True, fastmath=True)
def _nearest_cells(coarse: np.ndarray, count: int) -> np.ndarray:
    dist = np.full(count, np.inf, dtype=np.float32)
    cells = np.full(count, -1, dtype=np.int64)
    for c in range(coarse.shape[0]):
        if coarse[c] < dist[0]:
            heap_push(dist, cells, coarse[c], c)
    heap_sort(dist, cells)
    return cells


@njit(cache=True, nogil=True, fastmath=True)
def _probe_in_order(query, cells, probed, at_least, n_cand, seen, index, metric, mask,
                    use_mask, lut, heap_dist, heap_idx):
    scale = 1.0 if metric == 0 else 2.0
    done = 0
    for cell in cells:
        if done >= at_least and seen >= n_cand:
            break
        if probed[cell]:
            continue
        probed[cell] = True
        done += 1
        base = proxy_distance(query, index.centroids[cell], metric)
        seen += adc_scan_list(lut, base, scale, index, index.offsets[cell],
                              index.offsets[cell + 1], mask, use_mask, heap_dist, heap_idx)
    return seen


@njit(cache=True, nogil=True, fastmath=True)
def search_one(query: np.ndarray, coarse: np.ndarray, n_cand: int, metric: int, nprobe: int,
               index: IvfPqArrays, mask: np.ndarray, use_mask: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """ADC top-n_cand of one query (d,) over the nprobe cells of smallest coarse
    distance (nlist,), probing further cells in that order while fewer than n_cand
    allowed rows were seen. One table -<q_j, s> per query serves both metrics:
    IP is -<q, c> + sum, L2 is |q - c|^2 + 2 * sum + the row's term.
    Returns (rows int64 (n_cand,), proxy float32 (n_cand,)), best first, padded -1 / +inf.
    """
    nlist = index.centroids.shape[0]
    lut = np.empty((index.codebooks.shape[0], KSUB), dtype=np.float32)
    ip_lut(query, index.codebooks, lut)
    heap_dist = np.full(n_cand, np.inf, dtype=np.float32)
    heap_idx = np.full(n_cand, -1, dtype=np.int64)
    probed = np.zeros(nlist, dtype=np.bool_)
    nprobe = min(nprobe, nlist)
    seen = _probe_in_order(query, _nearest_cells(coarse, nprobe), probed, nprobe, n_cand, 0,
                           index, metric, mask, use_mask, lut, heap_dist, heap_idx)
    if seen < n_cand and nprobe < nlist:
        _probe_in_order(query, _nearest_cells(coarse, nlist), probed, 0, n_cand, seen, index,
                        metric, mask, use_mask, lut, heap_dist, heap_idx)
    heap_sort(heap_dist, heap_idx)
    return heap_idx, heap_dist


@njit(cache=True, nogil=True, parallel=True)
def search_batch(queries: np.ndarray, coarse: np.ndarray, n_cand: int, metric: int, nprobe: int,
                 index: IvfPqArrays, mask: np.ndarray, use_mask: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """`search_one` for each of queries (nq, d) with its row of coarse (nq, nlist), in
    parallel over queries. Returns (rows int64 (nq, n_cand), proxy float32 (nq, n_cand)).
    """
    nq = queries.shape[0]
    rows = np.empty((nq, n_cand), dtype=np.int64)
    dist = np.empty((nq, n_cand), dtype=np.float32)
    for q in prange(nq):
        rows[q], dist[q] = search_one(queries[q], coarse[q], n_cand, metric, nprobe, index,
                                      mask, use_mask)
    return rows, dist
