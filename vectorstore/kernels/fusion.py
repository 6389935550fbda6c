"""Fusing two rankings into one top k (`fusion.py` says how; these kernels weigh each
candidate, merge the lists and pick the best).

A hybrid search fuses about a hundred candidates per query; done with numpy that is a
few dozen small array operations, which cost more than the work. Here it is one call.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def gains(scores: np.ndarray, weight: float, rrf: bool, rrf_k: float,
          higher_is_better: bool) -> np.ndarray:
    """What each candidate of a ranking (best first) brings to its fused score, float64:
    by reciprocal rank, weight / (rrf_k + rank) with ranks from 1; else its score
    min-max normalised over the ranking (1 = its best; all 1 when they are equal) times
    the weight."""
    n = scores.shape[0]
    out = np.empty(n, dtype=np.float64)
    if rrf:
        for i in range(n):
            out[i] = weight / (rrf_k + np.float64(i + 1))
        return out
    if n == 0:
        return out
    low = high = np.float64(scores[0])
    for i in range(1, n):
        low = min(low, np.float64(scores[i]))
        high = max(high, np.float64(scores[i]))
    for i in range(n):
        if high == low:
            scaled = 1.0
        else:
            scaled = (np.float64(scores[i]) - low) / (high - low)
            if not higher_is_better:
                scaled = 1.0 - scaled
        out[i] = weight * scaled
    return out


@njit(cache=True, nogil=True)
def fuse_rankings(keys_a: np.ndarray, scores_a: np.ndarray, weight_a: float,
                  higher_a: bool, keys_b: np.ndarray, scores_b: np.ndarray,
                  weight_b: float, higher_b: bool, rrf: bool, rrf_k: float, k: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`fuse_top_k` of two rankings weighed by `gains` (each with its weight and score
    direction): the whole fusion of a hybrid search in one call."""
    return fuse_top_k(keys_a, gains(scores_a, weight_a, rrf, rrf_k, higher_a),
                      keys_b, gains(scores_b, weight_b, rrf, rrf_k, higher_b), k)


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
