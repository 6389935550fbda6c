"""A short extractive answer: the sentences of the top passages that answer the question.

Sentences are chosen by meaning: the server's embedding model scores every sentence of the
top passages against the question (`/v1/similarity`). The question's words add exact-term
evidence: a sentence holding the question's rarer terms (numbers, names) gains over one that
only paraphrases its topic, and a passage the store's text index also ranked gains a
little. The best sentence is the answer when its score clears a threshold; up to two more
follow when they score nearly as well and say something else. Sentences are quoted
verbatim, so numbers, dates and names come from the cited passage as written. Below the
threshold there is no answer, and the page says so.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.client import SleuthClient
from app.schemas.search import Hit
from ui.terms import key_terms

TOP_PASSAGES = 3
MAX_SENTENCES = 3
MIN_WORDS = 3
"""Shorter pieces (labels, fragments) are no answer on their own."""

TERM_WEIGHT = 0.3
"""Weight of the question's terms a sentence holds (their idf share, 0..1) next to its
cosine similarity to the question (-1..1)."""
TEXT_INDEX_BONUS = 0.03
"""For a sentence of a passage the text index ranked too (exact words matched)."""
RANK_PENALTY = 0.02
"""Per place a passage stands below the first: ties go to the better passage."""
NUMBER_BONUS = 0.15
"""For a sentence stating a number the question names, or a range holding it."""
QUANTITY_BONUS = 0.1
"""For a sentence holding a number when the question asks how many, much, long or when."""
CONFIDENT = 0.45
"""Least score of an answer: below it no sentence is taken to answer the question."""
MARGIN = 0.08
"""Further sentences are kept when they score within this of the best."""

_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_NUMBERS = re.compile(_NUMBER)
_RANGE = re.compile(rf"(?:from|between)?\s*\$?({_NUMBER})\s*(?:to|and|-|\u2013)\s*\$?({_NUMBER})",
                    re.IGNORECASE)
_QUANTITY = re.compile(
    r"\b(?:how (?:many|much|long|often|fast|soon|quickly|far|old|big|large|high|low)|when|"
    r"what (?:is |are )?(?:the )?(?:number|amount|cost|price|percentage|date|time|limit|cap))\b",
    re.IGNORECASE,
)
_AT_LEAST = re.compile(rf"\b(?:above|over|more than|at least|from)\s*\$?({_NUMBER})", re.IGNORECASE)
_AT_MOST = re.compile(rf"\b(?:up to|under|below|less than|at most)\s*\$?({_NUMBER})", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_HEADING_LINE = 70
"""A line shorter than this, without closing punctuation, is taken for a heading."""


@dataclass(frozen=True)
class Sentence:
    """One sentence of the answer, the 1-based number of its passage, and its score."""

    text: str
    passage: int
    score: float = 0.0


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


def candidates(hits: Sequence[Hit]) -> list[Sentence]:
    """The sentences of the top passages worth scoring, each once (overlapping chunks
    repeat sentences: the first passage holding one keeps it)."""
    found: list[Sentence] = []
    for rank, hit in enumerate(hits[:TOP_PASSAGES]):
        for text in sentences(hit.text or ""):
            if len(text.split()) >= MIN_WORDS and not any(_same(text, s.text) for s in found):
                found.append(Sentence(text, rank + 1))
    return found


def numbers(text: str) -> set[float]:
    """The numbers written in `text` ("$3,000" is 3000.0)."""
    return {_value(n) for n in _NUMBERS.findall(text)}


def _value(number: str) -> float:
    return float(number.replace(",", ""))


def bracketed(number: float, text: str) -> bool:
    """Whether `text` states `number` or a range holding it: "from $500 to $5,000",
    "above $5,000", "up to $500"."""
    if number in numbers(text):
        return True
    closed = _RANGE.findall(text)
    if closed:
        return any(_value(a) <= number <= _value(b) for a, b in closed)
    return (any(_value(a) < number for a in _AT_LEAST.findall(text))
            or any(number <= _value(b) for b in _AT_MOST.findall(text)))


def term_evidence(question: str, texts: Sequence[str]) -> list[float]:
    """For each text, the share of the question's key terms it holds, each term weighted
    by its rarity among `texts` (idf), so a term every candidate has counts for little.
    Numbers are left to `number_bonus`: "$3,000" is no word."""
    wanted = {w for w in key_terms(question) if not w.isdigit()}
    held = [key_terms(t) & wanted for t in texts]
    weight = {w: math.log(1 + len(texts) / (1 + sum(w in h for h in held))) for w in wanted}
    total = sum(weight.values())
    return [sum(weight[w] for w in h) / total if total else 0.0 for h in held]


def number_bonus(question: str, text: str) -> float:
    """NUMBER_BONUS when `text` states a number of the question, or a range holding it:
    "Who signs off a $3,000 expense?" is answered by "From $500 to $5,000: ..."."""
    return NUMBER_BONUS if any(bracketed(n, text) for n in numbers(question)) else 0.0


def quantity_bonus(question: str, text: str) -> float:
    """QUANTITY_BONUS when the question asks for an amount, a time or a date and `text`
    holds a number: a sentence without one cannot say how many."""
    return QUANTITY_BONUS if _QUANTITY.search(question) and _NUMBERS.search(text) else 0.0


def ranked(client: SleuthClient, question: str, hits: Sequence[Hit]) -> list[Sentence]:
    """Every candidate sentence of `hits` with its score, best first (see the module's
    docstring); the meaning part is scored by the API, whose errors propagate."""
    found = candidates(hits)
    if not found:
        return []
    texts = [s.text for s in found]
    meaning = client.similarity(question, texts).scores
    terms = term_evidence(question, texts)
    scored = [
        Sentence(s.text, s.passage, m + TERM_WEIGHT * t + number_bonus(question, s.text)
                 + quantity_bonus(question, s.text)
                 + TEXT_INDEX_BONUS * (hits[s.passage - 1].text_rank is not None)
                 - RANK_PENALTY * (s.passage - 1))
        for s, m, t in zip(found, meaning, terms, strict=True)
    ]
    return sorted(scored, key=lambda s: s.score, reverse=True)


def extractive_answer(client: SleuthClient, question: str, hits: Sequence[Hit]) -> list[Sentence]:
    """Up to MAX_SENTENCES sentences answering `question` from `hits`, best first.

    Empty when no sentence scores CONFIDENT: the passages may still be the nearest in
    meaning, but none of their sentences is a confident answer.
    """
    scored = ranked(client, question, hits)
    if not scored or scored[0].score < CONFIDENT:
        return []
    return [s for s in scored if s.score >= scored[0].score - MARGIN][:MAX_SENTENCES]


def _same(a: str, b: str) -> bool:
    """Whether two sentences are the same text, as overlapping chunks repeat sentences."""
    return a in b or b in a
