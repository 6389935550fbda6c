"""A short extractive answer: the sentences of the top passages that best match the question.

No model involved: sentences are ranked by how many of the question's key terms they hold,
then by how dense those are (with a small bonus for a higher-ranked passage); those with
less than half the best sentence's matching terms are dropped, and so are near-duplicates from
overlapping chunks are dropped, and each kept sentence carries the number of its passage,
which the page turns into a citation link.
"""

import math
import re
from dataclasses import dataclass

from ui.terms import key_terms

TOP_PASSAGES = 3
MAX_SENTENCES = 3

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_HEADING_LINE = 70
"""A line shorter than this, without closing punctuation, is taken for a heading."""


@dataclass(frozen=True)
class Sentence:
    """One sentence of the answer and the 1-based number of the passage it comes from."""

    text: str
    passage: int


def sentences(text: str) -> list[str]:
    """The sentences of a passage: headings and list items apart, wrapped lines joined."""
    pieces: list[str] = []
    paragraph: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        is_item = bool(_LIST_ITEM.match(line))
        is_heading = line and len(line) < _HEADING_LINE and not line.endswith((".", ",", ";", ":"))
        if not line or is_item or is_heading:
            pieces.append(" ".join(paragraph))
            paragraph = []
        if is_item:
            pieces.append(_LIST_ITEM.sub("", line))
        elif line and not is_heading:
            paragraph.append(line)
    pieces.append(" ".join(paragraph))
    return [s.strip() for piece in pieces for s in _SENTENCE_END.split(piece) if s.strip()]


def extractive_answer(question: str, passages: list[str]) -> list[Sentence]:
    """Up to MAX_SENTENCES sentences answering `question`, best first, each with its source.

    Empty when no sentence shares a key term with the question: the passages may still be
    the nearest in meaning, but none of their sentences can be quoted as the answer.
    """
    wanted = key_terms(question)
    candidates: list[tuple[int, float, int, Sentence]] = []
    for rank, passage in enumerate(passages[:TOP_PASSAGES]):
        for order, text in enumerate(sentences(passage)):
            found = key_terms(text)
            overlap = len(wanted & found)
            if overlap:
                score = overlap / math.sqrt(len(found) + 1) - 0.05 * rank
                candidates.append((overlap, score, -order, Sentence(text, rank + 1)))
    best = max((c[0] for c in candidates), default=0)
    strong = sorted((c for c in candidates if 2 * c[0] >= best), key=lambda c: c[:3], reverse=True)
    chosen: list[Sentence] = []
    for *_, sentence in strong:
        if not any(_same(sentence.text, c.text) for c in chosen):
            chosen.append(sentence)
        if len(chosen) == MAX_SENTENCES:
            break
    return chosen


def _same(a: str, b: str) -> bool:
    """Whether two sentences are the same text, as overlapping chunks repeat sentences."""
    return a in b or b in a
