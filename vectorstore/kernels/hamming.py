"""Binary codes: Hamming distance by 64-bit popcount, candidate selection by distance,
and multi-probe bucket tables (the LSH index's kernels).

A code of b bits is `b // 64` uint64 words; bit j of a code is bit j % 64 of word
j // 64. Shapes used throughout:

    codes    uint64 (n, words)          the segment's codes
    planes   float32 (bits, d)          hyperplane normals (C order), thresholds (bits,)
    qcode    uint64 (words,)            a query's code, made in the kernel (`encode_query`)
    margins  float32 (bits,)            squared distance of the query to each bit's hyperplane
    offsets  int64 (tables, 2**h + 1)   table t bucket c holds rows[t, offsets[t, c]:...[c+1]]
    rows     int32 (tables, n)          segment rows grouped by bucket

Table t is keyed by bits t*h .. t*h + h - 1 of the code (h = `key_bits`), so the
tables need no hashing of their own. Selection keeps the `n_cand` rows of smallest
Hamming distance by a histogram over the distances (0..bits), not a heap: two linear
passes whatever n_cand is.
"""

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from .hnsw import next_tag
from .scan import scan_rows_topk


@intrinsic
def popcount(typingctx, word):
    """Set bits of a uint64 (LLVM's ctpop: one instruction with POPCNT)."""

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@njit(cache=True, nogil=True, inline="always")
def hamming(codes, row, qcode, words):
    """Hamming distance between codes[row] and qcode over the first `words` words."""
    acc = np.uint64(0)
    for w in range(words):
        acc += popcount(codes[row, w] ^ qcode[w])
    return np.uint16(acc)


@njit(cache=True, nogil=True)
def _select(cand, dist, m, n_cand, bits, out):
    """Write to `out` the n_cand entries of cand[:m] with the smallest dist[:m] (ties
    broken by position); return how many (min(m, n_cand))."""
    hist = np.zeros(bits + 2, dtype=np.int64)
    for j in range(m):
        hist[dist[j]] += 1
    want = min(m, n_cand)
    radius, below = 0, 0
    while below + hist[radius] < want:
        below += hist[radius]
        radius += 1
    at_radius = want - below
    got = 0
    for j in range(m):
        d = dist[j]
        if d < radius or (d == radius and at_radius > 0):
            if d == radius:
                at_radius -= 1
            out[got] = cand[j]
            got += 1
    return got


@njit(cache=True, nogil=True)
def scan_candidates(codes, qcode, words, mask, use_mask, n_cand, cand, dist, out):
    """The n_cand allowed rows of smallest Hamming distance to qcode among all rows, in
    one pass: a row is kept only within the current radius, the smallest distance that
    n_cand kept rows reach, which shrinks as the scan goes, so few rows are written.
    cand int32 / dist uint16 (n,) are scratch; writes rows to out; returns the count."""
    bits = words * 64
    hist = np.zeros(bits + 2, dtype=np.int64)
    radius, inside, m = bits, 0, 0
    for i in range(codes.shape[0]):
        if use_mask and mask[i] == 0:
            continue
        h = hamming(codes, i, qcode, words)
        if h > radius:
            continue
        cand[m] = i
        dist[m] = h
        m += 1
        hist[h] += 1
        inside += 1
        while inside - hist[radius] >= n_cand:
            inside -= hist[radius]
            radius -= 1
    return _select(cand, dist, m, n_cand, bits, out)


@njit(cache=True, nogil=True, inline="always")
def _sift_down(score, sets, last, size, pos):
    """Restore the min-heap (score; sets, last alongside) below `pos`."""
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        if child + 1 < size and score[child + 1] < score[child]:
            child += 1
        if score[pos] <= score[child]:
            return
        score[pos], score[child] = score[child], score[pos]
        sets[pos], sets[child] = sets[child], sets[pos]
        last[pos], last[child] = last[child], last[pos]
        pos = child


@njit(cache=True, nogil=True, inline="always")
def _heap_add(score, sets, last, size, s, a, top):
    """Push (s, a, top) on the min-heap of `size` entries; returns the new size."""
    pos = size
    score[pos], sets[pos], last[pos] = s, a, top
    while pos > 0:
        parent = (pos - 1) // 2
        if score[parent] <= score[pos]:
            break
        score[pos], score[parent] = score[parent], score[pos]
        sets[pos], sets[parent] = sets[parent], sets[pos]
        last[pos], last[parent] = last[parent], last[pos]
        pos = parent
    return size + 1


@njit(cache=True, nogil=True)
def probe_order(margins, probes, key_bits):
    """Query-directed multi-probe (Lv et al. 2007): the `probes` bit-flip masks of one
    table key, by increasing sum of the flipped bits' squared margins (float32
    (key_bits,)), starting with the empty mask (the query's own bucket): the buckets a
    near neighbour most likely fell into. Perturbation sets over the bits sorted by
    margin come off a min-heap, each popped set adding its "shift" and "expand"
    successors. Returns int64 (<= probes,)."""
    order = np.argsort(margins)
    out = np.zeros(probes, dtype=np.int64)
    cap = 2 * probes + 2
    score = np.empty(cap, dtype=np.float64)
    sets = np.empty(cap, dtype=np.int64)
    last = np.empty(cap, dtype=np.int64)
    size = _heap_add(score, sets, last, 0, margins[order[0]], 1, 0)
    got = 1
    while got < probes and size > 0:
        s, a, top = score[0], sets[0], last[0]
        size -= 1
        score[0], sets[0], last[0] = score[size], sets[size], last[size]
        _sift_down(score, sets, last, size, 0)
        flips = 0
        for j in range(key_bits):
            if a >> j & 1:
                flips |= 1 << order[j]
        out[got] = flips
        got += 1
        if top + 1 < key_bits:
            nxt = margins[order[top + 1]]
            size = _heap_add(score, sets, last, size, s + nxt, a | 1 << (top + 1), top + 1)
            size = _heap_add(score, sets, last, size, s - margins[order[top]] + nxt,
                             (a & ~(1 << top)) | 1 << (top + 1), top + 1)
    return out[:got]


@njit(cache=True, nogil=True)
def _table_key(code, table, key_bits):
    """Bits table*key_bits .. + key_bits - 1 of a code (key_bits <= 32) as an int."""
    first = table * key_bits
    word, shift = first // 64, first % 64
    key = code[word] >> np.uint64(shift)
    if shift + key_bits > 64:
        key |= code[word + 1] << np.uint64(64 - shift)
    return np.int64(key & np.uint64((1 << key_bits) - 1))


@njit(cache=True, nogil=True)
def probe_candidates(codes, qcode, words, margins, offsets, rows, key_bits, probes, mask,
                     use_mask, visited_row, tag, n_cand, cand, dist, out):
    """The n_cand allowed rows of smallest Hamming distance among those in the `probes`
    best buckets of every table. cand int32 / dist uint16 (n,) are scratch; visited_row
    uint16 (n,) with a fresh `tag` dedups rows met in several tables. Returns the count."""
    m = 0
    for t in range(offsets.shape[0]):
        key = _table_key(qcode, t, key_bits)
        flips = probe_order(margins[t * key_bits:(t + 1) * key_bits], probes, key_bits)
        for f in flips:
            bucket = key ^ f
            for p in range(offsets[t, bucket], offsets[t, bucket + 1]):
                i = rows[t, p]
                if visited_row[i] == tag or (use_mask and mask[i] == 0):
                    continue
                visited_row[i] = tag
                cand[m] = i
                dist[m] = hamming(codes, i, qcode, words)
                m += 1
    return _select(cand, dist, m, n_cand, words * 64, out)


@njit(cache=True, nogil=True)
def bucket_keys(codes, tables, key_bits):
    """Bucket of every row in every table: int64 (tables, n)."""
    keys = np.empty((tables, codes.shape[0]), dtype=np.int64)
    for t in range(tables):
        for i in range(codes.shape[0]):
            keys[t, i] = _table_key(codes[i], t, key_bits)
    return keys


@njit(cache=True, nogil=True, fastmath=True)
def encode_query(query, planes, thresholds, proj, qcode):
    """The query's code into qcode uint64 (bits / 64,) and its signed distances to the
    hyperplanes into proj float32 (bits,): the per-query twin of the build's BLAS
    projection, here so a single query costs no NumPy calls."""
    for b in range(planes.shape[0]):
        acc = np.float32(0.0)
        for j in range(query.shape[0]):
            acc += query[j] * planes[b, j]
        proj[b] = acc - thresholds[b]
    for w in range(qcode.shape[0]):
        word = np.uint64(0)
        for j in range(64):
            if proj[w * 64 + j] > 0:
                word |= np.uint64(1) << np.uint64(j)
        qcode[w] = word


@njit(cache=True, nogil=True)
def search_range(codes, planes, thresholds, words, offsets, rows, key_bits, probes, mask,
                 use_mask, visited, tags, chunk, start, stop, n_cand, vectors, queries,
                 metric, out_i, out_d):
    """For queries start..stop: the n_cand nearest allowed rows by Hamming distance over
    the first `words` words (probes == 0: every row; else the tables' best buckets, rows
    deduplicated with visited[chunk] / tags), re-scored on float32 `vectors` into the top
    k = out_i.shape[1] (out_i int64 / out_d float32 (nq, k), arriving -1 / +inf)."""
    n, bits = codes.shape[0], planes.shape[0]
    k = out_i.shape[1]
    cand = np.empty(n, dtype=np.int32)
    dist = np.empty(n, dtype=np.uint16)
    picked = np.empty(min(n, n_cand), dtype=np.int64)
    proj = np.empty(bits, dtype=np.float32)
    qcode = np.empty(bits // 64, dtype=np.uint64)
    for q in range(start, stop):
        encode_query(queries[q], planes, thresholds, proj, qcode)
        if probes == 0:
            got = scan_candidates(codes, qcode, words, mask, use_mask, n_cand, cand, dist,
                                  picked)
        else:
            tag = next_tag(visited, tags, chunk)
            got = probe_candidates(codes, qcode, words, np.square(proj), offsets, rows,
                                   key_bits, probes, mask, use_mask, visited[chunk], tag,
                                   n_cand, cand, dist, picked)
        top_i, top_d = scan_rows_topk(vectors, picked[:got], queries[q], k, metric)
        out_i[q] = top_i
        out_d[q] = top_d


@njit(cache=True, nogil=True, parallel=True)
def search_batch(codes, planes, thresholds, words, offsets, rows, key_bits, probes, mask,
                 use_mask, visited, tags, n_chunks, n_cand, vectors, queries, metric,
                 out_i, out_d):
    """`search_range` over all queries split into n_chunks ranges run in parallel, chunk
    c using visited[c] / tags[c]."""
    nq = queries.shape[0]
    for c in prange(n_chunks):
        search_range(codes, planes, thresholds, words, offsets, rows, key_bits, probes,
                     mask, use_mask, visited, tags, c, c * nq // n_chunks,
                     (c + 1) * nq // n_chunks, n_cand, vectors, queries, metric, out_i,
                     out_d)
