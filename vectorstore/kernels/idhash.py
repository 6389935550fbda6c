"""Byte strings hashed and found in a table sorted by hash: the id map's sealed base.

A string set is one uint8 blob with, per string, an int64 start and a uint16 length (or,
as `arrayfile.pack_strings` lays strings out, n + 1 int64 offsets). The hash is 64-bit
FNV-1a with a final avalanche (splitmix64's), so nearby ids ("r1", "r2") land far apart;
a hit is always confirmed by comparing the bytes, so a collision costs a comparison,
never a wrong row.
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
def find_strings(hashes: np.ndarray, starts: np.ndarray, lens: np.ndarray, blob: np.ndarray,
                 q_offsets: np.ndarray, q_blob: np.ndarray) -> np.ndarray:
    """Position in the table of each query string (-1: absent). The table: `hashes`
    (n,) sorted ascending, entry i's string at blob[starts[i]:starts[i] + lens[i]]; the
    queries as n_q + 1 `q_offsets` into `q_blob`. Returns int64 (n_q,)."""
    n = hashes.shape[0]
    out = np.full(q_offsets.shape[0] - 1, -1, dtype=np.int64)
    for q in range(out.shape[0]):
        start, end = q_offsets[q], q_offsets[q + 1]
        h = _hash(q_blob, start, end)
        at = np.searchsorted(hashes, h)
        while at < n and hashes[at] == h:
            lo = starts[at]
            if lens[at] == end - start:
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
def pack_entries(blob: np.ndarray, starts: np.ndarray, lens: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The strings blob[starts[i]:starts[i] + lens[i]], back to back in entry order:
    (blob uint8, starts int64)."""
    packed_starts = np.empty(starts.shape[0], dtype=np.int64)
    total = 0
    for i in range(starts.shape[0]):
        packed_starts[i] = total
        total += lens[i]
    out = np.empty(total, dtype=np.uint8)
    for i in range(starts.shape[0]):
        at = packed_starts[i]
        for b in range(starts[i], starts[i] + lens[i]):
            out[at] = blob[b]
            at += 1
    return out, packed_starts
