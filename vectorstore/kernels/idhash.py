"""Byte strings hashed and found in a table sorted by hash: the id map's sealed base.

Strings are laid out as one uint8 blob with int64 bounds (`arrayfile.pack_strings`: n + 1
offsets, or a start and an end per string). The hash is 64-bit FNV-1a with a final
avalanche (splitmix64's), so nearby ids ("r1", "r2") land far apart; a hit is always
confirmed by comparing the bytes, so a collision costs a comparison, never a wrong row.
"""

import numpy as np
from numba import njit

_OFFSET = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)


@njit(cache=True, nogil=True)
def _hash(blob, start, end):
    h = _OFFSET
    for i in range(start, end):
        h = (h ^ np.uint64(blob[i])) * _PRIME
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True, nogil=True)
def hash_strings(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """uint64 hash of each string i = blob[offsets[i]:offsets[i + 1]] (n + 1 offsets)."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = _hash(blob, offsets[i], offsets[i + 1])
    return out


@njit(cache=True, nogil=True)
def find_strings(hashes: np.ndarray, offsets: np.ndarray, blob: np.ndarray,
                 q_offsets: np.ndarray, q_blob: np.ndarray) -> np.ndarray:
    """Position in the table of each query string (-1: absent). The table: `hashes`
    (n,) sorted ascending, string i at blob[offsets[i]:offsets[i + 1]]; the queries as
    n_q + 1 `q_offsets` into `q_blob`. Returns int64 (n_q,)."""
    n = hashes.shape[0]
    out = np.full(q_offsets.shape[0] - 1, -1, dtype=np.int64)
    for q in range(out.shape[0]):
        start, end = q_offsets[q], q_offsets[q + 1]
        h = _hash(q_blob, start, end)
        at = np.searchsorted(hashes, h)
        while at < n and hashes[at] == h:
            lo, hi = offsets[at], offsets[at + 1]
            if hi - lo == end - start:
                same = True
                for j in range(end - start):
                    if blob[lo + j] != q_blob[start + j]:
                        same = False
                        break
                if same:
                    out[q] = at
                    break
            at += 1
    return out


@njit(cache=True, nogil=True)
def gather_strings(blob: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                   order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strings blob[starts[i]:ends[i]] for i in `order`, packed: (blob uint8,
    offsets int64 (len(order) + 1))."""
    offsets = np.empty(order.shape[0] + 1, dtype=np.int64)
    offsets[0] = 0
    for j in range(order.shape[0]):
        i = order[j]
        offsets[j + 1] = offsets[j] + ends[i] - starts[i]
    out = np.empty(offsets[-1], dtype=np.uint8)
    for j in range(order.shape[0]):
        i = order[j]
        out[offsets[j]:offsets[j + 1]] = blob[starts[i]:ends[i]]
    return out, offsets
