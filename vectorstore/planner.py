"""Search planning shared by the approximate indexes (hnsw, hnsw_sq8, lsh, rp_forest).

One boundary: queries and the allowed-rows mask are checked once here, per-call knobs
are read with one rule, and every search goes through `planned_search`, which
- scans the allowed rows exactly when the index says that is cheaper (a selective
  filter), otherwise runs the index's approximate search;
- then scans exactly for every query that came back with fewer than min(k, allowed)
  rows, so a filtered search returns k rows whenever k rows are allowed.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np

from .errors import DimensionMismatch, InvalidInput
from .kernels.scan import scan_rows_topk

# approximate(queries, allowed, rows, dist): fill rows / dist (arriving -1 / +inf) with
# each query's best allowed rows; allowed is None when every row is allowed.
Approximate = Callable[[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray], None]


def knob(params: dict[str, Any], name: str, default: int, lowest: int, kind: str) -> int:
    """The integer search knob `name` from params (default when absent), >= lowest."""
    value = params.get(name, default)
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < lowest:
        raise InvalidInput(f"{kind} search param {name!r} must be an integer >= {lowest}, "
                           f"got {value!r}")
    return int(value)


def as_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    """Queries as float32 (nq, dim) C-contiguous, or DimensionMismatch."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise DimensionMismatch(f"queries must have shape (nq, {dim}), got {queries.shape}")
    return queries


def as_mask(allowed: np.ndarray | None, n: int) -> np.ndarray | None:
    """The allowed-rows mask as uint8 (n,) C-contiguous (None stays None)."""
    if allowed is None:
        return None
    allowed = np.ascontiguousarray(allowed, dtype=np.uint8)
    if allowed.shape != (n,):
        raise InvalidInput(f"allowed mask must have shape ({n},), got {allowed.shape}")
    return allowed


def exact_rows(vectors: np.ndarray, metric: int, queries: np.ndarray, k: int,
               which: np.ndarray, subset: np.ndarray, rows: np.ndarray,
               dist: np.ndarray) -> None:
    """Exact top-k among the `subset` rows for the queries at positions `which`."""
    subset = subset.astype(np.int64)
    for q in which:
        rows[q], dist[q] = scan_rows_topk(vectors, subset, queries[q], k, metric)


def planned_search(vectors: np.ndarray, metric: int, queries: np.ndarray, k: int,
                   allowed: np.ndarray | None, exact_when: Callable[[int], bool],
                   approximate: Approximate) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of each query (checked float32 (nq, d)) among the allowed rows (checked
    uint8 mask or None) of `vectors` (n, d): exactly when `exact_when(n_allowed)` holds
    for a filtered search, else by `approximate`, topped up exactly for short rows.
    Returns (rows int64 (nq, k), proxy float32 (nq, k)), padded -1 / +inf."""
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise InvalidInput(f"k must be a positive integer, got {k!r}")
    nq, n = queries.shape[0], vectors.shape[0]
    rows = np.empty((nq, k), dtype=np.int64)  # empty + fill: a third of np.full's cost
    rows.fill(-1)
    dist = np.empty((nq, k), dtype=np.float32)
    dist.fill(np.inf)
    n_allowed = n if allowed is None else int(np.count_nonzero(allowed))
    if min(n_allowed, nq) == 0:
        return rows, dist
    if n_allowed == n:
        allowed = None
    if allowed is not None and exact_when(n_allowed):
        exact_rows(vectors, metric, queries, k, np.arange(nq), np.flatnonzero(allowed),
                   rows, dist)
        return rows, dist
    approximate(queries, allowed, rows, dist)
    last = rows[:, min(k, n_allowed) - 1]
    if (last.item(0) < 0) if nq == 1 else (last.min() < 0):  # the common path: none short
        short = np.flatnonzero(last < 0)
        subset = np.arange(n) if allowed is None else np.flatnonzero(allowed)
        exact_rows(vectors, metric, queries, k, short, subset, rows, dist)
    return rows, dist


class VisitedPool:
    """Visited-marker blocks for concurrent searches, as hnswlib's VisitedListPool: a
    search takes a (max threads, n) uint16 block and its tags and gives it back, so no
    scratch is shared between queries running at once. Rows a search never uses are
    never touched, so they cost no memory. `acquire` / `release` are single list
    operations, atomic under the GIL, so a one-query search pays no lock and no
    context manager (~1 us of a ~50 us walk)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.free: list[tuple[np.ndarray, np.ndarray]] = []

    def acquire(self) -> tuple[np.ndarray, np.ndarray]:
        """A block no other search holds; give it back with `release`."""
        try:
            return self.free.pop()
        except IndexError:
            rows = numba.config.NUMBA_NUM_THREADS
            return np.zeros((rows, self.n), np.uint16), np.zeros(rows, np.int64)

    def release(self, block: tuple[np.ndarray, np.ndarray]) -> None:
        self.free.append(block)

    @contextmanager
    def take(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        block = self.acquire()
        try:
            yield block
        finally:
            self.release(block)


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view of `array`: kernels can never write an index's arrays."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view
