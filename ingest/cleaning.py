"""Clean extracted text as a reader sees it: what the embedder and the page both get.

`clean_text` applies, in order: the form-feed and other control bytes that some PDF fonts
(TeX's OT1 encoding) produce for the ff/fi/fl/ffi/ffl ligature glyphs turned back into the
letters; Unicode NFKC (ligature characters such as "ﬁ" become "fi", full-width forms and
no-break spaces their plain forms); soft hyphens dropped; words hyphenated across a line
end re-joined; remaining control and invisible format characters removed; spaces and
blank lines normalised. The result is the document's text: block and chunk offsets point
into it, so what a citation shows is what was embedded.

`running_lines` finds a PDF's running headers and footers: lines at the top or bottom of
most pages that are the same once their digits are masked ("Page 3 of 4",
"Employee Handbook 2024", a bare page number), for the loader to drop.
"""

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

# In TeX's OT1 text encoding the ligature glyphs sit at codes 11-15; a PDF whose font has
# no Unicode map for them extracts those bytes. Only taken as letters next to a letter;
# code 13 (fl) is a carriage return too, and is left to be read as a line end.
_OT1_LIGATURES = {"\x0b": "ff", "\x0c": "fi", "\x0e": "ffi", "\x0f": "ffl"}
_LIGATURE_BYTE = re.compile(r"(?<=[^\W\d_])[\x0b\x0c\x0e\x0f]|[\x0b\x0c\x0e\x0f](?=[^\W\d_])")
_SOFT_HYPHEN = "\u00ad"
_LINE_END_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u2010]\n[ \t]*(?=[a-z])")
"""A hyphen ending a line between a letter and a lower-case letter: a word cut in two."""
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
"""Control characters but tab and newline, zero-width spaces and joiners, BOM."""
_SPACES = re.compile(r"[^\S\n]+")
_TRAILING = re.compile(r" +\n| +$")
_BLANK_LINES = re.compile(r"\n(?: *\n)+")

MIN_PAGES = 3
"""Fewer pages than this have no running header or footer to tell from text."""
RUNNING_SHARE = 0.5
"""A line is running when its masked form sits at the edge of more than this share of pages."""
EDGE_LINES = 2
"""How many lines at the top and the bottom of a page may be running."""
_DIGITS = re.compile(r"\d+")
_ROMAN_PAGE = re.compile(r"^[ivxlc]+$", re.IGNORECASE)


def clean_text(text: str) -> str:
    """`text` cleaned as the module says: the text a chunk shows and the model embeds."""
    text = _LIGATURE_BYTE.sub(lambda m: _OT1_LIGATURES[m.group()], text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKC", text)
    text = text.replace(_SOFT_HYPHEN + "\n", "").replace(_SOFT_HYPHEN, "")
    text = _LINE_END_HYPHEN.sub("", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub(lambda m: "\n" if m.group().endswith("\n") else "", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.lstrip(" ") for line in text.split("\n")).strip()


def _mask(line: str) -> str:
    """A line's form with its numbers masked, for comparing across pages."""
    line = " ".join(line.split()).casefold()
    return "#" if _ROMAN_PAGE.match(line) else _DIGITS.sub("#", line)


def running_lines(pages: Sequence[str]) -> set[str]:
    """The masked forms (see `_mask`) of lines that run at the top or bottom of most of
    `pages` (texts, one per page), to drop with `drop_running`."""
    if len(pages) < MIN_PAGES:
        return set()
    seen: Counter[str] = Counter()
    for text in pages:
        seen.update({_mask(line) for line in _edges(text) if line.strip()})
    return {mask for mask, n in seen.items() if n > RUNNING_SHARE * len(pages)}


def _edges(text: str) -> list[str]:
    lines = [line for line in text.split("\n") if line.strip()]
    return lines[:EDGE_LINES] + lines[EDGE_LINES:][-EDGE_LINES:]


def drop_running(text: str, running: set[str]) -> str:
    """`text` (one page) without its running lines: those in its top and bottom
    `EDGE_LINES` whose masked form is in `running`."""
    if not running:
        return text
    lines = text.split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    edges = set(filled[:EDGE_LINES] + filled[EDGE_LINES:][-EDGE_LINES:])
    return "\n".join(line for i, line in enumerate(lines)
                     if i not in edges or _mask(line) not in running)
