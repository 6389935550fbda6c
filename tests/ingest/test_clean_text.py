"""Clean text from the loaders: ligatures, hyphenation, running headers and footers,
text-file titles and paragraphs; offsets point into the cleaned text, pages stay right."""

from pathlib import Path

import pytest
from fpdf import FPDF

from ingest.blocks import TextJoiner
from ingest.chunking import chunk_document
from ingest.cleaning import clean_text, running_lines
from ingest.files import FileInfo
from ingest.loaders import load

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _info(path: Path) -> FileInfo:
    return FileInfo(str(path), path.name, "d0c", 1, 1.0, "ab" * 32)
LIGATURE_FONT = FIXTURES / "fonts" / "DejaVuSans-subset.ttf"


@pytest.mark.parametrize(("raw", "clean"), [
    ("The ﬁrst ﬂoor oﬃce is speciﬁed in the staﬀ ﬁle", "The first floor office is specified "
     "in the staff file"),
    ("speci\x0ced in the \x0cle, o\x0ece, \x0bect, e\x0bect, ba\x0fe", "specified in the file, "
     "office, ffect, effect, baffle"),
    ("page one\x0cpage two", "page onefipage two"),  # a letter beside it: read as the glyph
    ("end of page\n\x0c\nnext", "end of page\n\nnext"),  # a real form feed goes
    ("retriev-\nal and re-\n  joined, well-\nKnown", "retrieval and rejoined, well-\nKnown"),
    ("co\u00adoperate, soft\u00ad\nhyphen", "cooperate, softhyphen"),
    ("tabs\tand   spaces \u00a0here  \n\n\n\nzero\u200bwidth\x07bell\ufeff",
     "tabs and spaces here\n\nzerowidthbell"),
    ("Ｆｕｌｌ width ①", "Full width 1"),
    ("windows\r\nline\rends", "windows\nline\nends"),
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_running_lines_need_most_pages_and_mask_numbers():
    pages = [f"Handbook 2024\nPart {i}\nIn the middle.\nOn page {i}.\nEnd {i} of it.\nPage {i} of 4"
             for i in range(1, 5)]
    # masked alike at the edges of every page: "Part #" and "End # of it." too
    assert running_lines(pages) == {"handbook #", "part #", "end # of it.", "page # of #"}
    assert running_lines(pages[:2]) == set()  # too few pages to tell
    pages[1] = pages[2] = "Other\nlines\nonly"
    assert running_lines(pages) == set()  # on half the pages: not running


class _Handbook(FPDF):
    def header(self):
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, "Employee Handbook 2024", new_x="LMARGIN", new_y="NEXT")

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")


HANDBOOK_PAGES = [
    "Leave policy\nStaﬀ may take leave as speciﬁed in their contract. Requests are ﬁled with "
    "the oﬃce.",
    "Remote work\nEmployees may work remotely when their team agrees; the equip-\nment stays "
    "company property.",
    "Expenses\nTravel is booked through the portal. Receipts are kept for audit.",
]
HANDBOOK_CLEAN = [
    "Leave policy\nStaff may take leave as specified in their contract. Requests are filed with "
    "the office.",
    "Remote work\nEmployees may work remotely when their team agrees; the equipment stays "
    "company property.",
    "Expenses\nTravel is booked through the portal. Receipts are kept for audit.",
]


def _handbook(path: Path, ot1_page: str | None = None) -> Path:
    pdf = _Handbook()
    pdf.add_font("DejaVu", fname=str(LIGATURE_FONT))
    for text in HANDBOOK_PAGES:
        pdf.add_page()
        pdf.set_font("DejaVu", size=11)
        for line in text.split("\n"):
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    if ot1_page:  # what TeX fonts without a Unicode map give: ligatures as control bytes
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.text(20, 40, ot1_page)
    pdf.output(str(path))
    return path


def test_generated_pdf_comes_out_clean_with_pages_and_offsets(tmp_path):
    path = _handbook(tmp_path / "handbook.pdf", ot1_page="Claims are speci\x0ced in the \x0cle.")
    doc = load(path)
    blocks = list(doc.blocks)
    assert [(b.page, b.text) for b in blocks] == [
        (1, HANDBOOK_CLEAN[0]), (2, HANDBOOK_CLEAN[1]), (3, HANDBOOK_CLEAN[2]),
        (4, "Claims are specified in the file."),
    ]
    text = TextJoiner.SEPARATOR.join(b.text for b in blocks)
    assert [b.start for b in blocks] == [text.index(b.text) for b in blocks]
    for b in blocks:
        assert text[b.start:b.start + len(b.text)] == b.text
    assert "Handbook 2024" not in text and "Page" not in text and "\x0c" not in text


def test_pdf_chunks_keep_pages_without_headers(tmp_path, chunker):
    path = _handbook(tmp_path / "handbook.pdf")
    chunks = list(chunk_document(load(path), _info(path), chunker))
    assert [(c.page, c.text) for c in chunks] == list(zip((1, 2, 3), HANDBOOK_CLEAN, strict=True))


def test_two_page_pdf_keeps_its_repeated_lines(tmp_path):
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for body in ("Alpha body.", "Beta body."):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Quarterly report\n{body}")
    pdf.output(str(tmp_path / "short.pdf"))
    assert [b.text for b in load(tmp_path / "short.pdf").blocks] == [
        "Quarterly report\nAlpha body.", "Quarterly report\nBeta body."]


def test_real_pdf_clean_text_pages_and_offsets():
    doc = load(FIXTURES / "pdf" / "shared-mime-info-spec.pdf")
    blocks = list(doc.blocks)
    expected = (FIXTURES / "pdf" / "shared-mime-info-spec.txt").read_text()
    text = TextJoiner.SEPARATOR.join(b.text for b in blocks)
    assert text == expected
    assert doc.title == "Shared MIME-info Database"
    assert [b.page for b in blocks] == [1, 2, 3, 4]
    for b in blocks:
        assert expected[b.start:b.start + len(b.text)] == b.text
    lines = text.split("\n")
    assert "Shared MIME-info Database" not in lines  # the running header, on every page
    assert not any(line.strip().isdigit() for line in lines)  # the page numbers at the foot
    assert blocks[1].text.startswith("1.3. Language used in this specification\n")
    assert blocks[2].text.startswith("directory is added to the information found in previous")
    assert blocks[1].text.split("\n")[-1] == ("~/.local/share/mime/text/html.xml (if they "
                                             "exist, and in this order). Information found in a")


def test_text_title_from_a_first_title_line_and_paragraphs(tmp_path, chunker):
    body = "\n\n".join(f"Section {n} says: " + " ".join(
        f"Rule {n}.{s} applies to every employee of the company." for s in range(9))
        for n in range(1, 7))
    path = tmp_path / "policy.txt"
    path.write_text(f"Travel Policy\n=============\n\n{body}\n")
    doc = load(path)
    assert doc.title == "Travel Policy"
    blocks = list(doc.blocks)
    text = "".join(b.text for b in blocks)
    assert text == f"Travel Policy\n=============\n\n{body}"
    chunks = list(chunk_document(load(path), _info(path), chunker))
    assert len(chunks) >= 3
    for c in chunks:
        assert text[c.start:c.end] == c.text
    for c in chunks:  # cut where paragraphs end, not inside them
        assert text[c.end:c.end + 2] in ("\n\n", "")


@pytest.mark.parametrize(("first", "title"), [
    ("Travel Policy\n\nBody text here.", "Travel Policy"),
    ("\n\nTravel Policy\n", "Travel Policy"),
    ("This is a sentence that starts the file.\n\nMore.", "memo"),
    ("Author: Ann Lee\nDate: 2024-01-02\n\nBody.", "memo"),
    ("Travel Policy\ncontinues on this line without a break", "memo"),
])
def test_text_title_only_when_the_first_line_reads_as_one(tmp_path, first, title):
    path = tmp_path / "memo.txt"
    path.write_text(first)
    assert load(path).title == title
