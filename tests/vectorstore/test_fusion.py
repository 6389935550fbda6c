"""Fusing two rankings: reciprocal rank fusion and the normalised-score blend, by hand."""

import numpy as np
import pytest

from vectorstore.fusion import Fusion, Ranked, fuse


def ranked(keys, scores, higher_is_better=True) -> Ranked:
    return Ranked(np.array(keys, np.int64), np.array(scores, np.float32), higher_is_better)


VECTOR = ranked([7, 3, 5], [0.9, 0.8, 0.1])
TEXT = ranked([5, 9], [12.0, 3.0])


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = fuse(VECTOR, TEXT, Fusion(rrf_k=10, text_weight=2.0), k=10)
    expected = {7: 1 / 11, 3: 1 / 12, 5: 1 / 13 + 2 / 11, 9: 2 / 12}
    assert fused.keys.tolist() == [5, 9, 7, 3]
    assert fused.scores.tolist() == pytest.approx([expected[k] for k in fused.keys.tolist()])
    assert fused.vector_pos.tolist() == [2, -1, 0, 1]
    assert fused.text_pos.tolist() == [0, 1, -1, -1]


def test_blend_sums_weighted_min_max_scores():
    fused = fuse(VECTOR, TEXT, Fusion(method="blend", vector_weight=1.0, text_weight=0.5), k=3)
    # vector: 7 -> 1, 3 -> 0.875, 5 -> 0; text: 5 -> 1, 9 -> 0
    assert fused.keys.tolist() == [7, 3, 5]
    assert fused.scores.tolist() == pytest.approx([1.0, 0.875, 0.5])


def test_blend_turns_distances_around_and_a_single_candidate_counts_fully():
    distances = ranked([1, 2, 3], [0.5, 1.0, 2.5], higher_is_better=False)
    fused = fuse(distances, ranked([4], [1.0]), Fusion(method="blend", text_weight=1.0), k=4)
    assert dict(zip(fused.keys.tolist(), fused.scores.tolist(), strict=True)) == \
        pytest.approx({1: 1.0, 2: 0.75, 3: 0.0, 4: 1.0})


def test_ties_go_to_the_better_rank_then_the_smaller_key():
    even = Fusion(text_weight=1.0)
    fused = fuse(ranked([4, 8], [1, 0.5]), ranked([8, 4], [2, 1]), even, k=2)
    assert fused.keys.tolist() == [4, 8]  # equal sums; 4 is first in the vector ranking
    fused = fuse(ranked([6], [1]), ranked([2], [1]), even, k=2)
    assert fused.keys.tolist() == [2, 6]


def test_coverage_scales_the_text_weight_unless_turned_off():
    text = Ranked(np.array([9], np.int64), np.array([3.0], np.float32), coverage=0.25)
    fused = fuse(ranked([7], [0.9]), text, Fusion(rrf_k=20, text_weight=2.0), k=2)
    assert fused.keys.tolist() == [7, 9]
    assert fused.scores.tolist() == pytest.approx([1 / 21, 0.5 / 21])
    fused = fuse(ranked([7], [0.9]), text, Fusion(coverage=False), k=2)
    assert fused.keys.tolist() == [9, 7]


def test_empty_rankings_and_k():
    empty = ranked([], [])
    assert fuse(empty, empty, Fusion(), k=5).keys.tolist() == []
    assert fuse(VECTOR, empty, Fusion(), k=2).keys.tolist() == [7, 3]
    assert fuse(empty, TEXT, Fusion(method="blend"), k=5).keys.tolist() == [5, 9]


def _by_hand(vector: Ranked, text: Ranked, fusion: Fusion, k: int) -> list[tuple]:
    """RRF in plain Python: (key, score, vector position, text position), best first."""
    weights = {"v": fusion.vector_weight, "t": fusion.text_weight * text.coverage}
    found: dict[int, dict] = {}
    for name, ranking in (("v", vector), ("t", text)):
        for pos, key in enumerate(ranking.keys.tolist()):
            entry = found.setdefault(key, {"score": 0.0, "v": -1, "t": -1})
            entry["score"] += weights[name] / (fusion.rrf_k + pos + 1)
            entry[name] = pos
    def first(e: dict) -> int:
        return min(p for p in (e["v"], e["t"]) if p >= 0)
    order = sorted(found, key=lambda key: (-found[key]["score"], first(found[key]), key))
    return [(key, found[key]["score"], found[key]["v"], found[key]["t"]) for key in order[:k]]


def test_random_rankings_fuse_as_by_hand():
    rng = np.random.default_rng(7)
    fusion = Fusion(text_weight=1.0, rrf_k=3)  # equal weights and a small rrf_k: many ties
    for _ in range(300):
        keys = [rng.choice(40, rng.integers(0, 25), replace=False) for _ in range(2)]
        vector = ranked(keys[0], np.linspace(1, 0, keys[0].size))
        text = Ranked(np.array(keys[1], np.int64), np.linspace(9, 1, keys[1].size),
                      coverage=float(rng.choice([1.0, 0.5])))
        k = int(rng.integers(1, 30))
        fused = fuse(vector, text, fusion, k)
        want = _by_hand(vector, text, fusion, k)
        assert fused.keys.tolist() == [w[0] for w in want]
        assert fused.scores.tolist() == pytest.approx([w[1] for w in want])
        assert fused.vector_pos.tolist() == [w[2] for w in want]
        assert fused.text_pos.tolist() == [w[3] for w in want]
