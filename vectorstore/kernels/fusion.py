"""Fusing two rankings into one top k (`fusion.py` computes each candidate's
contributions; this kernel merges the lists and picks the best).

A hybrid search fuses about a hundred candidates per query; done with numpy that is a
dozen small array operations, which cost more than the work. Here it is one pass.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def fuse_top_k(keys_a: np.ndarray, gain_a: np.ndarray, keys_b: np.ndarray,
               gain_b: np.ndarray, k: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The k best keys of two rankings (int64 keys, each once per ranking, best first;
    float64 gains): a key's score is its gains summed, ties going to the better position
    in either ranking, then the smaller key. Returns (keys, scores, position in a, position
    in b), best first; a position is -1 where the key is absent."""
    n_a = keys_a.shape[0]
    n = n_a + keys_b.shape[0]
    both = np.empty(n, dtype=np.int64)
    both[:n_a] = keys_a
    both[n_a:] = keys_b
    order = np.argsort(both, kind="mergesort")  # stable: a's gain is added first
    keys = np.empty(n, dtype=np.int64)
    score = np.zeros(n, dtype=np.float64)
    pos_a = np.full(n, -1, dtype=np.int64)
    pos_b = np.full(n, -1, dtype=np.int64)
    m = 0
    for i in range(n):
        o = order[i]
        if m == 0 or keys[m - 1] != both[o]:
            keys[m] = both[o]
            m += 1
        if o < n_a:
            score[m - 1] += gain_a[o]
            pos_a[m - 1] = o
        else:
            score[m - 1] += gain_b[o - n_a]
            pos_b[m - 1] = o - n_a
    first = np.empty(m, dtype=np.int64)
    for i in range(m):
        first[i] = min(pos_a[i] if pos_a[i] >= 0 else n, pos_b[i] if pos_b[i] >= 0 else n)
    take = min(k, m)
    chosen = np.empty(take, dtype=np.int64)
    count = 0
    for i in range(m):  # insertion into the best `take`; keys ascend, so a tie keeps its place
        at = count
        while at > 0 and (score[i] > score[chosen[at - 1]] or (
                score[i] == score[chosen[at - 1]] and first[i] < first[chosen[at - 1]])):
            at -= 1
        if at < take:
            for q in range(min(count, take - 1), at, -1):
                chosen[q] = chosen[q - 1]
            chosen[at] = i
            count = min(count + 1, take)
    return keys[chosen], score[chosen], pos_a[chosen], pos_b[chosen]
