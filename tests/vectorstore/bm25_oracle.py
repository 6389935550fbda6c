"""A plain-Python BM25F twin of the text index, written independently of the store: the
test oracle for text search.

It takes its tokens from the store's analyzer (tested on its own in test_analyzer.py): each
term with the weight it counts for in a document (1, or `part_weight` for a compound's
parts; a query counts every term once); and
recomputes everything else from the live records on every call: field-weighted term
counts and lengths, document frequencies, Lucene's idf, and the scores.
"""

import math
from typing import Any

from . import oracle

TOLERANCE = 1e-4


def _field(payload: dict[str, Any], path: str) -> str:
    node: Any = payload
    for name in path.split("."):
        if not isinstance(node, dict) or name not in node:
            return ""
        node = node[name]
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " ".join(v for v in node if isinstance(v, str))
    return ""


def _document(payload: dict[str, Any], config: Any, analyzer: Any
              ) -> tuple[dict[str, float], float]:
    counts: dict[str, float] = {}
    length = 0.0
    for name, weight in config.fields:
        for term, counts_for in analyzer.weighted_terms(_field(payload, name)):
            length += weight * counts_for
            counts[term] = counts.get(term, 0.0) + weight * counts_for
    return counts, length


def search(payloads: dict[str, dict[str, Any]], query: str, config: Any, analyzer: Any,
           where: dict[str, Any] | None) -> list[tuple[str, float]]:
    """Every live record matching `where` that holds a query term, with its BM25F score,
    best first."""
    docs = {rid: _document(p, config, analyzer) for rid, p in payloads.items()}
    n = len(docs)
    if n == 0:
        return []
    avgdl = sum(length for _, length in docs.values()) / n
    query_terms: dict[str, float] = {}
    for term in analyzer.terms(query):
        query_terms[term] = query_terms.get(term, 0.0) + 1
    scored = []
    for rid, (counts, length) in docs.items():
        if not oracle.matches(payloads[rid], where):
            continue
        score = 0.0
        for term, times in query_terms.items():
            tf = counts.get(term, 0.0)
            if tf == 0:
                continue
            df = sum(1 for c, _ in docs.values() if c.get(term, 0.0) > 0)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            norm = config.k1 * (1 - config.b + config.b * length / avgdl)
            score += times * idf * tf / (tf + norm)
        if score > 0:
            scored.append((rid, score))
    scored.sort(key=lambda item: -item[1])
    return scored


def assert_same_top_k(hits: list[Any], expected: list[tuple[str, float]], k: int) -> None:
    """The hits are the oracle's top k: as many, each with its oracle score (within
    TOLERANCE), best first; only records tied with the k-th may stand in for each other."""
    want = dict(expected)
    assert len(hits) == min(k, len(expected)), (hits, expected[:k])
    for hit in hits:
        assert hit.id in want, (hit.id, expected[:k])
        assert math.isclose(hit.score, want[hit.id], rel_tol=TOLERANCE, abs_tol=TOLERANCE), \
            (hit.id, hit.score, want[hit.id])
    scores = [hit.score for hit in hits]
    assert all(a >= b - TOLERANCE for a, b in zip(scores, scores[1:], strict=False))
    if hits:
        kth = expected[len(hits) - 1][1]
        must = {rid for rid, score in expected if score > kth + TOLERANCE}
        assert must <= {hit.id for hit in hits}, (must, hits)
