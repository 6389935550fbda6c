"""Render one sample document into Markdown, text, HTML, DOCX or PDF, byte for byte the same
on every run (fixed timestamps everywhere), with its title, author and date as metadata.

The file's modification time is set to the document's date too, so a freshly generated set
gives the date-range filter something real to work on (a git checkout resets it to now).
"""

import html
import io
import os
import textwrap
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.shared import Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from sample_docs.corpus import Doc
from sample_docs.markup import Block, Bullets, Code, Heading, PageBreak, Paragraph, parse


def write(doc: Doc, root: Path) -> Path:
    """Write `doc` under `root` in the format its suffix names; return the file's path."""
    path = root / doc.path
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = parse(doc.body)
    suffix = path.suffix
    if suffix == ".md":
        path.write_text(markdown(doc, blocks), encoding="utf-8")
    elif suffix == ".txt":
        path.write_text(text(doc, blocks), encoding="utf-8")
    elif suffix == ".html":
        path.write_text(page(doc, blocks), encoding="utf-8")
    elif suffix == ".docx":
        path.write_bytes(word(doc, blocks))
    elif suffix == ".pdf":
        path.write_bytes(pdf(doc, blocks))
    else:
        raise ValueError(f"no renderer for {suffix!r} ({doc.path})")
    stamp = _timestamp(doc).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _timestamp(doc: Doc) -> datetime:
    return datetime(doc.date.year, doc.date.month, doc.date.day, 9, 0, tzinfo=UTC)


def markdown(doc: Doc, blocks: list[Block]) -> str:
    """YAML front matter (title, author, date, tags), then the body as CommonMark."""
    tags = ", ".join(doc.tags)
    out = [
        "---",
        f'title: "{doc.title}"',
        f"author: {doc.author}",
        f"date: {doc.date.isoformat()}",
        f"tags: [{tags}]",
        "---",
        "",
        f"# {doc.title}",
    ]
    for block in blocks:
        match block:
            case Heading(level, words):
                out += ["", "#" * level + " " + words]
            case Paragraph(words):
                out += ["", words]
            case Bullets(items):
                out += [""] + [f"- {item}" for item in items]
            case Code(code):
                out += ["", "```", code, "```"]
    return "\n".join(out) + "\n"


def text(doc: Doc, blocks: list[Block]) -> str:
    """A memo: title underlined, author and date lines, wrapped paragraphs, indented code."""
    out = [doc.title, "=" * len(doc.title), f"Author: {doc.author}", f"Date: {doc.date}"]
    for block in blocks:
        match block:
            case Heading(_, words):
                out += ["", words.upper()]
            case Paragraph(words):
                out += ["", _wrap(words)]
            case Bullets(items):
                out += [""] + [_wrap(item, "* ", "  ") for item in items]
            case Code(code):
                out += ["", textwrap.indent(code, "    ")]
    return "\n".join(out) + "\n"


def _wrap(words: str, first: str = "", rest: str = "") -> str:
    """Fill to 78 columns without breaking words or hyphenated names (commands stay whole)."""
    return textwrap.fill(words, 78, initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False)


def page(doc: Doc, blocks: list[Block]) -> str:
    """An intranet page: site chrome around an <article> holding the document."""
    e = html.escape
    body: list[str] = []
    for block in blocks:
        match block:
            case Heading(level, words):
                body.append(f"<h{level}>{e(words)}</h{level}>")
            case Paragraph(words):
                body.append(f"<p>{e(words)}</p>")
            case Bullets(items):
                body.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
            case Code(code):
                body.append(f"<pre><code>{e(code)}</code></pre>")
    article = "\n".join(body)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(doc.title)}</title>
<meta name="author" content="{e(doc.author)}">
<meta name="date" content="{doc.date.isoformat()}">
<meta name="keywords" content="{e(", ".join(doc.tags))}">
</head>
<body>
<header><nav><a href="/">Kestrel intranet</a> | <a href="/docs">Docs</a></nav></header>
<main>
<article>
<h1>{e(doc.title)}</h1>
<p class="byline">By {e(doc.author)}, {doc.date:%B} {doc.date.day}, {doc.date.year}</p>
{article}
</article>
</main>
<footer>Kestrel Analytics internal. Do not forward outside the company.</footer>
</body>
</html>
"""


def word(doc: Doc, blocks: list[Block]) -> bytes:
    """A Word document with Title and Heading styles and filled core properties."""
    document = docx.Document()
    props = document.core_properties
    props.title, props.author, props.last_modified_by = doc.title, doc.author, doc.author
    props.created = props.modified = _timestamp(doc).replace(tzinfo=None)
    props.revision, props.keywords = 1, ", ".join(doc.tags)
    document.add_paragraph(doc.title, style="Title")
    document.add_paragraph(f"{doc.author}, {doc.date.isoformat()}")
    for block in blocks:
        match block:
            case Heading(level, words):
                document.add_heading(words, level=level - 1)
            case Paragraph(words):
                document.add_paragraph(words)
            case Bullets(items):
                for item in items:
                    document.add_paragraph(item, style="List Bullet")
            case Code(code):
                run = document.add_paragraph().add_run(code)
                run.font.name, run.font.size = "Courier New", Pt(9)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip_times(buffer.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every entry dated 1980-01-01, so the bytes do not depend on today."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


class _Report(FPDF):
    """A4 pages with the document title in the header and "page N of M" in the footer."""

    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.report_title = title
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(20, 20, 20)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 6, self.report_title, align="R")
        self.ln(10)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")


def pdf(doc: Doc, blocks: list[Block]) -> bytes:
    """A PDF of several pages (breaks where the source says) with title, author and date."""
    report = _Report(_latin1(doc.title))
    report.set_title(doc.title)
    report.set_author(doc.author)
    report.set_keywords(", ".join(doc.tags))
    report.set_creation_date(_timestamp(doc))
    report.add_page()
    report.set_font("Helvetica", "B", 18)
    _lines(report, 9, _latin1(doc.title))
    report.set_font("Helvetica", "", 10)
    _lines(report, 6, f"{doc.author} - {doc.date:%B} {doc.date.day}, {doc.date.year}")
    report.ln(4)
    for block in blocks:
        _pdf_block(report, block)
    return bytes(report.output())


def _lines(report: FPDF, height: float, words: str) -> None:
    """Wrapped text across the full width, leaving the cursor at the next line's start."""
    report.multi_cell(0, height, words, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pdf_block(report: FPDF, block: Block) -> None:
    match block:
        case PageBreak():
            report.add_page()
        case Heading(level, words):
            report.ln(3)
            report.set_font("Helvetica", "B", 14 if level == 2 else 12)
            _lines(report, 7, _latin1(words))
            report.ln(1)
        case Paragraph(words):
            report.set_font("Helvetica", "", 11)
            _lines(report, 5.5, _latin1(words))
            report.ln(2)
        case Bullets(items):
            report.set_font("Helvetica", "", 11)
            for item in items:
                report.set_x(report.l_margin + 4)
                _lines(report, 5.5, "- " + _latin1(item))
            report.ln(2)
        case Code(code):
            report.set_font("Courier", "", 9)
            _lines(report, 4.5, _latin1(code))
            report.ln(2)


_ASCII = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2019": "'", "\u201c": '"',
                        "\u201d": '"', "\u2192": "->", "\u2264": "<=", "\u2265": ">="})


def _latin1(words: str) -> str:
    """The core PDF fonts cover Latin-1 only: map the few other characters the sources use."""
    return words.translate(_ASCII)
