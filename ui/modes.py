"""Search modes: which of the API's searches the page asks for, and how it thins them.

"Hybrid" (the default), "Semantic" and "Keyword" are the API's own modes: the store fuses
meaning and words itself (hybrid), or searches by one of them. "Hybrid" sends no mode, so a
collection without a text index, or a question of stopwords only, is searched by meaning as
the API's default does. "One per document" asks the hybrid search for more passages and
keeps each document's best, so that one long document cannot fill the whole list.
"""

from collections.abc import Sequence

from app.schemas.search import Hit

HYBRID, SEMANTIC, KEYWORD, PER_DOCUMENT = "Hybrid", "Semantic", "Keyword", "One per document"
MODES = (HYBRID, SEMANTIC, KEYWORD, PER_DOCUMENT)
HELP = ("Hybrid: meaning and the question's words, fused by the store. Semantic: meaning "
        "only. Keyword: the words only (BM25). One per document: hybrid, the best passage "
        "of each document.")
API_MODES = {HYBRID: None, SEMANTIC: "vector", KEYWORD: "text", PER_DOCUMENT: None}

CANDIDATES_PER_RESULT = 4
MAX_CANDIDATES = 100


def candidates(mode: str, k: int) -> int:
    """How many chunks to ask the API for to show `k` passages in `mode`."""
    if mode != PER_DOCUMENT:
        return k
    return min(MAX_CANDIDATES, max(k, CANDIDATES_PER_RESULT * k))


def thin(mode: str, hits: Sequence[Hit], k: int) -> list[Hit]:
    """The `k` passages to show, best first, from the API's hits."""
    if mode == PER_DOCUMENT:
        best: dict[str | None, Hit] = {}
        for hit in hits:
            best.setdefault(hit.document_id or hit.id, hit)
        return list(best.values())[:k]
    return list(hits[:k])
