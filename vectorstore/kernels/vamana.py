"""Vamana graph construction (Subramanya et al., NeurIPS 2019, Algorithm 3).

The graph is one int32 array `graph` (n, R + 1) of rows [degree, ids...]: the layer-0
layout of `hnsw.py`, so its beam search serves the build. A pass visits the rows in
`order`; each row searches the current graph from `entry` with a pool of L, prunes the
pool (plus its current neighbours) with RobustPrune(alpha) to at most R out-links, and
each new out-link target gains the row as an in-link, pruned again when it overflows.

Passes run in batches in two parallel phases, as `hnsw_build.py` does: `search_batch`
searches and prunes every row of a batch against the graph as it was before the batch
(writing only its own scratch row), then `link_batch` installs the rows and applies the
in-links grouped by target, one worker per target. Distances are squared L2 between
stored rows (a `FloatSpace` with METRIC_L2), whatever the search metric: RobustPrune's
alpha is a ratio of distances, which needs them positive (DiskANN does the same; cosine
rows are unit vectors, where L2 and inner-product order agree).
"""

import numpy as np
from numba import njit, prange

from .hnsw import beam_search, next_tag
from .hnsw_build import group_pairs
from .space import node_distance, node_query, query_distance

ALPHA_STEP = np.float32(1.2)


@njit(cache=True, nogil=True, fastmath=True)
def robust_prune(space, cand_d, cand_i, n_cand, alpha, R, out):
    """RobustPrune as DiskANN's `occlude_list`: walk candidates sorted by distance to
    the base row (cand_d float32 / cand_i int32, unique, base excluded); keep one unless
    an already kept row p* has alpha * d(p*, p) <= d(base, p). Alpha is raised from 1
    in steps of 1.2 up to `alpha` while fewer than R are kept, so sparse rows fill up.
    Writes the kept ids to `out`; returns how many."""
    occlude = np.zeros(n_cand, dtype=np.float32)
    kept = 0
    current = np.float32(1.0)
    while True:
        for a in range(n_cand):
            if kept == R:
                break
            if occlude[a] > current:
                continue
            occlude[a] = np.inf
            out[kept] = cand_i[a]
            kept += 1
            for b in range(a + 1, n_cand):
                if occlude[b] > alpha:
                    continue
                djk = node_distance(space, cand_i[a], cand_i[b])
                ratio = np.inf if djk <= 0 else cand_d[b] / djk
                occlude[b] = max(occlude[b], ratio)
        if kept == R or current >= alpha:
            return kept
        current = min(alpha, current * ALPHA_STEP)


@njit(cache=True, nogil=True, fastmath=True)
def _candidates(space, graph, node, pool_i, size, visited_row, tag, cand_d, cand_i):
    """The pool's rows and `node`'s current neighbours, each once and never `node`,
    sorted by distance to `node` into cand_d / cand_i. Returns how many."""
    count = 0
    visited_row[node] = tag
    for j in range(size):
        other = pool_i[j]
        if visited_row[other] != tag:
            visited_row[other] = tag
            cand_i[count] = other
            count += 1
    row = graph[node]
    for j in range(1, row[0] + 1):
        other = row[j]
        if visited_row[other] != tag:
            visited_row[other] = tag
            cand_i[count] = other
            count += 1
    for j in range(count):
        cand_d[j] = node_distance(space, node, cand_i[j])
    order = np.argsort(cand_d[:count])
    cand_d[:count] = cand_d[:count][order]
    cand_i[:count] = cand_i[:count][order]
    return count


@njit(cache=True, nogil=True, fastmath=True)
def _search_one(space, graph, entry, node, L, R, alpha, visited, tags, chunk, pool_d,
                pool_i, pool_x, cand_d, cand_i, found, out):
    query = node_query(space, node)
    tag = next_tag(visited, tags, chunk)
    visited[chunk, entry] = tag
    pool_d[0] = query_distance(space, query, entry)
    pool_i[0] = entry
    pool_x[0] = 0
    no_upper = graph[:0]
    size = beam_search(space, query, graph, no_upper, np.zeros(0, np.int32), 0, pool_d,
                       pool_i, pool_x, 1, L, visited[chunk], tag, found)
    count = _candidates(space, graph, node, pool_i, size, visited[chunk],
                        next_tag(visited, tags, chunk), cand_d, cand_i)
    out[0] = robust_prune(space, cand_d, cand_i, count, alpha, R, out[1:])


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def search_batch(space, graph, entry, order, start, stop, L, R, alpha, visited, tags,
                 n_chunks, rows):
    """Phase 1 for the rows order[start:stop]: search the graph (read-only here) from
    `entry` with a pool of L and write each row's pruned out-links, [degree, ids...],
    into rows[i - start] (int32 (stop - start, R + 1)). Worker c uses visited[c] (uint16
    (n,)) and tags[c]."""
    count = stop - start
    width = graph.shape[1]
    for c in prange(n_chunks):
        pool_d = np.empty(L, dtype=np.float32)
        pool_i = np.empty(L, dtype=np.int32)
        pool_x = np.empty(L, dtype=np.uint8)
        cand_d = np.empty(L + width, dtype=np.float32)
        cand_i = np.empty(L + width, dtype=np.int32)
        found = np.empty(width, dtype=np.int32)
        for i in range(start + c * count // n_chunks, start + (c + 1) * count // n_chunks):
            _search_one(space, graph, entry, order[i], L, R, alpha, visited, tags, c, pool_d,
                        pool_i, pool_x, cand_d, cand_i, found, rows[i - start])


@njit(cache=True, nogil=True, fastmath=True)
def _link_target(space, row, target, sources, alpha, R):
    """Add the rows `sources` to `target`'s [degree, ids...] row (those not there yet),
    pruning with RobustPrune(alpha) to R when they do not all fit."""
    count = row[0]
    fresh = np.empty(sources.shape[0], dtype=np.int32)
    n_new = 0
    for s in sources:
        present = s == target
        for j in range(1, count + 1):
            if row[j] == s:
                present = True
                break
        if not present:
            fresh[n_new] = s
            n_new += 1
    if count + n_new <= R:
        row[count + 1:count + 1 + n_new] = fresh[:n_new]
        row[0] = count + n_new
        return
    cand_i = np.concatenate((row[1:count + 1], fresh[:n_new]))
    cand_d = np.empty(cand_i.shape[0], dtype=np.float32)
    for a in range(cand_i.shape[0]):
        cand_d[a] = node_distance(space, target, cand_i[a])
    order = np.argsort(cand_d)
    row[0] = robust_prune(space, cand_d[order], cand_i[order], cand_i.shape[0], alpha, R,
                          row[1:])


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def link_batch(space, graph, order, start, stop, rows, alpha, R):
    """Phase 2: install the rows phase 1 wrote for order[start:stop], then add each of
    their out-links' reverse in-link to its target, grouped by target so each target
    row is written by one worker."""
    count = stop - start
    total = 0
    for i in range(count):
        graph[order[start + i]] = rows[i]
        total += rows[i, 0]
    targets = np.empty(total, dtype=np.int64)
    sources = np.empty(total, dtype=np.int32)
    p = 0
    for i in range(count):
        for j in range(1, rows[i, 0] + 1):
            targets[p] = rows[i, j]
            sources[p] = order[start + i]
            p += 1
    targets, sources, bounds = group_pairs(targets, sources)
    for g in prange(bounds.shape[0] - 1):
        a, b = bounds[g], bounds[g + 1]
        _link_target(space, graph[targets[a]], targets[a], sources[a:b], alpha, R)


@njit(cache=True, nogil=True)
def merge_rows(owners, lists, R, seed, out):
    """Merge the neighbour lists of shard graphs into one row per node, as DiskANN's
    `merge_shards`: a node in several shards takes the union of its lists, shuffled and
    cut to R. owners int64 (p,) sorted node ids (relative to out's first row), lists
    int32 (p, R + 1) their [degree, ids...] rows in the same order; out int32 (m, R + 1)
    is written for every node that owns a row."""
    np.random.seed(seed)
    p = 0
    total = owners.shape[0]
    union = np.empty(R * 8, dtype=np.int32)
    while p < total:
        node = owners[p]
        count = 0
        while p < total and owners[p] == node:
            row = lists[p]
            for j in range(1, row[0] + 1):
                other = row[j]
                seen = False
                for t in range(count):
                    if union[t] == other:
                        seen = True
                        break
                if not seen and count < union.shape[0]:
                    union[count] = other
                    count += 1
            p += 1
        if count > R:
            np.random.shuffle(union[:count])
            count = R
        out[node, 0] = count
        out[node, 1:count + 1] = union[:count]
