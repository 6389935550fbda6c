"""Bounds on what one file may expand into, checked as early as each format allows.

A small file can stand for a huge amount of work: a DOCX (a zip container) that inflates a
thousandfold, a PDF declaring 100,000 pages, a text file of hundreds of megabytes. Each
bound fails the file with a `LimitExceeded` (a `LoadError`, so the pipeline reports it as
the file's reason and goes on with the rest); nothing is truncated silently.

Where each bound is checked, cheapest first:
- zip containers (DOCX): the members' declared sizes, before anything is inflated.
  Python's `zipfile` never inflates a member past its declared size (it stops there and the
  CRC check fails), so checking declared sizes bounds the real work.
- PDF: the page count the document declares, before any page is read; pages are counted
  again while reading, in case the declaration lies.
- plain text and Markdown: the decoded characters, counted in one streaming pass before
  parsing (a 200 MB file is refused in about a second, without any embedding).
- DOCX and HTML, parsed whole in memory anyway: their text is counted before the first block.
- every format: the characters of the blocks as they stream (`budgeted`), and the chunks of
  the document as they are cut (the parser counts them).
PDFs can only be counted as their pages are extracted, so an oversized one fails once its
text passes `max_file_chars`, at most that much work late; pypdf itself caps every inflated
stream (75 MB).

The loaders stay free of these rules: they call the one check for their format here.
"""

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TextIO, TypeVar

from ingest.blocks import Block
from ingest.errors import LoadError

_RATIO_FLOOR = 1 << 20
"""Archives inflating to less than this are never refused for their ratio: tiny members
(empty styles, settings) compress a hundredfold and mean nothing."""
_COUNT_CHARS = 1 << 18


class LimitExceeded(LoadError):
    """A file over one of the extraction limits; the message names the limit and its value."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Extraction limits per file; every one is a positive number (checked on creation)."""

    max_unzipped_bytes: int = 128 << 20
    """Total declared size of a zip container's members once inflated (DOCX)."""
    max_zip_ratio: float = 100.0
    """Inflated size over compressed size of a whole zip container (past 1 MiB inflated)."""
    max_file_chars: int = 20_000_000
    """Characters of text extracted from one file."""
    max_pdf_pages: int = 5_000
    """Pages of one PDF."""
    max_document_chunks: int = 25_000
    """Chunks cut from one document."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{field.name} must be a positive number, got {value!r}")


DEFAULT_LIMITS = Limits()


def check_zip(path: Path, limits: Limits) -> None:
    """Refuse a zip container whose members would inflate past the limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as e:
        raise LoadError(f"corrupt zip container: {e}") from e
    inflated = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if inflated > limits.max_unzipped_bytes:
        raise LimitExceeded(
            f"zip container inflates to {inflated:,} bytes, over the limit of "
            f"{limits.max_unzipped_bytes:,} (max_unzipped_bytes)"
        )
    if inflated > _RATIO_FLOOR and inflated > limits.max_zip_ratio * max(packed, 1):
        raise LimitExceeded(
            f"zip container inflates {inflated / max(packed, 1):,.0f}-fold "
            f"({packed:,} to {inflated:,} bytes), over the limit of "
            f"{limits.max_zip_ratio:g} (max_zip_ratio): a zip bomb?"
        )


def check_pages(pages: int, limits: Limits) -> None:
    """Refuse a PDF of more than `max_pdf_pages` pages."""
    if pages > limits.max_pdf_pages:
        raise LimitExceeded(
            f"{pages:,} pages, over the limit of {limits.max_pdf_pages:,} (max_pdf_pages)"
        )


def _too_many_chars(limits: Limits) -> LimitExceeded:
    return LimitExceeded(
        f"more text than the limit of {limits.max_file_chars:,} characters (max_file_chars)"
    )


def check_text_file(text: TextIO, limits: Limits) -> None:
    """Count the characters of an open text file, in slices; refuse it past `max_file_chars`."""
    total = 0
    while part := text.read(_COUNT_CHARS):
        total += len(part)
        if total > limits.max_file_chars:
            raise _too_many_chars(limits)


T = TypeVar("T")


def counted_outline(items: Iterable[T], limits: Limits) -> list[T]:
    """An in-memory outline (headings and paragraph strings, or objects with `.text`) as a
    list, refused past `max_file_chars` before a single block of it is chunked."""
    kept: list[T] = []
    total = 0
    for item in items:
        total += len(item if isinstance(item, str) else item.text)
        if total > limits.max_file_chars:
            raise _too_many_chars(limits)
        kept.append(item)
    return kept


def budgeted(blocks: Iterable[Block], limits: Limits) -> Iterator[Block]:
    """Pass blocks through, failing the file once their text passes `max_file_chars`."""
    total = 0
    for block in blocks:
        total += len(block.text)
        if total > limits.max_file_chars:
            raise _too_many_chars(limits)
        yield block


def check_chunks(count: int, limits: Limits) -> None:
    """Refuse a document once it has been cut into more than `max_document_chunks` chunks."""
    if count > limits.max_document_chunks:
        raise LimitExceeded(
            f"more chunks than the limit of {limits.max_document_chunks:,} "
            "(max_document_chunks)"
        )
