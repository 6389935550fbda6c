"""PDF with pypdf: one section per page, page numbers kept, pages without text reported.

Each page's text is cleaned (`ingest.cleaning`: ligatures, hyphenation, control bytes,
spaces) after its running headers and footers, found across the pages, are dropped; the
page number stays on every block. Title, author and creation date come from the document
information dictionary.
"""

import logging
import re
from collections.abc import Iterator
from pathlib import Path

from pypdf import DocumentInformation, PasswordType, PdfReader
from pypdf.errors import PyPdfError

from ingest.blocks import Block, LoadedDocument, TextJoiner, bounded_blocks
from ingest.cleaning import clean_text, drop_running, running_lines
from ingest.errors import LoadError
from ingest.filetype import PDF
from ingest.limits import DEFAULT_LIMITS, Limits, check_pages
from ingest.metadata import clean_author, day

logging.getLogger("pypdf").setLevel(logging.ERROR)

_PDF_DATE = re.compile(r"(?:D:)?\s*(\d{4})(\d{2})(\d{2})")
"""The day at the start of a PDF date string (`D:YYYYMMDDHHmmSSOHH'mm'`)."""


def load_pdf(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedDocument:
    """Open `path`; an encrypted PDF is tried with the empty password (the common case)."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise LoadError("encrypted PDF: a password is needed")
        check_pages(_declared_pages(reader), limits)
        info = reader.metadata
        title = (info.title if info else None) or path.stem
        author, date = (clean_author(info.author), _creation_day(info)) if info else (None, None)
    except (PyPdfError, ValueError, KeyError) as e:
        raise LoadError(f"unreadable PDF: {e or type(e).__name__}") from e
    doc = LoadedDocument(
        PDF, str(title).strip() or path.stem, iter(()), author=author, date=date
    )
    doc.blocks = _blocks(reader, doc.warnings, limits)
    return doc


def _declared_pages(reader: PdfReader) -> int:
    """The page count the page tree declares: read without walking the tree, which takes
    seconds on 100,000 pages (a false count is caught page by page while reading)."""
    count = reader.root_object["/Pages"].get("/Count", 0)
    return count if isinstance(count, int) else 0


def _creation_day(info: DocumentInformation) -> str | None:
    """`/CreationDate` as `YYYY-MM-DD`, read from the raw string (pypdf's parse is strict)."""
    raw = info.creation_date_raw
    m = _PDF_DATE.match(raw) if isinstance(raw, str) else None
    return day(*map(int, m.groups())) if m else None


def _blocks(reader: PdfReader, warnings: list[str], limits: Limits) -> Iterator[Block]:
    joiner = TextJoiner()
    try:
        pages = []
        for number, page in enumerate(reader.pages, start=1):
            check_pages(number, limits)
            pages.append(page.extract_text() or "")
    except (PyPdfError, ValueError, KeyError) as e:
        raise LoadError(f"unreadable PDF: {e or type(e).__name__}") from e
    running = running_lines(pages)
    for number, raw in enumerate(pages, start=1):
        text = clean_text(drop_running(raw, running))
        if not text:
            if not clean_text(raw):
                warnings.append(f"page {number}: no extractable text (scanned image?)")
            continue
        yield from bounded_blocks([text], joiner.place(text), page=number)
