"""Hostile files built at test time: a zip-bomb DOCX, a PDF of 100,000 empty pages, a huge
text file. Each is written in a second or two into the test's own temp dir."""

import zipfile
from pathlib import Path

import docx

_BLOCK = 1 << 20


def zip_bomb_docx(path: Path, inflated_bytes: int = 50 << 20) -> Path:
    """A real DOCX whose `word/document.xml` inflates to about `inflated_bytes` of text
    paragraphs from a few hundred KiB (the shape of the issue's 189 KiB -> 50 MiB file)."""
    template = path.with_suffix(".template.docx")
    document = docx.Document()
    document.add_paragraph("A small visible paragraph.")
    document.save(str(template))
    paragraph = b"<w:p><w:r><w:t>" + b"lorem ipsum dolor sit amet " * 40 + b"</w:t></w:r></w:p>"
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(
        path, "w", zipfile.ZIP_DEFLATED, compresslevel=9
    ) as bomb:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                bomb.writestr(item, source.read(item))
                continue
            xml = source.read(item)
            head, tail = xml.split(b"<w:body>", 1)
            with bomb.open("word/document.xml", "w", force_zip64=True) as out:
                out.write(head + b"<w:body>")
                written = 0
                block = paragraph * (_BLOCK // len(paragraph))
                while written < inflated_bytes:
                    out.write(block)
                    written += len(block)
                out.write(tail)
    template.unlink()
    return path


def empty_pages_pdf(path: Path, pages: int = 100_000) -> Path:
    """A valid PDF of `pages` blank pages under one flat page tree (about 100 bytes a page),
    written directly: a PDF library takes minutes for 100,000 pages."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []

    def obj(number: int, body: bytes) -> None:
        offsets.append(len(out))
        out.extend(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    kids = b" ".join(b"%d 0 R" % (i + 3) for i in range(pages))
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
    for i in range(pages):
        obj(i + 3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
    xref = len(out)
    out.extend(b"xref\n0 %d\n0000000000 65535 f \n" % (pages + 3))
    out.extend(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.extend(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
               % (pages + 3, xref))
    path.write_bytes(out)
    return path


def big_text(path: Path, size: int = 200 << 20) -> Path:
    """A plain text file of `size` bytes of ordinary sentences."""
    line = b"The quick brown fox jumps over the lazy dog near the river bank.\n"
    block = line * (_BLOCK // len(line))
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block[: size - written])
            written += min(len(block), size - written)
    return path
