"""The spaces an HNSW graph is built and walked in: float32 vectors or SQ8 int8 codes.

The graph kernels (`hnsw.py`, `hnsw_build.py`) never touch vectors directly; they call
the four functions below, which numba resolves by the type of `space` at compile time,
so each space gets its own specialised machine code from one walk:

    query_at(space, queries, q)        the q-th query of a batch
    query_distance(space, query, row)  proxy distance (lower is better) query -> row
    node_query(space, row)             a stored row as a query (graph construction)
    prefetch_node(space, row, lines)   hint the first cache lines of a row (at most all)

FloatSpace: vectors float32 (n, d) and a metric (0: -dot, 1: squared L2); queries are
float32 (nq, d). Sq8Space: per-dimension scalar quantisation x^_j = offset_j + scale_j *
code_j with codes int8 (n, d). A query v becomes int8 codes u of v_j * scale_j at its
own scale t, so that <v, x^> = <v, offset> + t * <u, code>: the walk computes integer
dot products only, and

    proxy(v, x^) = const_v + alpha_v * <u, code> (+ |x^|^2, the row's term, for L2)

with alpha = -t (IP) or -2t (L2) and const = -<v, offset> (IP) or |v|^2 - 2<v, offset>
(L2), estimating the float32 proxy in its own units. Sq8Queries holds (codes int8 (nq,
d), alphas float32 (nq,), consts float32 (nq,)); during construction the space carries
those of every row (`row_*`), empty (0, d) / (0,) at search time.
"""

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.extending import overload

from .distance import proxy_distance
from .prefetch import prefetch_row


class FloatSpace(NamedTuple):
    vectors: np.ndarray
    metric: int


class Sq8Queries(NamedTuple):
    codes: np.ndarray
    alphas: np.ndarray
    consts: np.ndarray


class Sq8Space(NamedTuple):
    """Flat (numba's parallel loops take no nested tuples): row_* are the rows as
    queries, an Sq8Queries of every row, during construction only."""

    codes: np.ndarray
    terms: np.ndarray  # float32 (n,) |x^|^2 for L2, (0,) for IP
    row_codes: np.ndarray
    row_alphas: np.ndarray
    row_consts: np.ndarray
    metric: int


def _kind(space) -> type | None:
    return getattr(space, "instance_class", None)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def int_dot(a: np.ndarray, b: np.ndarray) -> int:
    """Integer dot product of two int8 (d,) vectors, accumulated in int32."""
    acc = np.int32(0)
    for j in range(a.shape[0]):
        acc += np.int32(a[j]) * np.int32(b[j])
    return acc


def query_at(space, queries, q):
    """The q-th query of `queries` in `space` (pure-Python stub; numba uses the overload)."""


def query_distance(space, query, row):
    """Proxy distance from `query` to stored `row` (stub; numba uses the overload)."""


def node_query(space, row):
    """Stored `row` as a query (stub; numba uses the overload)."""


def prefetch_node(space, row, lines):
    """Prefetch hint for stored `row` (stub; numba uses the overload)."""


@overload(query_at)
def _query_at(space, queries, q):
    if _kind(space) is FloatSpace:
        return lambda space, queries, q: queries[q]
    if _kind(space) is Sq8Space:
        return lambda space, queries, q: (queries.codes[q], queries.alphas[q],
                                          queries.consts[q])
    return None


@overload(query_distance)
def _query_distance(space, query, row):
    if _kind(space) is FloatSpace:
        return lambda space, query, row: proxy_distance(space.vectors[row], query,
                                                        space.metric)
    if _kind(space) is Sq8Space:
        def sq8(space, query, row):
            d = query[2] + query[1] * np.float32(int_dot(space.codes[row], query[0]))
            if space.metric == 1:
                d += space.terms[row]
            return np.float32(d)
        return sq8
    return None


@overload(node_query)
def _node_query(space, row):
    if _kind(space) is FloatSpace:
        return lambda space, row: space.vectors[row]
    if _kind(space) is Sq8Space:
        return lambda space, row: (space.row_codes[row], space.row_alphas[row],
                                   space.row_consts[row])
    return None


@overload(prefetch_node)
def _prefetch_node(space, row, lines):
    if _kind(space) is FloatSpace:  # at most the row's own lines
        return lambda space, row, lines: prefetch_row(
            space.vectors, row, min(lines, (space.vectors.shape[1] * 4 + 63) // 64))
    if _kind(space) is Sq8Space:
        # A code row is a few lines (6 at d = 384): hint all of it, not just `lines`.
        return lambda space, row, lines: prefetch_row(space.codes, row,
                                                      (space.codes.shape[1] + 63) // 64)
    return None


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def node_distance(space, a, b):
    """Proxy distance from stored row a (as the query) to stored row b."""
    return query_distance(space, node_query(space, a), b)


@njit(cache=True, nogil=True, fastmath=True)
def sq8_encode(vectors, offsets, scales, levels, metric):
    """Rows of vectors (m, d) float32 as SQ8 queries: (codes int8 (m, d), alphas float32
    (m,), consts float32 (m,)) as described at the top, each row at its own step
    max_j |v_j * scale_j| / levels."""
    m, d = vectors.shape
    codes = np.empty((m, d), dtype=np.int8)
    alphas = np.empty(m, dtype=np.float32)
    consts = np.empty(m, dtype=np.float32)
    weighted = np.empty(d, dtype=np.float32)
    for i in range(m):
        top = np.float32(0.0)
        shift = np.float32(0.0)
        norm = np.float32(0.0)
        for j in range(d):
            v = vectors[i, j]
            weighted[j] = v * scales[j]
            top = max(top, abs(weighted[j]))
            shift += v * offsets[j]
            norm += v * v
        step = top / levels if top > 0 else np.float32(1.0)
        for j in range(d):
            codes[i, j] = np.int8(np.rint(weighted[j] / step))
        if metric == 0:
            alphas[i], consts[i] = -step, -shift
        else:
            alphas[i], consts[i] = -2 * step, norm - 2 * shift
    return codes, alphas, consts

