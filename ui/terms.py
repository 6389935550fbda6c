"""The words of a question that matter when matching it against passages by text.

Shared by highlighting and the extractive answer, so both agree on what "a word of the
question appears here" means. (Searching by words is the store's own text index.)
"""

import re

WORD = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")

_STOPWORDS = """a about above after all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just
    many may me more most much must my no nor not now of off on once only or other our ours
    out over own per same shall she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours get gets got give gives
    kind long tell please"""
STOPWORDS = frozenset(_STOPWORDS.split())

_SUFFIXES = (("ies", "y"), ("ions", ""), ("ion", ""), ("ings", ""), ("ing", ""), ("ed", ""),
             ("es", ""), ("s", ""), ("e", ""))
_MIN_STEM = 3


def stem(word: str) -> str:
    """A crude stem: lower case, one common ending cut (rotate, rotating, rotation -> rotat)."""
    word = word.lower()
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            if suffix == "s" and word.endswith("ss"):
                return word
            return word[: -len(suffix)] + replacement
    return word


def key_terms(text: str) -> set[str]:
    """Stems of the words of `text` that carry meaning: no stopwords, numbers kept."""
    words = WORD.findall(text)
    return {stem(w) for w in words if w.lower() not in STOPWORDS and (len(w) > 1 or w.isdigit())}
