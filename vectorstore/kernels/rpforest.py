"""Random-projection forest kernels (Annoy's trees) over flat arrays.

A tree splits its rows by the hyperplane equidistant from two rows p and q sampled from
them (normal p - q, offset (|p|^2 - |q|^2) / 2), recursively, until a node holds at
most `leaf_size` rows. A forest of T trees is stored as:

    normals   float32 (m, d)   hyperplane normal of each internal node (0: split at random)
    offsets   float32 (m,)     margin(x) = <x, normal> - offset; > 0 goes to child 1
    children  int32 (m, 2)     a child >= 0 is an internal node, < 0 is leaf -(child + 1)
    leaves    int64 (L, 2)     leaf l holds leaf_rows[leaves[l, 0]:leaves[l, 1]]
    leaf_rows int32 (T * n,)   each tree's rows ordered leaf by leaf
    roots     int32 (T,)       root of each tree, encoded as a child

A search keeps one priority queue over all trees (Annoy's): the priority of a node is
the smallest margin met on the way to it (+inf at a root, so every tree is entered), and
leaves are read best first until `search_k` allowed rows were read.
"""

import numpy as np
from numba import njit, prange

from .distance import proxy_distance
from .heap import heap_push, heap_sort
from .hnsw import next_tag
from .prefetch import prefetch_row

AHEAD = 4  # rows ahead whose vectors are prefetched whole (measured: build 0.6x annoy's
# CPU time and +20% search QPS over hinting 4 lines of each leaf row up front)
SPLIT_TRIES = 3
MAX_IMBALANCE = 0.95


@njit(cache=True, nogil=True, fastmath=True)
def _split(vectors, perm, start, stop, normal, margins, spill):
    """Sample two distinct rows p, q of perm[start:stop], set `normal` to p - q and
    partition perm[start:stop] stably by the side of their bisecting hyperplane, so each
    node's rows stay in ascending order and every level reads the vectors front to back.
    margins float32 / spill int32 (n,) are scratch.
    Returns (first position of side 1, offset, p, q)."""
    size = stop - start
    a = np.random.randint(size)
    b = np.random.randint(size - 1)
    p, q = perm[start + a], perm[start + b + (b >= a)]
    offset = np.float32(0.0)
    for j in range(normal.shape[0]):
        normal[j] = vectors[p, j] - vectors[q, j]
        offset += (vectors[p, j] * vectors[p, j] - vectors[q, j] * vectors[q, j]) / 2
    row_lines = (vectors.shape[1] * 4 + 63) // 64
    for i in range(start, stop):
        if i + AHEAD < stop:
            prefetch_row(vectors, perm[i + AHEAD], row_lines)
        margin = -offset
        row = perm[i]
        for j in range(normal.shape[0]):
            margin += vectors[row, j] * normal[j]
        margins[i] = margin
    lo, spilled = start, 0
    for i in range(start, stop):
        if margins[i] > 0:
            spill[spilled] = perm[i]
            spilled += 1
        else:
            perm[lo] = perm[i]
            lo += 1
    perm[lo:stop] = spill[:spilled]
    return lo, offset, p, q


@njit(cache=True, nogil=True, fastmath=True)
def build_tree(vectors, leaf_size, seed):
    """One tree over all rows of vectors (n, d) float32. Returns (perm int32 (n,): rows
    leaf by leaf, normals float32 (m, d), offsets float32 (m,), children int32 (m, 2) with
    leaf ids local to the tree, leaves int64 (L, 2) into perm, root). Splits are kept as
    their two rows while the tree grows (a node count is not known in advance) and
    turned into normals at the end."""
    np.random.seed(seed)
    n, d = vectors.shape
    perm = np.arange(n).astype(np.int32)
    cap = max(1, n)
    pairs = np.full((cap, 2), -1, dtype=np.int32)
    offsets = np.zeros(cap, dtype=np.float32)
    children = np.zeros((cap, 2), dtype=np.int32)
    leaves = np.zeros((cap, 2), dtype=np.int64)
    stack = np.zeros((cap + 1, 4), dtype=np.int64)  # start, stop, parent, side
    normal = np.empty(d, dtype=np.float32)
    margins = np.empty(n, dtype=np.float32)
    spill = np.empty(n, dtype=np.int32)
    stack[0, 1], stack[0, 2] = n, -1
    top, m, n_leaves, root = 1, 0, 0, -1
    while top:
        top -= 1
        start, stop, parent, side = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3]
        if stop - start <= leaf_size:
            leaves[n_leaves, 0], leaves[n_leaves, 1] = start, stop
            code = -(n_leaves + 1)
            n_leaves += 1
        else:
            balanced = False
            for _ in range(SPLIT_TRIES):
                mid, offset, p, q = _split(vectors, perm, start, stop, normal, margins,
                                           spill)
                if max(mid - start, stop - mid) <= MAX_IMBALANCE * (stop - start):
                    balanced = True
                    pairs[m, 0], pairs[m, 1], offsets[m] = p, q, offset
                    break
            if not balanced:
                # No hyperplane splits these rows (duplicates): halve them at random,
                # with a zero normal so a search reads both halves alike.
                np.random.shuffle(perm[start:stop])
                mid = (start + stop) // 2
            code = m
            m += 1
            stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3] = start, mid, code, 0
            top += 1
            stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3] = mid, stop, code, 1
            top += 1
        if parent < 0:
            root = code
        else:
            children[parent, side] = code
    normals = np.zeros((m, d), dtype=np.float32)
    for i in range(m):
        if pairs[i, 0] >= 0:
            normals[i] = vectors[pairs[i, 0]] - vectors[pairs[i, 1]]
    return perm, normals, offsets[:m].copy(), children[:m].copy(), \
        leaves[:n_leaves].copy(), root


@njit(cache=True, nogil=True, inline="always")
def _queue_push(prio, node, size, p, code):
    """Push (p, code) on the max-heap prio / node of `size` entries; returns the size."""
    pos = size
    while pos > 0:
        parent = (pos - 1) // 2
        if prio[parent] >= p:
            break
        prio[pos] = prio[parent]
        node[pos] = node[parent]
        pos = parent
    prio[pos] = p
    node[pos] = code
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _queue_pop(prio, node, size):
    """Remove the root of the max-heap (read it before calling); returns the size."""
    size -= 1
    p, code = prio[size], node[size]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and prio[child + 1] > prio[child]:
            child += 1
        if prio[child] <= p:
            break
        prio[pos] = prio[child]
        node[pos] = node[child]
        pos = child
    prio[pos] = p
    node[pos] = code
    return size


@njit(cache=True, nogil=True, fastmath=True)
def search_one(normals, offsets, children, leaves, leaf_rows, roots, n_trees, vectors,
               query, metric, search_k, mask, use_mask, visited_row, tag, prio, node,
               out_i, out_d):
    """Top-k (k = out_i.shape[0]) of one query among the allowed rows of the leaves the
    first `n_trees` trees lead to, best first, until search_k allowed rows were read;
    each row is scored once (visited_row with `tag`). prio float32 / node int32 are
    queue scratch of at least n_trees + 2 * m entries. out_i / out_d arrive -1 / +inf."""
    row_lines = (vectors.shape[1] * 4 + 63) // 64
    size = 0
    for t in range(n_trees):
        size = _queue_push(prio, node, size, np.float32(np.inf), roots[t])
    seen = 0
    while size > 0 and seen < search_k:
        d, code = prio[0], node[0]
        size = _queue_pop(prio, node, size)
        if code >= 0:
            margin = -offsets[code]
            for j in range(query.shape[0]):
                margin += query[j] * normals[code, j]
            size = _queue_push(prio, node, size, min(d, margin), children[code, 1])
            size = _queue_push(prio, node, size, min(d, -margin), children[code, 0])
            continue
        leaf = -(code + 1)
        lo, hi = leaves[leaf, 0], leaves[leaf, 1]
        for p in range(lo, hi):
            if p + AHEAD < hi:
                prefetch_row(vectors, leaf_rows[p + AHEAD], row_lines)
            row = leaf_rows[p]
            if use_mask and mask[row] == 0:
                continue
            seen += 1
            if visited_row[row] != tag:
                visited_row[row] = tag
                heap_push(out_d, out_i, proxy_distance(vectors[row], query, metric), row)
    heap_sort(out_d, out_i)


@njit(cache=True, nogil=True, parallel=True)
def search_batch(normals, offsets, children, leaves, leaf_rows, roots, n_trees, vectors,
                 queries, metric, search_k, mask, use_mask, visited, tags, n_chunks, out_i,
                 out_d):
    """`search_one` for every row of queries (nq, d), split into n_chunks contiguous
    ranges run in parallel, chunk c using visited[c] / tags[c]; out_i int64 / out_d
    float32 (nq, k) arrive filled with -1 / +inf."""
    nq = queries.shape[0]
    cap = n_trees + 2 * normals.shape[0] + 1
    for c in prange(n_chunks):
        prio = np.empty(cap, dtype=np.float32)
        node = np.empty(cap, dtype=np.int32)
        for q in range(c * nq // n_chunks, (c + 1) * nq // n_chunks):
            tag = next_tag(visited, tags, c)
            search_one(normals, offsets, children, leaves, leaf_rows, roots, n_trees,
                       vectors, queries[q], metric, search_k, mask, use_mask, visited[c],
                       tag, prio, node, out_i[q], out_d[q])
