"""What loaders produce: contiguous slices of a document's text, each with its provenance.

A document's *text* is defined by its loader: the decoded file for plain text and Markdown,
the extracted pages or paragraphs joined by blank lines for PDF, HTML and DOCX. Every block
is an exact slice of it (`text[start:start + len(block.text)]`), so chunk offsets computed
from blocks point into that text. Blocks are capped in size so that a huge file streams.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

MAX_BLOCK_CHARS = 65_536
"""Upper bound on a block's length: bounds memory on a huge file, far above a chunk's size."""

PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t]*\n)+")
"""One or more blank lines: the boundary between two paragraphs."""


@dataclass(frozen=True, slots=True)
class Block:
    """A slice of a document's text that shares one page and one heading path."""

    text: str
    start: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    paragraph: int | None = None
    """1-based number of the paragraph `text` starts in, for formats that count them."""


@dataclass
class LoadedDocument:
    """A file opened by a loader: its type, title, author and date up front, blocks as a stream.

    `author` and `date` (ISO `YYYY-MM-DD`) are what the file declares about itself, None
    when it does not (see `ingest.metadata`). `warnings` fills while `blocks` is consumed
    (e.g. a PDF page without extractable text).
    """

    file_type: str
    title: str
    blocks: Iterator[Block]
    warnings: list[str] = field(default_factory=list)
    author: str | None = None
    date: str | None = None


def count_paragraph_breaks(text: str) -> int:
    """How many paragraph boundaries `text` contains."""
    return sum(1 for _ in PARAGRAPH_BREAK.finditer(text))


def bounded_blocks(
    parts: Iterable[str],
    start: int,
    paragraph: int | None = None,
    *,
    page: int | None = None,
    heading_path: tuple[str, ...] = (),
    limit: int = MAX_BLOCK_CHARS,
) -> Iterator[Block]:
    """Cut a stream of contiguous text parts into blocks of at most `limit` characters.

    Cuts fall after a paragraph break, else a line break, else a space in the second half of
    the window, so no word is split unless one "word" is longer than half the limit. Returns
    (as the generator's value) the paragraph number following the last block.
    """
    buf = ""
    for part in parts:
        buf += part
        while len(buf) > limit:
            cut = _cut_point(buf, limit)
            yield Block(buf[:cut], start, page, heading_path, paragraph)
            paragraph = _advance(paragraph, buf[:cut])
            start += cut
            buf = buf[cut:]
    if buf:
        yield Block(buf, start, page, heading_path, paragraph)
        paragraph = _advance(paragraph, buf)
    return paragraph


def _advance(paragraph: int | None, text: str) -> int | None:
    return None if paragraph is None else paragraph + count_paragraph_breaks(text)


def _cut_point(buf: str, limit: int) -> int:
    """Where to cut `buf` so the first piece has at most `limit` characters."""
    half = limit // 2
    for sep in ("\n\n", "\n", " "):
        at = buf.rfind(sep, half, limit + 1 - len(sep))
        if at >= 0:
            return at + len(sep)
    return limit


class TextJoiner:
    """Assigns offsets to extracted pieces of text that are joined by a blank line."""

    SEPARATOR = "\n\n"

    def __init__(self) -> None:
        self.offset = 0

    def place(self, text: str) -> int:
        """Return the offset of `text` in the joined document and move past it."""
        start = self.offset
        self.offset += len(text) + len(self.SEPARATOR)
        return start
