"""Text to terms: Unicode word tokens, lower case, stopwords, Snowball stemming, and
code-aware tokens.

A token is a run of letters and digits, possibly joined to more runs by `_ . - : /`
(`pg_stat_activity`, `os.path.join`, `v1.2.3`, `sphinx-build`) and possibly prefixed
by the dashes of a command-line option (`--max-connections`, `-b`). A plain word is
lower-cased, dropped if it is a stopword or a single letter, and stemmed unless it holds
a digit. A compound token, or a camelCase one (`getElementById`), is indexed whole (lower
case, unstemmed, so an exact identifier matches exactly) and as its parts, each treated
as a plain word (`os.path.join` -> `os.path.join`, `os`, `path`, `join`); letters and
digits in one case (`4KB`, `I2C`) are one word, alone or in a compound. Numbers are
words too: `SQLSTATE 23505` gives `sqlstate`, `23505`.

Documents and queries go through the same analysis of each run (`Analyzer.analysed`), so
a query finds what was indexed.
"""

import re
import threading
from collections import Counter
from collections.abc import Collection, Iterator
from itertools import chain
from operator import itemgetter
from typing import Any

import Stemmer

from ..config import TextConfig

RUN = re.compile(r"[\w.:/'\u2019-]+")
"""A raw token: a run of word characters, joiners `_ . - : /` and apostrophes. Runs are
trimmed and split by `_analyse`, once per distinct run (the regex stays a plain scan)."""
_OPTION = re.compile(r"--?(?=[^\W\d_])")
_JOINERS = re.compile(r"[_.\-:/]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_DIGIT = re.compile(r"\d")
_EDGES = ".:/'\u2019-"
Analysed = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
"""A raw run's terms: (the terms that count fully, the compound parts, both in order)."""
NOTHING: Analysed = ((), (), ())
MAX_WHOLE = 64
"""Longer compounds (URLs, hashes, blobs) are indexed by their parts only."""
_CACHE_LIMIT = 1 << 18


def _mixed_case(piece: str) -> bool:
    return not (piece.islower() or piece.isupper())


def field_text(payload: dict[str, Any], path: str) -> str:
    """The text of a payload field at a dotted path: a string as is, the string elements
    of a list joined by spaces, anything else (or a missing path) empty."""
    node: Any = payload
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " ".join(item for item in node if isinstance(item, str))
    return ""


class Analyzer:
    """Turns text into index terms for one `TextConfig`; safe to share between threads.

    Each distinct raw token is analysed once and remembered (up to a bound), so the cost
    per token of a query is one regex match and one dictionary lookup; documents are
    analysed in batches through a segment's `runs.RunTable`, which fills the same cache
    (the words of queries are mostly the words of the documents).
    """

    def __init__(self, config: TextConfig) -> None:
        self.config = config
        self._stopwords = frozenset(config.stopwords)
        self._local = threading.local()
        self._cache: dict[str, Analysed] = {}

    def _stemmer(self) -> Any:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:  # a PyStemmer object must not be shared between threads
            stemmer = self._local.stemmer = Stemmer.Stemmer(self.config.language)
        return stemmer

    def _word(self, raw: str) -> str | None:
        """A plain run's one word, lower-cased; None when the run needs `_split`. Plain:
        letters and digits between edge punctuation (`marked.`), in one case or without
        camelCase humps."""
        if raw[0] == "-":
            return None
        core = raw.strip(_EDGES)
        if core.isalnum() and (core.islower() or core.isupper() or not _CAMEL.search(core)):
            return core.lower()
        return None

    def _split(self, raw: str) -> tuple[str | None, tuple[str, ...]]:
        """A run's whole token (None if it is one word after all) and its words,
        lower-cased.

        A piece of letters and digits is split at camelCase humps only when it mixes
        cases (`getElementById`, `HTTPServer`); `4KB`, `I2C` and `ipv6` stay one word,
        alone or inside a compound (`4KB.`, `I2C_BUS`)."""
        option = _OPTION.match(raw)
        prefix = option.group() if option else ""
        core = raw[len(prefix):].strip(_EDGES)
        pieces = [p.strip("'\u2019") for piece in _JOINERS.split(core) if piece
                  for p in (_CAMEL.split(piece) if _mixed_case(piece) else (piece,)) if p]
        words = tuple(p.lower().replace("\u2019", "'") for p in pieces if p)
        if not prefix and len(pieces) == 1 and pieces[0] == core:
            return None, words
        whole = (prefix + core).lower()
        return (whole if len(whole) <= MAX_WHOLE and core else None), words

    def _analyse(self, raws: Collection[str]) -> dict[str, Analysed]:
        """The terms of each distinct raw run: its whole token (compounds only) and its
        words that are neither stopwords nor single letters, stemmed unless they hold a
        digit; a compound's words are its parts, a plain word is its own term.

        Every result is made of tuples of strings, which Python's garbage collector stops
        tracking at its first pass: lists (or tuples holding them) it would promote and
        walk again in every full collection, which at index time cost more than the
        analysis itself."""
        plain = {raw: word for raw in raws if (word := self._word(raw)) is not None}
        split = {raw: self._split(raw) for raw in raws if raw not in plain}
        stop = self._stopwords
        words = set(plain.values()).union(*(words for _, words in split.values()))
        kept = [w for w in words if w not in stop and (len(w) > 1 or w.isdigit())]
        terms = dict(zip(kept, kept, strict=True))
        if self.config.language:
            stemmed = [w for w in kept if not _DIGIT.search(w)]
            terms.update(zip(stemmed, self._stemmer().stemWords(stemmed), strict=True))
        single = {w: ((t,), (), (t,)) for w, t in terms.items()}
        out = {raw: single.get(word, NOTHING) for raw, word in plain.items()}
        for raw, (whole, parts) in split.items():
            found = tuple(terms[w] for w in parts if w in terms)
            out[raw] = ((whole,), found, (whole, *found)) if whole else (found, (), found)
        return out

    def analysed(self, raws: list[str]) -> list[Analysed]:
        """The analysis of each raw run (`RUN`'s matches), from the cache where it can."""
        cache = self._cache
        found = list(map(cache.get, raws))
        if None in found:
            fresh = self._analyse(set(raws).difference(cache))
            if len(cache) < _CACHE_LIMIT:  # entries are never removed: no reader misses
                cache.update(fresh)
                found = list(map(cache.__getitem__, raws))
            else:
                found = [fresh[r] if f is None else f for f, r in zip(found, raws, strict=True)]
        return found

    def terms(self, text: str) -> list[str]:
        """The index terms of `text`, in order, with repeats (compound parts included)."""
        return list(self._query_terms(RUN.findall(text)))

    def weighted_terms(self, text: str) -> list[tuple[str, float]]:
        """The index terms of `text` with the weight each counts for in a document: 1, or
        `part_weight` for the parts of a compound token."""
        part = self.config.part_weight
        return [pair for main, parts, _ in self.analysed(RUN.findall(text))
                for pair in (*((t, 1.0) for t in main), *((t, part) for t in parts))]

    def query(self, text: str) -> tuple[int, Counter[str]]:
        """A query's number of raw tokens (what its length is limited by) and its terms
        with how often each occurs, in order of first occurrence: in a query a
        compound's parts count fully (measured better on the quality set than weighing
        them as in documents)."""
        raws = RUN.findall(text)
        return len(raws), Counter(self._query_terms(raws))

    def _query_terms(self, raws: list[str]) -> Iterator[str]:
        return chain.from_iterable(map(itemgetter(2), self.analysed(raws)))
