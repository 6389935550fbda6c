"""PDF with pypdf: one section per page, page numbers kept, pages without text reported."""

import logging
from collections.abc import Iterator
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import PyPdfError

from ingest.blocks import Block, LoadedDocument, TextJoiner, bounded_blocks
from ingest.errors import LoadError
from ingest.filetype import PDF

logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_pdf(path: Path) -> LoadedDocument:
    """Open `path`; an encrypted PDF is tried with the empty password (the common case)."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise LoadError("encrypted PDF: a password is needed")
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except (PyPdfError, ValueError, KeyError) as e:
        raise LoadError(f"unreadable PDF: {e or type(e).__name__}") from e
    doc = LoadedDocument(PDF, str(title).strip() or path.stem, iter(()))
    doc.blocks = _blocks(reader, doc.warnings)
    return doc


def _blocks(reader: PdfReader, warnings: list[str]) -> Iterator[Block]:
    joiner = TextJoiner()
    try:
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            if not text.strip():
                warnings.append(f"page {number}: no extractable text (scanned image?)")
                continue
            yield from bounded_blocks([text], joiner.place(text), page=number)
    except (PyPdfError, ValueError, KeyError) as e:
        raise LoadError(f"unreadable PDF: {e or type(e).__name__}") from e
