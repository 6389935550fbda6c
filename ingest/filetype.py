"""Decide a file's type from its content first and its extension second."""

import zipfile
from pathlib import Path

from ingest.errors import LoadError

PDF, DOCX, MARKDOWN, HTML, TEXT = "pdf", "docx", "markdown", "html", "text"

EXTENSIONS = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".txt": TEXT,
    ".text": TEXT,
}
"""Extensions a folder walk picks up by default, and the type each one suggests."""

_SNIFF_BYTES = 8192
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13, 27}) + b"\x7f"


def detect(path: str | Path) -> str:
    """Return one of PDF, DOCX, MARKDOWN, HTML, TEXT, or raise LoadError saying why not.

    Magic bytes win over the name: `%PDF` is a PDF, a zip holding `word/document.xml` is a
    DOCX, and bytes that are not text are refused whatever the extension says.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if not head:
        raise LoadError("empty file")
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path)
    suffix = path.suffix.lower()
    if _looks_binary(head):
        raise LoadError(f"binary content, not text (named {suffix or 'without extension'})")
    named = EXTENSIONS.get(suffix)
    if named in (PDF, DOCX):
        raise LoadError(f"named {suffix} but not a {named.upper()} file (wrong signature)")
    if named in (MARKDOWN, HTML):
        return named
    start = head.lstrip()[:15].lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return HTML
    return TEXT


def _zip_type(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile as e:
        raise LoadError(f"corrupt zip container: {e}") from e
    if "word/document.xml" in names:
        return DOCX
    raise LoadError("zip archive that is not a Word document")


def _looks_binary(head: bytes) -> bool:
    """NUL bytes or many control characters, unless a Unicode BOM says it is text."""
    if head.startswith(_TEXT_BOMS):
        return False
    if b"\x00" in head:
        return True
    control = sum(head.count(c) for c in _CONTROL)
    return control > len(head) // 10
