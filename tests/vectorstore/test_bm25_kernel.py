"""The sealed term dictionary's lookup against a dict, and the sealed-segment BM25 kernel
against numpy brute force, on segments large enough for its
dense path to sample a starting cut (`_dense_top`), with and without kept impacts and
filters, including a segment built so that the sampled guess is too high."""

import numpy as np
import pytest

from vectorstore.arrayfile import pack_strings
from vectorstore.kernels.bm25 import (
    SAMPLE_ROWS,
    hash_terms,
    inverted_topk,
    lookup_terms,
    posting_impacts,
)
from vectorstore.text.postings import hash_directory

K1, B = 1.2, 0.75
EMPTY = np.zeros(0, dtype=np.float32)
NO_MASK = np.zeros(0, dtype=np.uint8)


def _segment(rng, n: int, terms: int):
    """Postings of `terms` terms over `n` rows (ascending rows per term), term frequencies,
    row lengths: as a sealed segment holds them."""
    docs, starts = [], [0]
    for t in range(terms):
        df = int(rng.integers(1, n // (1 + t % 4)))
        docs.append(np.sort(rng.choice(n, df, replace=False)).astype(np.uint32))
        starts.append(starts[-1] + df)
    docs = np.concatenate(docs)
    tfs = rng.integers(1, 6, docs.size).astype(np.float32)
    lengths = rng.uniform(5, 60, n).astype(np.float32)
    return docs, tfs, lengths, np.array(starts, dtype=np.int64)


def _brute(docs, tfs, lengths, ranges, weights, avgdl, mask):
    """Every row's BM25 score in float64, 0 for the rows `mask` leaves out."""
    scores = np.zeros(lengths.size)
    norm = K1 * (1 - B) + K1 * B * lengths.astype(np.float64) / avgdl
    for j in range(ranges.shape[1]):
        rows = docs[ranges[0, j]:ranges[1, j]]
        tf = tfs[ranges[0, j]:ranges[1, j]].astype(np.float64)
        scores[rows] += weights[j] * tf / (tf + norm[rows])
    if mask.size:
        scores[mask == 0] = 0
    return scores


def _check(found, dist, scores, k):
    """A top k of `scores`: as many rows as score above 0 (up to k), each with its score
    (float32 sums: within 1e-5), best first, rows ascending among equal scores; every row
    scoring clearly above the k-th is among them."""
    kept = found[found >= 0]
    assert kept.size == min(k, np.count_nonzero(scores))
    np.testing.assert_allclose(-dist[:kept.size], scores[kept], rtol=1e-5)
    for i in range(kept.size - 1):
        assert dist[i] < dist[i + 1] or (dist[i] == dist[i + 1] and kept[i] < kept[i + 1])
    if kept.size:
        kth = scores[kept].min()
        assert set(np.flatnonzero(scores > kth * (1 + 1e-5)).tolist()) <= set(kept.tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_top_k_is_the_brute_force_top_k(seed):
    rng = np.random.default_rng(seed)
    n = 5 * SAMPLE_ROWS + 123  # a sampled guess, and a last partial block
    docs, tfs, lengths, starts = _segment(rng, n, 40)
    avgdl = float(lengths.mean())
    impacts = posting_impacts(docs, tfs, lengths, K1, B, avgdl)
    for _ in range(4):
        query = rng.choice(40, int(rng.integers(2, 12)), replace=False)
        ranges = np.ascontiguousarray(np.stack([starts[query], starts[query + 1]]))
        weights = rng.uniform(0.1, 4, query.size)
        for mask in (NO_MASK, (rng.random(n) < 0.5).astype(np.uint8),
                     (rng.random(n) < 0.002).astype(np.uint8)):
            scores = _brute(docs, tfs, lengths, ranges, weights, avgdl, mask)
            for k in (1, 10, 50, 1000):
                for kept in (impacts, EMPTY):
                    found, dist = inverted_topk(docs, tfs, lengths, ranges, weights, K1, B,
                                                avgdl, kept, mask, k)
                    _check(found, dist, scores, k)


def test_a_sampled_guess_too_high_falls_back_to_an_exact_scan():
    """The sampled rows alone hold the high scores: fewer than k rows reach the guess,
    so the scan starts again from 0 and still returns the exact top k."""
    n = 4 * SAMPLE_ROWS
    step = n // SAMPLE_ROWS
    k = 50
    high = np.arange(0, 40 * step, step, dtype=np.uint32)  # 40 sampled rows, < k
    low = np.setdiff1d(np.arange(n, dtype=np.uint32), high)
    docs = np.concatenate([high, low])
    tfs = np.ones(docs.size, dtype=np.float32)
    lengths = np.full(n, 10.0, dtype=np.float32)
    ranges = np.array([[0, high.size], [high.size, docs.size]], dtype=np.int64)
    weights = np.array([5.0, 1.0])
    scores = _brute(docs, tfs, lengths, ranges, weights, 10.0, NO_MASK)
    found, dist = inverted_topk(docs, tfs, lengths, ranges, weights, K1, B, 10.0, EMPTY,
                                NO_MASK, k)
    _check(found, dist, scores, k)
    assert set(found[:40].tolist()) == set(high.tolist())
    assert set(found[40:].tolist()) <= set(low.tolist())  # any of the tied rows


def _lookup(terms: list[bytes], hashes: np.ndarray, query: list[bytes],
            q_hashes: np.ndarray) -> np.ndarray:
    """`lookup_terms` over a dictionary of `terms` (their `hashes` sorted ascending) where
    term t holds postings 10 * t : 10 * t + 10."""
    blob, offsets = pack_strings(terms)
    starts = np.arange(0, 10 * len(terms) + 1, 10, dtype=np.int64)
    q_blob, q_offsets = pack_strings(query)
    directory, shift = hash_directory(hashes)
    return lookup_terms(hashes, directory, shift, offsets, blob, starts, q_hashes, q_offsets,
                        q_blob)


def test_term_lookup_tells_colliding_hashes_apart_by_their_bytes():
    terms = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon"]
    hashes = np.array([5, 9, 9, 9, 2**63 + 7], dtype=np.uint64)  # sorted; three collide
    query = [b"gamma", b"zeta", b"alpha", b"omega", b"epsilon", b"delta"]
    q_hashes = np.array([9, 9, 5, 6, 2**63 + 7, 9], dtype=np.uint64)
    ranges = _lookup(terms, hashes, query, q_hashes)
    assert ranges.T.tolist() == [[20, 30], [0, 0], [0, 10], [0, 0], [40, 50], [30, 40]]


@pytest.mark.parametrize("n", [0, 1, 7, 50_000])
def test_term_lookup_finds_every_term_of_a_dictionary_and_no_other(n):
    rng = np.random.default_rng(n)
    words = [f"w{i}-{rng.integers(1 << 30)}".encode() for i in range(n + 100)]
    hashes = hash_terms(*pack_strings(words))
    order = np.argsort(hashes[:n], kind="stable")
    terms, sorted_hashes = [words[i] for i in order.tolist()], hashes[:n][order]
    asked = rng.choice(n + 100, min(n + 100, 300), replace=False)
    ranges = _lookup(terms, sorted_hashes, [words[i] for i in asked], hashes[asked])
    position = {t: i for i, t in enumerate(terms)}
    for j, i in enumerate(asked.tolist()):
        if words[i] in position:
            t = position[words[i]]
            assert ranges[:, j].tolist() == [10 * t, 10 * t + 10]
        else:
            assert ranges[0, j] == ranges[1, j]
