"""Search modes: how the page turns the API's nearest chunks into the passages it shows.

The API searches by meaning only. "Hybrid" and "One per document" ask it for more
candidates and re-rank or thin them here: hybrid adds a keyword score (the share of the
question's key terms a passage holds), and one-per-document keeps each document's best
passage so that one long document cannot fill the whole list.
"""

from collections.abc import Sequence

from app.schemas.search import Hit
from ui.terms import key_terms

SEMANTIC, HYBRID, PER_DOCUMENT = "Semantic", "Hybrid", "One per document"
MODES = (SEMANTIC, HYBRID, PER_DOCUMENT)

CANDIDATES_PER_RESULT = 4
MAX_CANDIDATES = 100
KEYWORD_WEIGHT = 0.3


def candidates(mode: str, k: int) -> int:
    """How many chunks to ask the API for to show `k` passages in `mode`."""
    return k if mode == SEMANTIC else min(MAX_CANDIDATES, max(k, CANDIDATES_PER_RESULT * k))


def rerank(mode: str, question: str, hits: Sequence[Hit], k: int) -> list[Hit]:
    """The `k` passages to show, best first, from the API's hits for `question`."""
    if mode == HYBRID:
        wanted = key_terms(question)

        def combined(hit: Hit) -> float:
            found = key_terms(hit.text or "")
            keyword = len(wanted & found) / len(wanted) if wanted else 0.0
            return (1 - KEYWORD_WEIGHT) * hit.score + KEYWORD_WEIGHT * keyword

        return sorted(hits, key=combined, reverse=True)[:k]
    if mode == PER_DOCUMENT:
        best: dict[str | None, Hit] = {}
        for hit in hits:
            best.setdefault(hit.document_id or hit.id, hit)
        return list(best.values())[:k]
    return list(hits[:k])
