"""HNSW construction kernels: batched insertion on the arrays described in `hnsw.py`.

Rows [start, stop) are inserted as one batch in two parallel phases:
1. `insert_search`: each new node searches the current graph (read-only during the
   phase) with ef_construction on each of its layers and selects its M neighbours with
   the paper's heuristic (Algorithm 4) among the results plus the batch's earlier nodes,
   so the batch sees itself as sequential insertion would. It writes only its own rows.
2. `link_reverse`: each node that gained in-links appends them, and when its row
   overflows (M on upper layers, 2M on layer 0) keeps the heuristic's choice among old
   and new links. Rows are grouped by target, so each is written by one worker.
"""

import numpy as np
from numba import njit, prange

from .hnsw import beam_search, descend, links_row, next_tag, pool_insert
from .space import node_distance, node_query


@njit(cache=True, nogil=True, fastmath=True)
def select_heuristic(space, cand_d, cand_i, n_cand, m_max, out):
    """The neighbour-selection heuristic: walk candidates (sorted by distance to the base
    node, cand_d float32 / cand_i int32) and keep one only if it is closer to the base
    than to every node kept so far, up to `m_max`. Writes kept ids to `out`; returns
    how many."""
    kept = 0
    for a in range(n_cand):
        node = cand_i[a]
        good = True
        for b in range(kept):
            if node_distance(space, node, out[b]) < cand_d[a]:
                good = False
                break
        if good:
            out[kept] = node
            kept += 1
            if kept == m_max:
                break
    return kept


@njit(cache=True, nogil=True, fastmath=True)
def _select_with_batch(space, levels, q, start, layer, M, pool_d, pool_i, size, sel_d,
                       sel_i, sel_x, row):
    """Select q's neighbours on `layer` among the pool and the batch's rows [start, q)
    that reach the layer; write them to `row` as [count, ids...]."""
    sel_d[:size] = pool_d[:size]
    sel_i[:size] = pool_i[:size]
    n_sel = size
    cap = sel_d.shape[0]
    for j in range(start, q):
        if levels[j] >= layer:
            d = node_distance(space, q, j)
            n_sel, _ = pool_insert(sel_d, sel_i, sel_x, n_sel, cap, d, j)
    row[0] = select_heuristic(space, sel_d, sel_i, n_sel, M, row[1:])


@njit(cache=True, nogil=True, fastmath=True)
def _insert_one(space, links0, upper, upper_start, levels, entry, top, q, start, M, ef_c,
                visited, tags, chunk, pool_d, pool_i, pool_x, sel_d, sel_i, sel_x, found):
    query = node_query(space, q)
    level = levels[q]
    descend(space, query, links0, upper, upper_start, entry, top, level, pool_d, pool_i,
            pool_x, visited, tags, chunk, found)
    size = 1
    for layer in range(min(level, top), -1, -1):
        tag = next_tag(visited, tags, chunk)
        for j in range(size):
            visited[chunk, pool_i[j]] = tag
            pool_x[j] = 0
        size = beam_search(space, query, links0, upper, upper_start, layer, pool_d, pool_i,
                           pool_x, size, ef_c, visited[chunk], tag, found)
        _select_with_batch(space, levels, q, start, layer, M, pool_d, pool_i, size, sel_d,
                           sel_i, sel_x, links_row(links0, upper, upper_start, q, layer))


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def insert_search(space, links0, upper, upper_start, levels, entry, top, start, stop, M,
                  ef_c, visited, tags, n_chunks):
    """Phase 1 for rows [start, stop) of `space` (`space.py`): search the graph from
    `entry` (whose level is `top`) and write each new node's own link rows. Workers take
    contiguous ranges; worker c uses visited[c] (uint16 (n,)) and tags[c]."""
    count = stop - start
    for c in prange(n_chunks):
        pool_d = np.empty(ef_c, dtype=np.float32)
        pool_i = np.empty(ef_c, dtype=np.int32)
        pool_x = np.empty(ef_c, dtype=np.uint8)
        sel_d = np.empty(ef_c, dtype=np.float32)
        sel_i = np.empty(ef_c, dtype=np.int32)
        sel_x = np.empty(ef_c, dtype=np.uint8)
        found = np.empty(links0.shape[1] * 2, dtype=np.int32)
        for q in range(start + c * count // n_chunks, start + (c + 1) * count // n_chunks):
            _insert_one(space, links0, upper, upper_start, levels, entry, top, q, start, M,
                        ef_c, visited, tags, c, pool_d, pool_i, pool_x, sel_d, sel_i, sel_x,
                        found)


@njit(cache=True, nogil=True)
def reverse_pairs(links0, upper, upper_start, levels, top, start, stop):
    """The in-links the batch [start, stop) creates, grouped by target row: returns
    (keys int64 (p,) = layer * n + target, sorted; sources int32 (p,); group_starts
    int64 (g + 1,) delimiting runs of equal keys)."""
    n = links0.shape[0]
    total = 0
    for q in range(start, stop):
        for layer in range(min(levels[q], top) + 1):
            total += links_row(links0, upper, upper_start, q, layer)[0]
    keys = np.empty(total, dtype=np.int64)
    sources = np.empty(total, dtype=np.int32)
    p = 0
    for q in range(start, stop):
        for layer in range(min(levels[q], top) + 1):
            row = links_row(links0, upper, upper_start, q, layer)
            for j in range(1, row[0] + 1):
                keys[p] = layer * n + row[j]
                sources[p] = q
                p += 1
    return group_pairs(keys, sources)


@njit(cache=True, nogil=True)
def group_pairs(keys, sources):
    """(key, source) pairs (int64 (p,), int32 (p,)) sorted by key, stably: returns
    (keys, sources, group_starts int64 (g + 1,) delimiting runs of equal keys)."""
    total = keys.shape[0]
    order = np.argsort(keys, kind="mergesort")
    keys = keys[order]
    sources = sources[order]
    bounds = np.empty(total + 1, dtype=np.int64)
    g = 0
    for p in range(total):
        if p == 0 or keys[p] != keys[p - 1]:
            bounds[g] = p
            g += 1
    bounds[g] = total
    return keys, sources, bounds[:g + 1].copy()


@njit(cache=True, nogil=True, fastmath=True)
def _link_target(space, row, target, sources, cap):
    """Add `sources` to the [count, ids...] `row` of `target`, pruning with the
    heuristic to `cap` links when they do not all fit."""
    count = row[0]
    new = sources.shape[0]
    if count + new <= cap:
        row[count + 1:count + 1 + new] = sources
        row[0] = count + new
        return
    cand_i = np.concatenate((row[1:count + 1], sources))
    cand_d = np.empty(cand_i.shape[0], dtype=np.float32)
    for a in range(cand_i.shape[0]):
        cand_d[a] = node_distance(space, target, cand_i[a])
    order = np.argsort(cand_d)
    row[0] = select_heuristic(space, cand_d[order], cand_i[order], cand_i.shape[0], cap,
                              row[1:])


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def link_reverse(space, links0, upper, upper_start, keys, sources, bounds, M):
    """Phase 2: apply the grouped in-links from `reverse_pairs` in parallel, one worker
    per target row."""
    n = links0.shape[0]
    for g in prange(bounds.shape[0] - 1):
        a, b = bounds[g], bounds[g + 1]
        layer, target = keys[a] // n, keys[a] % n
        cap = 2 * M if layer == 0 else M
        _link_target(space, links_row(links0, upper, upper_start, target, layer), target,
                     sources[a:b], cap)
