"""Loaders turn a file into a `LoadedDocument`: its type, title and a stream of blocks."""

from collections.abc import Callable
from pathlib import Path

from ingest.blocks import LoadedDocument
from ingest.filetype import DOCX, HTML, MARKDOWN, PDF, TEXT, detect
from ingest.limits import DEFAULT_LIMITS, Limits, budgeted
from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import load_pdf
from ingest.loaders.text import load_text

LOADERS: dict[str, Callable[[Path, Limits], LoadedDocument]] = {
    PDF: load_pdf,
    DOCX: load_docx,
    MARKDOWN: load_markdown,
    HTML: load_html,
    TEXT: load_text,
}


def load(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> LoadedDocument:
    """Open `path` with the loader its content calls for; LoadError says why it cannot be.

    The loader applies its format's early checks of `limits`; the characters of the blocks
    are counted here as they stream (see `ingest.limits`).
    """
    path = Path(path)
    doc = LOADERS[detect(path)](path, limits)
    doc.blocks = budgeted(doc.blocks, limits)
    return doc


__all__ = ["LOADERS", "load"]
