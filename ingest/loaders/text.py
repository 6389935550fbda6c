"""Plain text: decoded as UTF-8 when it is, else as the encoding charset-normalizer finds.

The text is cleaned (`ingest.cleaning`) and read in pieces that end at blank lines, so
paragraphs (blank-line separated) are what chunking cuts at. A first line that reads as a
title (short, no sentence punctuation at its end, followed by a blank line or an underline)
is the document's title, else the file name is. A memo-style header (`Author: ...` and
`Date: ...` lines in the first paragraph, as under an underlined title) gives the
document's author and date.
"""

import codecs
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import charset_normalizer

from ingest.blocks import Block, LoadedDocument, bounded_blocks
from ingest.cleaning import clean_text
from ingest.errors import LoadError
from ingest.filetype import TEXT
from ingest.limits import DEFAULT_LIMITS, Limits, check_text_file
from ingest.metadata import clean_author, iso_day

_READ_BYTES = 1 << 20
_READ_CHARS = 1 << 18
_NEAR_TIE = 0.1
_HEADER_LINES = 8
_HEADER_FIELD = re.compile(r"(author|date)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_UNDERLINE = re.compile(r"^(?:=+|-+|\*+|~+)$")
_TITLE_CHARS = 120
_TITLE_WORDS = 16


def detect_encoding(path: Path) -> str:
    """The file's encoding: a BOM's, UTF-8 if every byte decodes, else charset-normalizer's.

    Reads the file in slices, so a large file is never held whole.
    """
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for data in iter(lambda: f.read(_READ_BYTES), b""):
                decoder.decode(data)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    return _guess(charset_normalizer.from_path(path))


def _guess(matches: charset_normalizer.CharsetMatches) -> str:
    """charset-normalizer's best guess, except that Windows-1252 wins a near tie.

    Single-byte Latin code pages decode most bytes alike, and on short Western European
    text the detector often ranks a Baltic or Central European one first; cp1252 (a
    superset of Latin-1's letters) is by far the likelier origin when it fits about as well.
    """
    best = matches.best()
    if best is None:
        raise LoadError("not text: no character encoding fits its bytes")
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + _NEAR_TIE:
            return "cp1252"
    return best.encoding


def open_text(path: Path) -> TextIO:
    """Open `path` for reading as text, newlines normalised to `\\n`."""
    return open(path, encoding=detect_encoding(path), errors="replace", newline=None)


def load_text(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedDocument:
    """The whole file, cleaned, streamed in bounded blocks (its size in characters checked
    against the limits first)."""
    with open_text(path) as f:
        check_text_file(f, limits)
        f.seek(0)
        lines = [clean_text(line) for line in itertools.islice(f, _HEADER_LINES)]
    header = _header(lines)
    return LoadedDocument(
        TEXT, _title(lines) or path.stem, _blocks(path),
        author=clean_author(header.get("author")), date=iso_day(header.get("date")),
    )


def _title(lines: list[str]) -> str | None:
    """The first line if it reads as a title: short, not a sentence or a header field,
    and followed by a blank line, an underline or nothing."""
    filled = list(itertools.dropwhile(lambda line: not line, lines))
    if not filled:
        return None
    first, after = filled[0], filled[1] if len(filled) > 1 else ""
    if (len(first) > _TITLE_CHARS or len(first.split()) > _TITLE_WORDS
            or first[-1] in ".,;:!" or _HEADER_FIELD.match(first) or _UNDERLINE.match(first)):
        return None
    return first if not after or _UNDERLINE.match(after) else None


def _header(lines: list[str]) -> dict[str, str]:
    """`Author:` and `Date:` values among the first lines, up to the first blank line."""
    fields: dict[str, str] = {}
    for line in itertools.takewhile(bool, lines):
        if m := _HEADER_FIELD.match(line):
            fields.setdefault(m.group(1).lower(), m.group(2))
    return fields


def _pieces(f: TextIO) -> Iterator[str]:
    """The file's cleaned text in pieces of about `_READ_CHARS`, each ending at a blank
    line (or the end), joined by paragraph breaks."""
    first = True
    while True:
        piece = f.read(_READ_CHARS)
        if not piece:
            return
        for line in f:  # on to the end of the paragraph
            piece += line
            if not line.strip():
                break
        cleaned = clean_text(piece)
        if cleaned:
            yield cleaned if first else "\n\n" + cleaned
            first = False


def _blocks(path: Path) -> Iterator[Block]:
    with open_text(path) as f:
        yield from bounded_blocks(_pieces(f), 0, 1)
