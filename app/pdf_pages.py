"""A PDF page as an image, and where a passage's lines are on it (pypdfium2).

The page shows a citation in its document: the cited page rendered as a PNG, and boxes over
the lines the passage was taken from. A chunk's text is the loader's clean text (ligatures
resolved, hyphenation re-joined, running headers dropped), so it is found on the page by
its letters and digits alone, lower-cased and NFKC-normalised: an exact run first, else
the longest runs they share (difflib), which survive what cleaning changed. The boxes
cover the page's characters from the first to the last one matched, as PDFium groups them
into line rectangles, in fractions of the page (0..1 from the top left), so they lay over
the image at any size.

PDFium is not thread-safe: every use holds one lock.
"""

import io
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from difflib import SequenceMatcher
from pathlib import Path

import pypdfium2 as pdfium

from app.errors import NotFound, UnsupportedFile
from app.schemas.pages import Box, PageHighlight

MAX_HEIGHT_RATIO = 3
"""A rendered page is at most this many times as tall as the width asked for."""
MIN_RUN = 12
"""Shortest run of shared letters taken as the passage's, when it is not found whole."""
MIN_LOCATED = 0.5
"""Least share of the passage's letters found on the page for its boxes to be drawn."""
LINE_GAP = 6.0
"""Points between two rectangles of one line that are still drawn as one box."""

_CLOSING = ".,;:!?)]\"'\u2019\u201d%"
_lock = threading.Lock()


@contextmanager
def _page(path: Path, number: int) -> Iterator[tuple[pdfium.PdfDocument, pdfium.PdfPage]]:
    """Page `number` (1-based) of the PDF at `path`, under the lock; NotFound past the
    last page, UnsupportedFile when the file is no readable PDF."""
    with _lock:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as e:
            raise UnsupportedFile(f"the document's file is not a readable PDF: {e}") from None
        try:
            if not 1 <= number <= len(document):
                raise NotFound(f"page {number} not found: the document has {len(document)} "
                               "page(s)")
            page = document[number - 1]
            try:
                yield document, page
            finally:
                page.close()
        finally:
            document.close()


def render_png(path: Path, number: int, width: int) -> bytes:
    """Page `number` as a PNG `width` pixels wide (its height bounded by MAX_HEIGHT_RATIO)."""
    with _page(path, number) as (_, page):
        page_width, page_height = page.get_size()
        scale = min(width / page_width, MAX_HEIGHT_RATIO * width / page_height)
        image = page.render(scale=scale).to_pil()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def normalised(text: str) -> tuple[str, list[int]]:
    """The letters and digits of `text`, NFKC and lower-cased, and for each the index of the
    character of `text` it came from."""
    letters: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for piece in unicodedata.normalize("NFKC", char).lower():
            if piece.isalnum():
                letters.append(piece)
                origin.append(index)
    return "".join(letters), origin


def locate(passage: str, page_text: str) -> tuple[int, int, float] | None:
    """The span of `page_text` (first index, last index) the passage's letters occupy and
    the share of them found; None when too little of the passage is there."""
    wanted, _ = normalised(passage)
    found, origin = normalised(page_text)
    if not wanted or not found:
        return None
    at = found.find(wanted)
    if at >= 0:
        first, last, share = origin[at], origin[at + len(wanted) - 1], 1.0
    else:
        blocks = [b for b in SequenceMatcher(None, found, wanted, autojunk=False)
                  .get_matching_blocks() if b.size >= min(MIN_RUN, len(wanted))]
        share = sum(b.size for b in blocks) / len(wanted)
        if share < MIN_LOCATED:
            return None
        first, last = origin[blocks[0].a], origin[blocks[-1].a + blocks[-1].size - 1]
    while last + 1 < len(page_text) and page_text[last + 1] in _CLOSING:
        last += 1  # the passage's closing punctuation is shown too
    return first, last, share


def _merge(rects: list[tuple[float, float, float, float]]) -> list[list[float]]:
    """PDFium's rectangles (left, bottom, right, top), those of one line joined."""
    lines: list[list[float]] = []
    for left, bottom, right, top in sorted(rects, key=lambda r: (-r[3], r[0])):
        last = lines[-1] if lines else None
        same_line = last is not None and min(top, last[3]) - max(bottom, last[1]) > 0.5 * min(
            top - bottom, last[3] - last[1])
        if same_line and left - last[2] <= LINE_GAP:
            last[:] = [min(left, last[0]), min(bottom, last[1]), max(right, last[2]),
                       max(top, last[3])]
        else:
            lines.append([left, bottom, right, top])
    return lines


def highlight(path: Path, number: int, passage: str) -> PageHighlight:
    """Where `passage` is on page `number`: boxes in fractions of the page, empty when it
    is not found there."""
    with _page(path, number) as (document, page):
        pages = len(document)
        text_page = page.get_textpage()
        try:
            count = text_page.count_chars()
            text = text_page.get_text_range(0, count)
            if len(text) != count:  # characters outside the BMP: read one by one
                text = "".join(text_page.get_text_range(i, 1)[:1] or " " for i in range(count))
            span = locate(passage, text)
            rects = []
            if span is not None:
                first, last, _ = span
                rects = [text_page.get_rect(i)
                         for i in range(text_page.count_rects(first, last - first + 1))]
        finally:
            text_page.close()
        left, bottom, right, top = page.get_bbox()
    width, height = right - left, top - bottom
    boxes = [
        Box(left=max(0.0, (x0 - left) / width), top=max(0.0, (top - y1) / height),
            right=min(1.0, (x1 - left) / width), bottom=min(1.0, (top - y0) / height))
        for x0, y0, x1, y1 in _merge(rects)
    ]
    return PageHighlight(page=number, pages=pages, boxes=boxes,
                         located=0.0 if span is None else round(span[2], 3))
