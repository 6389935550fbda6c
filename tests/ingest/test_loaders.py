"""Loaders on real files: text, pages, heading paths and offsets come out right."""

import codecs
import zipfile

import pytest

from ingest.blocks import TextJoiner
from ingest.errors import LoadError
from ingest.filetype import DOCX, HTML, MARKDOWN, PDF, TEXT, detect
from ingest.loaders import load
from tests.ingest.conftest import write_docx, write_pdf


def test_pdf_pages_title_and_empty_page_reported(tmp_path):
    path = write_pdf(
        tmp_path / "report.pdf",
        ["The first page talks about apples.", "", "The third page talks about pears."],
        title="Fruit Report",
    )
    doc = load(path)
    blocks = list(doc.blocks)
    assert doc.file_type == PDF and doc.title == "Fruit Report"
    assert [(b.page, b.text) for b in blocks] == [
        (1, "The first page talks about apples."),
        (3, "The third page talks about pears."),
    ]
    assert doc.warnings == ["page 2: no extractable text (scanned image?)"]
    joined = TextJoiner.SEPARATOR.join(["The first page talks about apples.", blocks[1].text])
    assert joined[blocks[1].start :] == blocks[1].text


def test_encrypted_pdf_with_empty_password_opens(tmp_path):
    path = write_pdf(tmp_path / "locked.pdf", ["Secret but readable."], user_password="")
    assert [b.text for b in load(path).blocks] == ["Secret but readable."]


def test_pdf_needing_a_password_is_refused(tmp_path):
    path = write_pdf(tmp_path / "locked.pdf", ["Secret."], user_password="hunter2")
    with pytest.raises(LoadError, match="password"):
        load(path)


def test_markdown_heading_paths_and_offsets(tmp_path):
    text = (
        "---\ntitle: Front Title\n---\n"
        "Preamble line.\n\n"
        "# Guide\n\nIntro.\n\n"
        "## Install\n\nRun it.\n\n"
        "```\n# not a heading\n```\n\n"
        "### Linux\n\nUse apt.\n\n"
        "Setext Two\n----------\n\nUnder setext.\n\n"
        "## Usage ##\n\nSearch away.\n"
    )
    path = tmp_path / "guide.md"
    path.write_text(text)
    doc = load(path)
    assert doc.file_type == MARKDOWN and doc.title == "Front Title"
    blocks = [b for b in doc.blocks if b.text.strip()]
    for block in blocks:
        assert text[block.start : block.start + len(block.text)] == block.text
    assert [(b.heading_path, b.text.strip()) for b in blocks] == [
        ((), "Preamble line."),
        (("Guide",), "Intro."),
        (("Guide", "Install"), "Run it.\n\n```\n# not a heading\n```"),
        (("Guide", "Install", "Linux"), "Use apt."),
        (("Guide", "Setext Two"), "Under setext."),
        (("Guide", "Usage"), "Search away."),
    ]


def test_markdown_title_from_first_h1(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("Some words.\n\n# The Title\n\nMore.\n")
    assert load(path).title == "The Title"


def test_html_main_text_only_with_title_and_headings(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>My  Page</title><style>p{color:red}</style>"
        "<script>var tracking = 1;</script></head><body>"
        "<header>Site banner</header><nav><a href='/'>Home</a> | <a>About</a></nav>"
        "<div class='content'><h1>Chapter</h1><p>First <b>bold</b> paragraph.</p>"
        "<aside>Related links</aside><h2>Section</h2><ul><li>alpha</li><li>beta</li></ul>"
        "<article><header><h3>Inner</h3></header><p>Article text.</p></article></div>"
        "<footer>Copyright 2024</footer><form><button>Subscribe</button></form></body></html>"
    )
    doc = load(path)
    blocks = list(doc.blocks)
    assert doc.file_type == HTML and doc.title == "My Page"
    assert [(b.heading_path, b.text) for b in blocks] == [
        (("Chapter",), "First bold paragraph."),
        (("Chapter", "Section"), "alpha\n\nbeta"),
        (("Chapter", "Section", "Inner"), "Article text."),
    ]
    everything = " ".join(b.text for b in blocks)
    for noise in ("banner", "Home", "tracking", "color", "Related", "Copyright", "Subscribe"):
        assert noise not in everything


def test_html_uses_main_when_marked_and_keeps_pre_lines(tmp_path):
    path = tmp_path / "page.htm"
    path.write_text(
        "<body><div>Sidebar junk</div><main><p>Only this.</p>"
        "<pre>kctl deploy api\n  --env prod</pre></main></body>"
    )
    assert [b.text for b in load(path).blocks] == ["Only this.\n\nkctl deploy api\n  --env prod"]


def test_docx_headings_paragraphs_and_numbers(tmp_path):
    path = write_docx(
        tmp_path / "memo.docx",
        [
            ("Title", "Quarterly Memo"),
            ("", "Opening words."),
            ("Heading 1", "Budget"),
            ("", "We spent less."),
            ("", ""),
            ("", "We saved more."),
            ("Heading 2", "Travel"),
            ("", "Trains only."),
            ("Heading 1", "Hiring"),
            ("", "Two engineers."),
        ],
    )
    doc = load(path)
    blocks = list(doc.blocks)
    assert doc.file_type == DOCX and doc.title == "Quarterly Memo"
    assert [(b.heading_path, b.text, b.paragraph) for b in blocks] == [
        (("Quarterly Memo",), "Opening words.", 2),
        (("Quarterly Memo", "Budget"), "We spent less.\n\nWe saved more.", 4),
        (("Quarterly Memo", "Budget", "Travel"), "Trains only.", 7),
        (("Quarterly Memo", "Hiring"), "Two engineers.", 9),
    ]
    text = TextJoiner.SEPARATOR.join(
        ["Quarterly Memo", "Opening words.", "Budget", "We spent less.", "We saved more.",
         "Travel", "Trains only.", "Hiring", "Two engineers."]
    )
    for block in blocks:
        assert text[block.start : block.start + len(block.text)] == block.text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Le café était fermé à Noël; déjà vu, garçon. Ça coûte très cher.\n" * 20, "latin-1"),
        ("Müller läuft über die Straße. Schön!\n" * 5, "latin-1"),
        ("Привет, мир. Это обычный текст на русском языке.\n" * 10, "cp1251"),
    ],
)
def test_legacy_encodings_are_decoded(tmp_path, text, encoding):
    path = tmp_path / "notes.txt"
    path.write_bytes(text.encode(encoding))
    assert "".join(b.text for b in load(path).blocks) == text.strip()  # no trailing newline


def test_utf8_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + "naïve text".encode())
    assert [b.text for b in load(path).blocks] == ["naïve text"]


def test_type_comes_from_content(tmp_path):
    pdf = write_pdf(tmp_path / "really-a-pdf.txt", ["Hidden PDF."])
    assert detect(pdf) == PDF
    docx_file = write_docx(tmp_path / "renamed.bin", [("", "Word inside.")])
    assert detect(docx_file) == DOCX
    html = tmp_path / "page.txt"
    html.write_text("  <!DOCTYPE html><html><body><p>x</p></body></html>")
    assert detect(html) == HTML
    plain = tmp_path / "README"
    plain.write_text("just text")
    assert detect(plain) == TEXT


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("noise.txt", bytes(range(256)) * 40, "binary content"),
        ("fake.pdf", b"plain words, no signature", "not a PDF"),
        ("archive.docx", None, "not a Word document"),
    ],
)
def test_refused_content(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "not word")
    else:
        path.write_bytes(content)
    with pytest.raises(LoadError, match=reason):
        load(path)
