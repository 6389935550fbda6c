"""DOCX with python-docx: body paragraphs and tables in order, Heading styles as headings.

Title, author and creation date come from the core properties, except the stamp of
python-docx's own template (author "python-docx", created 2013-12-23 23:15 UTC), which
every file made from it carries until someone sets them: it describes the template, not
the document.
"""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zipfile import BadZipFile

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.blocks import LoadedDocument
from ingest.errors import LoadError
from ingest.filetype import DOCX
from ingest.limits import DEFAULT_LIMITS, Limits, check_zip, counted_outline
from ingest.loaders.outline import Heading, outline_blocks
from ingest.metadata import clean_author, iso_day

_HEADING_STYLE = re.compile(r"Heading (\d)")
_TEMPLATE_AUTHOR = "python-docx"
_TEMPLATE_CREATED = datetime(2013, 12, 23, 23, 15, tzinfo=UTC)


def load_docx(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedDocument:
    """Title from the document properties, else the first Title-styled paragraph."""
    check_zip(path, limits)
    try:
        document = docx.Document(str(path))
    except (BadZipFile, PackageNotFoundError, KeyError, ValueError) as e:
        raise LoadError(f"unreadable DOCX: {e or type(e).__name__}") from e
    props = document.core_properties
    title = props.title or _first_title(document) or path.stem
    author = None if props.author == _TEMPLATE_AUTHOR else clean_author(props.author)
    date = None if _same_instant(props.created, _TEMPLATE_CREATED) else iso_day(props.created)
    return LoadedDocument(
        DOCX, title.strip(), outline_blocks(counted_outline(_outline(document), limits)),
        author=author, date=date,
    )


def _same_instant(value: datetime | None, instant: datetime) -> bool:
    """Whether `value` is `instant` (a time without zone is taken as UTC, as Word writes)."""
    if value is None:
        return False
    return (value if value.tzinfo else value.replace(tzinfo=UTC)) == instant


def _first_title(document) -> str | None:
    for paragraph in document.paragraphs:
        if _style(paragraph) == "Title" and paragraph.text.strip():
            return paragraph.text
    return None


def _outline(document) -> Iterator[Heading | str]:
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                yield " | ".join(cell.text.strip() for cell in row.cells)
            continue
        style = _style(item)
        if style == "Title":
            yield Heading(0, item.text)
        elif m := _HEADING_STYLE.fullmatch(style):
            yield Heading(int(m.group(1)), item.text)
        else:
            yield item.text


def _style(paragraph: Paragraph) -> str:
    style = paragraph.style
    return style.name if style is not None and style.name else ""

