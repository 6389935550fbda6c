"""DiskANN beam search over sector-aligned node blocks, navigated by PQ distances.

The node file (`vectorstore/diskann_layout.py`) is a header sector followed by node
blocks: float32 vector (d), int32 degree, int32 neighbours (R, padded). A block of
`node_bytes` = 4 (d + 1 + R) bytes sits inside one 4,096-byte sector when it fits
(`per_sector` blocks to a sector, never straddling one), else it starts a run of
`spans` whole sectors. Kernels read blocks as 4-byte words of a flat buffer viewed
twice, as float32 (`words_f`) and int32 (`words_i`): the memory-mapped file, a buffer
of blocks the Python layer read with `pread`, or the pinned cache.

A search keeps, per query (row q of each state array):
  pool_d / pool_i / pool_x  (nq, L) sorted candidate pool: PQ distance, node, expanded
  sizes                     (nq,)   pool sizes
  seen                      (nq, H) open-addressing set of nodes already scored (-1 empty;
                                    H a power of two, kept at most 3/4 full)
  res_d / res_i             (nq, k) heap of the best allowed expanded nodes by exact
                                    distance, from the vectors their blocks carry
  luts / bases              (nq, m, 256) / (nq,) ADC tables: estimate = base + sum lut
  want                      (nq, W) nodes whose blocks the next round needs (-1 none)
  reads / hops              (nq,)   block reads and expansions so far
Each round expands up to W of the best unexpanded pool nodes (the beam): nodes in the
pinned cache at once, the rest from blocks read together, as DiskANN's
`cached_beam_search`. Distances are proxies, lower is better.

The kernels run on the calling thread (no parallel regions): a round is short, and a
parallel region per round waits at its barrier for whichever worker the OS has
descheduled, which on a loaded machine cost 20 ms a round (measured). Batches are
spread over threads by the caller instead.
"""

import numpy as np
from numba import njit

from .distance import proxy_distance
from .fileio import RWF_NOWAIT, read_at, will_need
from .heap import heap_push, heap_sort
from .hnsw import pool_insert
from .pq import code_norms, ip_lut

SECTOR = 4096
HASH = np.int64(0x9E3779B1)


@njit(cache=True, nogil=True, inline="always")
def block_offset(node, per_sector, node_bytes, spans):
    """Byte offset in the node file of `node`'s block (the header is sector 0)."""
    if per_sector > 0:
        return SECTOR * (1 + node // per_sector) + (node % per_sector) * node_bytes
    return SECTOR * (1 + node * spans)


@njit(cache=True, nogil=True)
def block_offsets(nodes, per_sector, node_bytes, spans):
    """`block_offset` of each of nodes (int64 (m,)): int64 (m,)."""
    out = np.empty(nodes.shape[0], dtype=np.int64)
    for i in range(nodes.shape[0]):
        out[i] = block_offset(nodes[i], per_sector, node_bytes, spans)
    return out


@njit(cache=True, nogil=True, fastmath=True)
def make_luts(queries, centre, codebooks, metric, luts, bases):
    """ADC tables of queries (nq, d) for codes of x - centre with codebooks (m, dsub,
    256): inner product (metric 0) lut = -<q_j, s>, base = -<q, centre>; squared L2
    lut = |q_j - centre_j - s|^2, base 0."""
    m, dsub, ksub = codebooks.shape
    norms = code_norms(codebooks)
    for q in range(queries.shape[0]):
        if metric == 0:
            ip_lut(queries[q], codebooks, luts[q])
            bases[q] = -np.dot(queries[q], centre)
            continue
        shifted = queries[q] - centre
        ip_lut(shifted, codebooks, luts[q])
        for j in range(m):
            own = np.float32(0.0)
            for t in range(j * dsub, (j + 1) * dsub):
                own += shifted[t] * shifted[t]
            for s in range(ksub):
                luts[q, j, s] = own + norms[j, s] + 2 * luts[q, j, s]
        bases[q] = 0.0


@njit(cache=True, nogil=True, inline="always")
def _first_visit(table, count, node):
    """Insert node into the open-addressing set `table`; whether it was new. A set 3/4
    full takes no more (its nodes count as seen), so probing always ends."""
    mask = table.shape[0] - 1
    h = (node * HASH) & mask
    while True:
        v = table[h]
        if v == node:
            return False
        if v < 0:
            if 4 * count[0] >= 3 * table.shape[0]:
                return False
            table[h] = node
            count[0] += 1
            return True
        h = (h + 1) & mask


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _estimate(codes, lut, base, node):
    acc = np.float32(0.0)
    row = codes[node]
    for j in range(row.shape[0]):
        acc += lut[j, row[j]]
    return base + acc


@njit(cache=True, nogil=True, fastmath=True)
def _expand(q, node, words_f, words_i, w, query, d, metric, codes, lut, base, pool_d,
            pool_i, pool_x, sizes, seen, seen_n, res_d, res_i, mask, use_mask, rerank):
    """Expand `node`, whose block starts at word w: its exact distance enters the result
    heap (when allowed and `rerank`), its unseen neighbours enter the pool by estimate."""
    if rerank and (not use_mask or mask[node] != 0):
        heap_push(res_d[q], res_i[q], proxy_distance(words_f[w:w + d], query, metric), node)
    degree = words_i[w + d]
    cap = pool_d.shape[1]
    size = sizes[q]
    for j in range(degree):
        other = words_i[w + d + 1 + j]
        if not _first_visit(seen[q], seen_n[q:q + 1], other):
            continue
        est = _estimate(codes, lut, base, other)
        if size < cap or est < pool_d[q, size - 1]:
            size, _ = pool_insert(pool_d[q], pool_i[q], pool_x[q], size, cap, est, other)
    sizes[q] = size


@njit(cache=True, nogil=True, inline="always")
def _cache_word(cache_ids, node, node_words):
    """Word where `node`'s block starts in the cache buffer, or -1 when not cached."""
    c = np.searchsorted(cache_ids, node)
    if c < cache_ids.shape[0] and cache_ids[c] == node:
        return c * node_words
    return -1


@njit(cache=True, nogil=True, fastmath=True)
def _plan(q, W, max_hops, query, d, metric, codes, lut, base, pool_d, pool_i, pool_x, sizes,
          seen, seen_n, res_d, res_i, mask, use_mask, rerank, cache_ids, cache_f, cache_i,
          node_words, want, hops):
    """Take up to W best unexpanded pool nodes: expand the cached ones at once (and take
    again while nothing else was taken), list the others in want[q]. Returns how many
    blocks the query waits for; 0 when its search is over."""
    while True:
        picked = np.empty(W, dtype=np.int32)
        n_picked = 0
        for pos in range(sizes[q]):
            if n_picked == W or hops[q] + n_picked >= max_hops:
                break
            if pool_x[q, pos] == 0:
                pool_x[q, pos] = 1
                picked[n_picked] = pool_i[q, pos]
                n_picked += 1
        if n_picked == 0:
            return 0
        hops[q] += n_picked
        n_want = 0
        for j in range(n_picked):
            w = _cache_word(cache_ids, picked[j], node_words)
            if w < 0:
                want[q, n_want] = picked[j]
                n_want += 1
                continue
            _expand(q, picked[j], cache_f, cache_i, w, query, d, metric, codes, lut, base,
                    pool_d, pool_i, pool_x, sizes, seen, seen_n, res_d, res_i, mask,
                    use_mask, rerank)
        if n_want:
            want[q, n_want:] = -1
            return n_want


@njit(cache=True, nogil=True, fastmath=True)
def start_search(entry, codes, luts, bases, pool_d, pool_i, pool_x, sizes, seen, seen_n,
                 res_d, res_i, hops, reads):
    """Reset every query's state and seed its pool with the entry node."""
    for q in range(pool_d.shape[0]):
        seen[q] = -1
        seen_n[q] = 0
        res_d[q] = np.inf
        res_i[q] = -1
        hops[q] = 0
        reads[q] = 0
        _first_visit(seen[q], seen_n[q:q + 1], entry)
        pool_d[q, 0] = _estimate(codes, luts[q], bases[q], entry)
        pool_i[q, 0] = entry
        pool_x[q, 0] = 0
        sizes[q] = 1


@njit(cache=True, nogil=True, fastmath=True)
def beam_round(queries, metric, W, max_hops, codes, luts, bases, pool_d, pool_i, pool_x,
               sizes, seen, seen_n, res_d, res_i, mask, use_mask, rerank, cache_ids,
               cache_f, cache_i, node_words, fetched_f, fetched_i, slots, want, hops, reads):
    """One round for every query: expand the blocks read for it (word offsets slots[q]
    into fetched_*, for its want[q] nodes), then plan the next beam. Returns the number
    of blocks the queries now wait for, in want (-1 padded)."""
    nq, d = queries.shape
    waiting = np.zeros(nq, dtype=np.int64)
    for q in range(nq):
        for j in range(want.shape[1]):
            node = want[q, j]
            if node < 0:
                break
            reads[q] += 1
            _expand(q, node, fetched_f, fetched_i, slots[q, j], queries[q], d, metric, codes,
                    luts[q], bases[q], pool_d, pool_i, pool_x, sizes, seen, seen_n, res_d,
                    res_i, mask, use_mask, rerank)
        want[q] = -1
        waiting[q] = _plan(q, W, max_hops, queries[q], d, metric, codes, luts[q], bases[q],
                           pool_d, pool_i, pool_x, sizes, seen, seen_n, res_d, res_i, mask,
                           use_mask, rerank, cache_ids, cache_f, cache_i, node_words, want,
                           hops)
    return waiting.sum()


@njit(cache=True, nogil=True, fastmath=True)
def mapped_search(queries, metric, W, max_hops, codes, luts, bases, pool_d, pool_i, pool_x,
                  sizes, seen, seen_n, res_d, res_i, mask, use_mask, rerank, cache_ids,
                  cache_f, cache_i, file_f, file_i, per_sector, node_bytes, spans, want,
                  hops, reads):
    """The whole search for every query with blocks read straight from the memory-mapped
    node file (file_f / file_i: the file as words): page faults do the I/O."""
    nq, d = queries.shape
    for q in range(nq):
        while _plan(q, W, max_hops, queries[q], d, metric, codes, luts[q], bases[q], pool_d,
                    pool_i, pool_x, sizes, seen, seen_n, res_d, res_i, mask, use_mask,
                    rerank, cache_ids, cache_f, cache_i, node_bytes // 4, want, hops):
            for j in range(want.shape[1]):
                node = want[q, j]
                if node < 0:
                    break
                reads[q] += 1
                w = block_offset(np.int64(node), per_sector, node_bytes, spans) // 4
                _expand(q, node, file_f, file_i, w, queries[q], d, metric, codes, luts[q],
                        bases[q], pool_d, pool_i, pool_x, sizes, seen, seen_n, res_d, res_i,
                        mask, use_mask, rerank)


@njit(cache=True, nogil=True, fastmath=True)
def pread_search(queries, metric, W, max_hops, codes, luts, bases, pool_d, pool_i, pool_x,
                 sizes, seen, seen_n, res_d, res_i, mask, use_mask, rerank, cache_ids,
                 cache_f, cache_i, fd, per_sector, node_bytes, spans, buffer, fetched_f,
                 fetched_i, slots, want, hops, reads):
    """The whole search for every query with blocks read by `preadv2` from the node
    file's descriptor `fd` into `buffer` (uint8, nq * W blocks; fetched_f / fetched_i its
    word views). Rounds go over all queries together: `beam_round` plans every query's
    beam, then the round's blocks are read, those in the page cache at once
    (RWF_NOWAIT), the others after all of them were asked of the device together
    (WILLNEED), so a cold round waits about one device read, not one per block.
    Returns the blocks read from the device, or -1 - offset of a read that failed."""
    nq = want.shape[0]
    node_words = node_bytes // 4
    cold = np.empty(want.size, dtype=np.int64)         # slots of blocks not in the cache
    cold_at = np.empty(want.size, dtype=np.int64)      # and their offsets
    device = 0
    while beam_round(queries, metric, W, max_hops, codes, luts, bases, pool_d, pool_i,
                     pool_x, sizes, seen, seen_n, res_d, res_i, mask, use_mask, rerank,
                     cache_ids, cache_f, cache_i, node_words, fetched_f, fetched_i, slots,
                     want, hops, reads):
        n_cold = 0
        for q in range(nq):
            for j in range(want.shape[1]):
                node = want[q, j]
                if node < 0:
                    break
                slot = q * want.shape[1] + j
                slots[q, j] = slot * node_words
                offset = block_offset(np.int64(node), per_sector, node_bytes, spans)
                if read_at(fd, buffer, slot * node_bytes, node_bytes, offset,
                           RWF_NOWAIT) != node_bytes:
                    cold[n_cold] = slot
                    cold_at[n_cold] = offset
                    n_cold += 1
        if n_cold > 1:
            for c in range(n_cold):
                will_need(fd, cold_at[c], node_bytes)
        for c in range(n_cold):
            if read_at(fd, buffer, cold[c] * node_bytes, node_bytes, cold_at[c],
                       0) != node_bytes:
                return -1 - cold_at[c]
        device += n_cold
    return device


@njit(cache=True, nogil=True)
def finish_search(pool_d, pool_i, sizes, res_d, res_i, mask, use_mask, rerank, rows, dist):
    """Each query's best rows.shape[1] allowed nodes into rows / dist (arriving -1 /
    +inf): by exact distance from the result heap, or by estimate from the pool when
    not `rerank`."""
    k = rows.shape[1]
    for q in range(rows.shape[0]):
        if rerank:
            heap_sort(res_d[q], res_i[q])
            for j in range(min(k, res_d.shape[1])):
                rows[q, j] = res_i[q, j]
                dist[q, j] = res_d[q, j]
            continue
        j = 0
        for pos in range(sizes[q]):
            if j == k:
                break
            node = pool_i[q, pos]
            if not use_mask or mask[node] != 0:
                rows[q, j] = node
                dist[q, j] = pool_d[q, pos]
                j += 1
