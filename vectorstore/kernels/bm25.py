"""BM25 scoring kernels: term-at-a-time over a sealed segment's inverted postings, and a
scan of the growing segment's forward index (its brute-force twin, as exact vector search
is for vectors).

Sealed layout (one segment, local rows 0..n-1): the postings of term t are
`docs[starts[t]:starts[t + 1]]` (uint32 local rows, ascending) with `tfs` (float32
field-weighted term frequencies) alongside; `lengths` (float32 (n,)) holds each row's
field-weighted length. Growing layout: row r's terms are `terms[row_start[r]:row_start[r +
1]]` (int32 ids into the segment's vocabulary, each once) with `tfs` alongside.

A query term j carries `weights[j]` = idf x query count, computed from collection-wide
statistics by the caller. A row's score is sum_j weights[j] * tf / (tf + k1 * (1 - b + b *
len / avgdl)) over the query terms it holds (Lucene's BM25). Scores are returned as
negated float32 "distances" in the heaps of `heap.py`, so merging works as for vectors.
"""

import numpy as np
from numba import njit

from .heap import heap_push, heap_sort

FNV_OFFSET = np.uint64(14695981039346656037)
FNV_PRIME = np.uint64(1099511628211)
SCAN_BLOCK = 64
"""Rows per block of a dense top-k scan (`inverted_topk`): measured best of 16 to 256."""
SAMPLE_ROWS = 8192
"""Rows sampled to guess a dense scan's starting cut (`_dense_top`)."""


@njit(cache=True, nogil=True)
def hash_terms(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a of each UTF-8 term `blob[offsets[i]:offsets[i + 1]]`: uint64 (m,).
    Sealed term dictionaries are ordered by this hash and searched with it."""
    m = offsets.shape[0] - 1
    out = np.empty(m, dtype=np.uint64)
    for i in range(m):
        h = FNV_OFFSET
        for p in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(blob[p])) * FNV_PRIME
        out[i] = h
    return out


@njit(cache=True, nogil=True)
def lookup_terms(hashes: np.ndarray, directory: np.ndarray, shift: int, offsets: np.ndarray,
                 blob: np.ndarray, term_starts: np.ndarray, q_hashes: np.ndarray,
                 q_offsets: np.ndarray, q_blob: np.ndarray) -> np.ndarray:
    """The postings range of each query term in a sealed dictionary ordered by hash
    (`hashes`, with the terms' UTF-8 bytes `blob[offsets[t]:offsets[t + 1]]`): the
    hash's leading bits (`>> shift`) pick a bucket of `directory` (`hash_directory` in
    `text/postings.py`), a search of
    that bucket's few hashes finds the term, a byte comparison confirms it, walking past
    colliding terms. A binary search of the whole dictionary instead touched a dozen
    cold cache lines per term. Returns `ranges` int64 (2, m): term j's postings are
    ranges[0, j]:ranges[1, j], empty for an absent term."""
    m = q_hashes.shape[0]
    n = hashes.shape[0]
    ranges = np.zeros((2, m), dtype=np.int64)
    for j in range(m):
        bucket = q_hashes[j] >> np.uint64(shift)
        lo = directory[bucket]
        t = lo + np.searchsorted(hashes[lo:directory[bucket + 1]], q_hashes[j])
        while t < n and hashes[t] == q_hashes[j]:
            size = q_offsets[j + 1] - q_offsets[j]
            same = offsets[t + 1] - offsets[t] == size
            p = 0
            while same and p < size:
                same = blob[offsets[t] + p] == q_blob[q_offsets[j] + p]
                p += 1
            if same:
                ranges[0, j] = term_starts[t]
                ranges[1, j] = term_starts[t + 1]
                break
            t += 1
    return ranges


@njit(cache=True, nogil=True)
def term_weights(n_rows: float, doc_freq: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each query term's weight: Lucene's idf, ln(1 + (N - df + 0.5) / (df + 0.5)), times
    its count in the query. float64 (m,)."""
    out = np.empty(doc_freq.shape[0], dtype=np.float64)
    for j in range(doc_freq.shape[0]):
        df = np.float64(doc_freq[j])
        out[j] = np.log1p((n_rows - df + 0.5) / (df + 0.5)) * counts[j]
    return out


@njit(cache=True, nogil=True)
def count_allowed(docs: np.ndarray, ranges: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each range `docs[ranges[0, j]:ranges[1, j]]`, how many rows have
    `mask[row] != 0`: a term's document frequency among live rows. int64 (m,)."""
    out = np.zeros(ranges.shape[1], dtype=np.int64)
    for j in range(ranges.shape[1]):
        c = 0
        for p in range(ranges[0, j], ranges[1, j]):
            if mask[docs[p]] != 0:
                c += 1
        out[j] = c
    return out


@njit(cache=True, nogil=True)
def group_by_term(term_ids: np.ndarray, n_terms: int) -> tuple[np.ndarray, np.ndarray]:
    """A stable counting sort of postings by term: (order int64 (P,), starts int64
    (n_terms + 1,)) so that term t's postings are order[starts[t]:starts[t + 1]], in
    their original order."""
    starts = np.zeros(n_terms + 1, dtype=np.int64)
    for i in range(term_ids.shape[0]):
        starts[term_ids[i] + 1] += 1
    for t in range(n_terms):
        starts[t + 1] += starts[t]
    fill = starts[:-1].copy()
    order = np.empty(term_ids.shape[0], dtype=np.int64)
    for i in range(term_ids.shape[0]):
        t = term_ids[i]
        order[fill[t]] = i
        fill[t] += 1
    return order, starts


@njit(cache=True, nogil=True)
def sum_rows(rows: np.ndarray, terms: np.ndarray, weights: np.ndarray, n_rows: int,
             slots: np.ndarray, stamp: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward-index rows from (row, term id, weight) entries in any order: (row_start
    int64 (n_rows + 1,), terms int32, tfs float32) where row r holds each of its terms
    once, in the order of their first entry, with the sum of their weights.

    `slots` (int64, one per term id) is scratch kept by the caller from call to call, so
    no call pays for a vocabulary-sized array: an entry below `stamp` is stale. The
    caller passes a `stamp` at least the previous one plus that call's output length."""
    order, starts = group_by_term(rows, n_rows)
    out_terms = np.empty(order.shape[0], dtype=np.int32)
    sums = np.empty(order.shape[0], dtype=np.float64)
    row_start = np.zeros(n_rows + 1, dtype=np.int64)
    p = 0
    for r in range(n_rows):
        first = stamp + p
        for i in order[starts[r]:starts[r + 1]]:
            t = terms[i]
            if slots[t] < first:
                slots[t] = stamp + p
                out_terms[p] = t
                sums[p] = 0.0
                p += 1
            sums[slots[t] - stamp] += weights[i]
        row_start[r + 1] = p
    return row_start, out_terms[:p], sums[:p].astype(np.float32)


@njit(cache=True, nogil=True, inline="always")
def _keep_best(dist: np.ndarray, idx: np.ndarray, score: float, row: int, cut: float) -> float:
    """Push (row, score) into the heap and return the new cut: the score a row must
    beat to enter (0 until the heap is full, then the worst kept score)."""
    heap_push(dist, idx, np.float32(-score), row)
    return -dist[0] if idx[0] >= 0 else cut


@njit(cache=True, nogil=True)
def _sorted_heap(dist: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The heap sorted best first, rows ascending among equal scores (the heap's layout,
    which depends on the order rows were pushed in, does not show)."""
    heap_sort(dist, idx)
    i = 0
    while i < dist.shape[0]:
        j = i + 1
        while j < dist.shape[0] and dist[j] == dist[i]:
            j += 1
        if j - i > 1:
            idx[i:j] = np.sort(idx[i:j])
        i = j
    return idx, dist


@njit(cache=True, nogil=True)
def posting_impacts(docs: np.ndarray, tfs: np.ndarray, lengths: np.ndarray, k1: float,
                    b: float, avgdl: float) -> np.ndarray:
    """Each posting's tf / (tf + k1 * (1 - b + b * len / avgdl)): float32 (P,). A query
    then costs one multiply-add per posting; valid while avgdl, k1 and b hold."""
    out = np.empty(docs.shape[0], dtype=np.float32)
    norm_a = k1 * (1.0 - b)
    norm_b = k1 * b / avgdl
    for p in range(docs.shape[0]):
        tf = tfs[p]
        out[p] = tf / (tf + norm_a + norm_b * lengths[docs[p]])
    return out


@njit(cache=True, nogil=True, inline="always")
def _impact(p: int, row: int, tfs: np.ndarray, lengths: np.ndarray, norm_a: float,
            norm_b: float, impacts: np.ndarray) -> float:
    """Posting p's tf / (tf + k1 * (1 - b + b * len / avgdl)): kept, or computed."""
    if impacts.shape[0]:
        return impacts[p]
    tf = tfs[p]
    return tf / (tf + norm_a + norm_b * lengths[row])


@njit(cache=True, nogil=True)
def inverted_topk(docs: np.ndarray, tfs: np.ndarray, lengths: np.ndarray, ranges: np.ndarray,
                  weights: np.ndarray, k1: float, b: float, avgdl: float, impacts: np.ndarray,
                  mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of a sealed segment for the query terms whose postings are the ranges
    ranges[0, j]:ranges[1, j] (`lookup_terms`; float64 weights[j]), among rows with
    mask[row] != 0 (an empty `mask`: every row). A non-empty `impacts` holds
    `posting_impacts` for these k1, b and avgdl.

    Term at a time into a dense accumulator. When the postings are few next to the rows,
    the rows they touch are listed and only those ranked; otherwise the rows are ranked
    by `_dense_top`.
    Returns (rows int64 (k,), -score float32 (k,)), best first (rows ascending among
    equal scores), padded -1 / +inf.
    """
    n = lengths.shape[0]
    acc = np.zeros(n, dtype=np.float32)
    total = 0
    for j in range(ranges.shape[1]):
        total += ranges[1, j] - ranges[0, j]
    sparse = total * 8 < n
    touched = np.empty(total if sparse else 0, dtype=np.int32)
    n_touched = 0
    norm_a = k1 * (1.0 - b)
    norm_b = k1 * b / avgdl
    use_impacts = impacts.shape[0] > 0
    for j in range(ranges.shape[1]):
        w = np.float32(weights[j])  # float32 throughout: the sum is kept in float32
        if sparse:
            for p in range(ranges[0, j], ranges[1, j]):
                row = docs[p]
                if acc[row] == 0.0:
                    touched[n_touched] = row
                    n_touched += 1
                acc[row] += w * _impact(p, row, tfs, lengths, norm_a, norm_b, impacts)
        elif use_impacts:  # the common case, kept a plain loop for the compiler
            for p in range(ranges[0, j], ranges[1, j]):
                acc[docs[p]] += w * impacts[p]
        else:
            for p in range(ranges[0, j], ranges[1, j]):
                row = docs[p]
                acc[row] += w * _impact(p, row, tfs, lengths, norm_a, norm_b, impacts)
    dist = np.full(k, np.inf, dtype=np.float32)
    idx = np.full(k, -1, dtype=np.int64)
    use_mask = mask.shape[0] > 0
    if sparse:
        cut = np.float32(0.0)
        for i in range(n_touched):
            row = touched[i]
            score = acc[row]
            if score > cut and (not use_mask or mask[row] != 0):
                cut = _keep_best(dist, idx, score, row, cut)
    else:
        _dense_top(acc, mask, use_mask, dist, idx)
    return _sorted_heap(dist, idx)


@njit(cache=True, nogil=True)
def _dense_top(acc: np.ndarray, mask: np.ndarray, use_mask: bool, dist: np.ndarray,
               idx: np.ndarray) -> None:
    """Push the k best allowed rows of a dense accumulator into the heap (dist, idx),
    walking rows in ascending order as a scan of every row would.

    The scan skips blocks of SCAN_BLOCK rows with no score above the cut (scores are
    >= 0, so their bits order as they do: a comparison the compiler vectorises). The cut
    starts at a floor guessed from a sample of SAMPLE_ROWS rows (the score that about
    twice k rows would beat, were the sample typical) instead of rising slowly as the
    heap fills; if fewer than k rows reach it, the guess was too high and the scan
    starts again from a floor of 0, so the top k are exact either way."""
    n = acc.shape[0]
    k = dist.shape[0]
    floor = np.float32(0.0)
    step = n // SAMPLE_ROWS
    if step > 1:
        take = (2 * k) // step + 1
        s_dist = np.full(take, np.inf, dtype=np.float32)
        s_idx = np.full(take, -1, dtype=np.int64)
        for row in range(0, n, step):
            if -acc[row] < s_dist[0] and (not use_mask or mask[row] != 0):
                heap_push(s_dist, s_idx, -acc[row], row)
        if s_idx[0] >= 0:
            floor = -s_dist[0]
    if not _scan_from(acc, mask, use_mask, dist, idx, floor) and floor > 0:
        dist[:] = np.inf
        idx[:] = -1
        _scan_from(acc, mask, use_mask, dist, idx, np.float32(0.0))


@njit(cache=True, nogil=True)
def _scan_from(acc: np.ndarray, mask: np.ndarray, use_mask: bool, dist: np.ndarray,
               idx: np.ndarray, floor: np.float32) -> bool:
    """`_dense_top`'s scan of the rows scoring `floor` or more (every row above 0 for a
    floor of 0); whether the heap is full."""
    n = acc.shape[0]
    bits = acc.view(np.int32)
    cut_float = np.zeros(1, dtype=np.float32)
    cut_int = cut_float.view(np.int32)
    cut_float[0] = floor
    if floor > 0:
        cut_int[0] -= 1  # the float just below the floor: rows at the floor count
    cut = cut_float[0]
    cut_bits = cut_int[0]
    full = n - n % SCAN_BLOCK
    for start in range(0, full, SCAN_BLOCK):
        above = 0
        for row in range(start, start + SCAN_BLOCK):
            above += bits[row] > cut_bits
        if above == 0:
            continue
        for row in range(start, start + SCAN_BLOCK):
            score = acc[row]
            if score > cut and (not use_mask or mask[row] != 0):
                cut = _keep_best(dist, idx, score, row, cut)
        cut_float[0] = cut
        cut_bits = cut_int[0]
    for row in range(full, n):
        score = acc[row]
        if score > cut and (not use_mask or mask[row] != 0):
            cut = _keep_best(dist, idx, score, row, cut)
    return idx[0] >= 0


@njit(cache=True, nogil=True)
def forward_df(row_start: np.ndarray, terms: np.ndarray, slots: np.ndarray, n_slots: int,
               mask: np.ndarray, use_mask: bool) -> np.ndarray:
    """Document frequency of each query term among a growing segment's rows (those with
    mask[row] != 0 when use_mask); `slots[term]` is the term's query slot or -1.
    int64 (n_slots,)."""
    out = np.zeros(n_slots, dtype=np.int64)
    for row in range(row_start.shape[0] - 1):
        if use_mask and mask[row] == 0:
            continue
        for p in range(row_start[row], row_start[row + 1]):
            s = slots[terms[p]]
            if s >= 0:
                out[s] += 1
    return out


@njit(cache=True, nogil=True)
def forward_topk(row_start: np.ndarray, terms: np.ndarray, tfs: np.ndarray,
                 lengths: np.ndarray, slots: np.ndarray, weights: np.ndarray, k1: float,
                 b: float, avgdl: float, mask: np.ndarray, use_mask: bool,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of a growing segment by a scan of its forward index; `slots[term]` is
    the term's query slot (index into `weights`) or -1. Same output as `inverted_topk`."""
    dist = np.full(k, np.inf, dtype=np.float32)
    idx = np.full(k, -1, dtype=np.int64)
    cut = 0.0
    norm_a = k1 * (1.0 - b)
    norm_b = k1 * b / avgdl
    for row in range(row_start.shape[0] - 1):
        if use_mask and mask[row] == 0:
            continue
        score = 0.0
        norm = norm_a + norm_b * lengths[row]
        for p in range(row_start[row], row_start[row + 1]):
            s = slots[terms[p]]
            if s >= 0:
                tf = tfs[p]
                score += weights[s] * tf / (tf + norm)
        if score > cut:
            cut = _keep_best(dist, idx, score, row, cut)
    return _sorted_heap(dist, idx)
