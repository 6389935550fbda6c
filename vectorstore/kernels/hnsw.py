"""HNSW graph search kernels (Malkov & Yashunin 2018) over flat arrays.

The graph of n nodes with parameter M is four arrays:
  links0      int32 (n, 2M + 1)   layer-0 neighbours of each node: [count, ids..., padding]
  upper       int32 (r, M + 1)    neighbours on layers >= 1, same [count, ids...] rows
  upper_start int32 (n,)          row in `upper` of the node's layer 1 (-1 if it has none);
                                  layer l of node i is upper[upper_start[i] + l - 1]
  levels      int32 (n,)          top layer of each node
plus the entry node and its level (the graph's top layer).

A search keeps one sorted *pool* of the best `ef` nodes found so far — distances float32,
ids int32 and an expanded flag uint8, all (cap,) with cap >= ef — and repeatedly expands
the best unexpanded node (the paper's candidate and result sets in one array, as in
NSG/DiskANN). Visited markers are a uint16 row per worker with a generation tag, cleared
only when the tag wraps (hnswlib's VisitedListPool): `visited` (chunks, n), `tags` int64
(chunks,). Rows are reached only through a `space` (`space.py`: float32 vectors, or SQ8
codes walked with integer dot products), so one walk serves both; distances are
proxies, lower is better.
"""

import numpy as np
from numba import njit, prange

from .prefetch import prefetch_row
from .space import prefetch_node, query_at, query_distance

PREFETCH_LINES = 2
AHEAD = 2
AHEAD_LINES = 32
ROW_LINES = 3
TAG_LIMIT = 65535
HOP_CAP = 2


@njit(cache=True, nogil=True, inline="always")
def links_row(links0, upper, upper_start, node, layer):
    """The [count, ids...] row of `node` on `layer` (a view, writable if the arrays are)."""
    if layer == 0:
        return links0[node]
    return upper[upper_start[node] + layer - 1]


@njit(cache=True, nogil=True, inline="always")
def next_tag(visited, tags, chunk):
    """A fresh generation tag for `visited[chunk]`, clearing the row when tags wrap."""
    tag = tags[chunk] + 1
    if tag >= TAG_LIMIT:
        visited[chunk, :] = 0
        tag = 1
    tags[chunk] = tag
    return np.uint16(tag)


@njit(cache=True, nogil=True, inline="always")
def pool_insert(pool_d, pool_i, pool_x, size, cap, d, node):
    """Insert (d, node) unexpanded into the sorted pool of `size` entries, dropping the
    worst when it holds `cap`. Returns (new size, position), position == cap if rejected.
    """
    if size == cap:
        if d >= pool_d[size - 1]:
            return size, cap
        size -= 1
    pos = size
    while pos > 0 and pool_d[pos - 1] > d:
        pool_d[pos] = pool_d[pos - 1]
        pool_i[pos] = pool_i[pos - 1]
        pool_x[pos] = pool_x[pos - 1]
        pos -= 1
    pool_d[pos] = d
    pool_i[pos] = node
    pool_x[pos] = 0
    return size + 1, pos


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _admit(space, query, links0, found, m, pool_d, pool_i, pool_x, size, cap, best):
    """Compute distances to the `m` nodes in `found` and insert those that make the pool,
    prefetching their layer-0 rows, which the next expansions read. While one distance
    is computed, the whole row AHEAD nodes on is fetched (their first lines were hinted
    when they were found): a 384-d float row is 24 cache lines, and fetching it ahead
    took ~20% off a 100k walk (hnswlib hints one line of the next node only).
    Returns (size, lowest insert position or `best`)."""
    for j in range(m):
        if j + AHEAD < m:
            prefetch_node(space, found[j + AHEAD], AHEAD_LINES)
        node = found[j]
        d = query_distance(space, query, node)
        if size < cap or d < pool_d[size - 1]:
            size, pos = pool_insert(pool_d, pool_i, pool_x, size, cap, d, node)
            prefetch_row(links0, node, ROW_LINES)
            best = min(best, pos)
    return size, best


@njit(cache=True, nogil=True, inline="always")
def _advance(pool_x, size, cur, best):
    """Position of the best unexpanded pool entry after expanding the one at `cur`."""
    if best <= cur:
        return best
    cur += 1
    while cur < size and pool_x[cur]:
        cur += 1
    return cur


@njit(cache=True, nogil=True, fastmath=True)
def beam_search(space, query, links0, upper, upper_start, layer, pool_d, pool_i, pool_x,
                size, cap, visited_row, tag, found):
    """Beam search on one layer from the `size` seeds in the pool (sorted, already marked
    visited with `tag`), keeping the best `cap` nodes. `found` is int32 scratch of at
    least the row width. Returns the pool's new size; pool_x is 1 for expanded entries.
    """
    cur = 0
    while cur < size:
        row = links_row(links0, upper, upper_start, pool_i[cur], layer)
        pool_x[cur] = 1
        m = 0
        for j in range(1, row[0] + 1):
            node = row[j]
            if visited_row[node] != tag:
                visited_row[node] = tag
                prefetch_node(space, node, PREFETCH_LINES)
                found[m] = node
                m += 1
        size, best = _admit(space, query, links0, found, m, pool_d, pool_i, pool_x, size,
                            cap, size)
        cur = _advance(pool_x, size, cur, best)
    return size


@njit(cache=True, nogil=True, inline="always")
def _allowed_near(links0, node, mask, visited_row, tag, found, limit):
    """Unvisited allowed nodes around `node` on layer 0, at most `limit`: its allowed
    neighbours, then up to HOP_CAP allowed neighbours of each of its non-allowed
    neighbours (walking through nodes the filter rejects, spread over all directions).
    Writes them to `found`, marks them visited and returns how many."""
    row = links0[node]
    m = 0
    for j in range(1, row[0] + 1):
        nb = row[j]
        if mask[nb] == 0:
            prefetch_row(links0, nb, ROW_LINES)
        elif visited_row[nb] != tag:
            visited_row[nb] = tag
            found[m] = nb
            m += 1
    for j in range(1, row[0] + 1):
        nb = row[j]
        if mask[nb] != 0:
            continue
        hop = links0[nb]
        taken = 0
        for jj in range(1, hop[0] + 1):
            w = hop[jj]
            if mask[w] != 0 and visited_row[w] != tag:
                visited_row[w] = tag
                found[m] = w
                m += 1
                taken += 1
                if m >= limit:
                    return m
                if taken == HOP_CAP:
                    break
    return m


@njit(cache=True, nogil=True, fastmath=True)
def filtered_search(space, query, links0, entry, mask, pool_d, pool_i, pool_x, cap,
                    visited_row, tag, found):
    """Layer-0 beam search where only rows with mask[row] != 0 enter the pool, starting
    from `entry` (allowed or not). Non-allowed nodes are walked through: the allowed
    nodes two hops away count as neighbours. `found` is int32 scratch of at least
    links0.shape[1]. Returns the pool's size (fewer than `cap` if the allowed nodes
    reachable this way are fewer).
    """
    limit = links0.shape[1] - 1
    size = 0
    if mask[entry] != 0:
        visited_row[entry] = tag
        size, _ = pool_insert(pool_d, pool_i, pool_x, 0, cap,
                              query_distance(space, query, entry), entry)
    else:
        m = _allowed_near(links0, entry, mask, visited_row, tag, found, limit)
        size, _ = _admit(space, query, links0, found, m, pool_d, pool_i, pool_x, 0, cap, 0)
    cur = 0
    while cur < size:
        node = pool_i[cur]
        pool_x[cur] = 1
        m = _allowed_near(links0, node, mask, visited_row, tag, found, limit)
        for j in range(m):
            prefetch_node(space, found[j], PREFETCH_LINES)
        size, best = _admit(space, query, links0, found, m, pool_d, pool_i, pool_x, size,
                            cap, size)
        cur = _advance(pool_x, size, cur, best)
    return size


@njit(cache=True, nogil=True, fastmath=True)
def descend(space, query, links0, upper, upper_start, entry, top, bottom, pool_d, pool_i,
            pool_x, visited, tags, chunk, found):
    """Greedy search (ef = 1) from `entry` on layer `top` down to layer `bottom`
    (exclusive). Returns the node where it ends; the pool holds it at position 0."""
    pool_d[0] = query_distance(space, query, entry)
    pool_i[0] = entry
    for layer in range(top, bottom, -1):
        tag = next_tag(visited, tags, chunk)
        visited[chunk, pool_i[0]] = tag
        pool_x[0] = 0
        beam_search(space, query, links0, upper, upper_start, layer, pool_d, pool_i, pool_x,
                    1, 1, visited[chunk], tag, found)
    return pool_i[0]


@njit(cache=True, nogil=True, fastmath=True)
def search_range(space, queries, links0, upper, upper_start, entry, top, ef, mask,
                 use_mask, visited, tags, chunk, start, stop, out_i, out_d):
    """Search queries[start:stop] with worker `chunk`'s scratch into out_i / out_d (k =
    out_i.shape[1]); unfilled slots keep their -1 / +inf padding. Called directly, it
    runs on the calling thread: a single query needs no thread team (`search_batch`)."""
    k = out_i.shape[1]
    cap = max(ef, k)
    pool_d = np.empty(cap, dtype=np.float32)
    pool_i = np.empty(cap, dtype=np.int32)
    pool_x = np.empty(cap, dtype=np.uint8)
    found = np.empty(links0.shape[1] * 2, dtype=np.int32)
    for q in range(start, stop):
        query = query_at(space, queries, q)
        node = descend(space, query, links0, upper, upper_start, entry, top, 0, pool_d,
                       pool_i, pool_x, visited, tags, chunk, found)
        tag = next_tag(visited, tags, chunk)
        if use_mask:
            size = filtered_search(space, query, links0, node, mask, pool_d, pool_i, pool_x,
                                   cap, visited[chunk], tag, found)
        else:
            visited[chunk, node] = tag
            pool_x[0] = 0
            size = beam_search(space, query, links0, upper, upper_start, 0, pool_d, pool_i,
                               pool_x, 1, cap, visited[chunk], tag, found)
        for j in range(min(k, size)):
            out_i[q, j] = pool_i[j]
            out_d[q, j] = pool_d[j]


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def search_batch(space, queries, links0, upper, upper_start, entry, top, ef, mask,
                 use_mask, visited, tags, n_chunks, out_i, out_d):
    """Search every query of `queries` (in `space`'s form) through the graph, splitting them
    into `n_chunks` contiguous ranges run in parallel, chunk c using visited[c] / tags[c].
    When `use_mask`, only rows with mask[row] != 0 (uint8 (n,)) are returned.
    out_i int64 (nq, k) / out_d float32 (nq, k) must arrive filled with -1 / +inf; each
    row is written best first.
    """
    nq = out_i.shape[0]
    for c in prange(n_chunks):
        search_range(space, queries, links0, upper, upper_start, entry, top, ef, mask,
                     use_mask, visited, tags, c, c * nq // n_chunks,
                     (c + 1) * nq // n_chunks, out_i, out_d)
