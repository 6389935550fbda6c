"""Author and date: read by every loader, normalised, and carried on every chunk's payload.

A missing or malformed value is simply absent: the document still loads, and its chunks
carry no `author` or `date` key, exactly as before metadata was read.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest.loaders import load
from ingest.metadata import clean_author, iso_day
from tests.ingest.conftest import sentences, write_docx, write_pdf

CREATED = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-08", "2024-01-08"),
        ("  2024-01-08T09:00:00Z", "2024-01-08"),
        ("2024-01-08 17:45", "2024-01-08"),
        (datetime(2024, 1, 8, 23, 59), "2024-01-08"),
        (date(2024, 1, 8), "2024-01-08"),
        ("2024-02-30", None),
        ("2024-1-8", None),
        ("2024-01-081", None),
        ("January 8, 2024", None),
        ("", None),
        (None, None),
        (20240108, None),
    ],
)
def test_iso_day(value, expected):
    assert iso_day(value) == expected


def test_clean_author():
    assert clean_author("  Helen\n  Carter ") == "Helen Carter"
    assert clean_author("   ") is None
    assert clean_author(None) is None
    assert len(clean_author("x" * 1000)) == 200


def markdown(tmp_path: Path, front_matter: str) -> Path:
    path = tmp_path / "note.md"
    path.write_text(f"---\n{front_matter}---\n\n# Heading\n\nBody text.\n")
    return path


@pytest.mark.parametrize(
    ("front_matter", "author", "day"),
    [
        ("title: T\nauthor: Jonas Weber\ndate: 2023-06-19\n", "Jonas Weber", "2023-06-19"),
        ("author: 'Jonas Weber'\ndate: \"2023-06-19T10:30:00+02:00\"\n", "Jonas Weber",
         "2023-06-19"),
        ("author: Jonas Weber\ndate: last summer\n", "Jonas Weber", None),
        ("date: 2023-13-01\nnested:\n  author: Someone\n", None, None),
        ("title: T\n", None, None),
    ],
)
def test_markdown_front_matter(tmp_path, front_matter, author, day):
    doc = load(markdown(tmp_path, front_matter))
    assert (doc.author, doc.date) == (author, day)
    assert [b.text.strip() for b in doc.blocks if b.text.strip()] == ["Body text."]


def test_markdown_title_rules_are_unchanged_by_the_other_fields(tmp_path):
    assert load(markdown(tmp_path, "author: A\ntitle: Front\n")).title == "Front"
    assert load(markdown(tmp_path, "author: A\n")).title == "Heading"
    assert load(markdown(tmp_path, "title: ''\n")).title == "note"


def test_text_header_lines(tmp_path):
    path = tmp_path / "memo.txt"
    path.write_text("Travel Policy\n=============\nAuthor: Jonas Weber\nDate: 2024-02-05\n\n"
                    "BOOKING\n\nBook early.\n")
    doc = load(path)
    assert (doc.title, doc.author, doc.date) == ("Travel Policy", "Jonas Weber", "2024-02-05")
    assert "".join(b.text for b in doc.blocks) == path.read_text().strip()


@pytest.mark.parametrize(
    "text",
    [
        "Just a note about the weather.\n",
        "Minutes\n\nDate: 2024-02-05 was the day we met.\nAuthor: not a header either\n",
        "Memo\nDate: tomorrow-ish\n\nBody.\n",
    ],
)
def test_text_without_a_header_has_no_metadata(tmp_path, text):
    path = tmp_path / "plain.txt"
    path.write_text(text)
    doc = load(path)
    assert (doc.author, doc.date) == (None, None)


def test_html_meta_tags(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        '<html><head><title>Policy</title><meta name="Author" content=" Helen Carter ">'
        '<meta name="date" content="2023-05-15"><meta name="keywords" content="hr">'
        "</head><body><p>Be kind.</p></body></html>"
    )
    doc = load(path)
    assert (doc.author, doc.date) == ("Helen Carter", "2023-05-15")
    assert [b.text for b in doc.blocks] == ["Be kind."]


def test_html_without_or_with_bad_meta(tmp_path):
    path = tmp_path / "page.html"
    path.write_text('<html><head><meta name="date" content="soon"><meta name="author">'
                    "</head><body><p>Text.</p></body></html>")
    assert (load(path).author, load(path).date) == (None, None)


def test_docx_core_properties(tmp_path):
    path = write_docx(tmp_path / "leave.docx", [("", "Twenty weeks.")],
                      author="Helen Carter", created=datetime(2024, 4, 2, 9, 0))
    doc = load(path)
    assert (doc.author, doc.date) == ("Helen Carter", "2024-04-02")


def test_docx_template_stamp_is_not_the_documents(tmp_path):
    doc = load(write_docx(tmp_path / "plain.docx", [("", "Words.")]))
    assert (doc.author, doc.date) == (None, None)


def rewrite_info(path: Path, info: dict[str, str] | None) -> Path:
    """Replace a PDF's document information dictionary (None: drop it)."""
    writer = PdfWriter(clone_from=path)
    writer.metadata = None
    if info is not None:
        writer.add_metadata(info)
    writer.write(path)
    return path


def test_pdf_metadata(tmp_path):
    path = write_pdf(tmp_path / "handbook.pdf", ["Ten days of sick leave."],
                     author="Helen Carter", created=CREATED)
    doc = load(path)
    assert (doc.author, doc.date) == ("Helen Carter", "2024-01-08")


@pytest.mark.parametrize(
    ("info", "author", "day"),
    [
        ({"/Author": "Helen Carter", "/CreationDate": "last Tuesday"}, "Helen Carter", None),
        ({"/CreationDate": "D:20241301000000Z"}, None, None),
        ({"/CreationDate": "20240108"}, None, "2024-01-08"),
        (None, None, None),
    ],
)
def test_pdf_missing_or_malformed_metadata(tmp_path, info, author, day):
    path = rewrite_info(write_pdf(tmp_path / "doc.pdf", ["Some words."]), info)
    doc = load(path)
    assert (doc.author, doc.date) == (author, day)
    assert [b.text for b in doc.blocks] == ["Some words."]


def payloads(collection) -> list[dict]:
    return [r.payload for r in collection.get(where={}, limit=10_000)]


def test_every_chunk_carries_the_documents_author_and_date(docs, ingestor, collection):
    body = "\n\n".join(sentences(topic, 30) for topic in ("tides", "moss", "owls"))
    (docs / "dated.md").write_text(f"---\nauthor: Ada\ndate: 2024-03-01\n---\n\n{body}\n")
    (docs / "plain.md").write_text(f"# Plain\n\n{body}\n")
    report = ingestor.ingest([docs])
    assert report.counts()["added"] == 2
    dated = collection.get(where={"path": str(docs / "dated.md")}, limit=10_000)
    plain = collection.get(where={"path": str(docs / "plain.md")}, limit=10_000)
    assert len(dated) > 1 and len(plain) > 1
    assert all((r.payload["author"], r.payload["date"]) == ("Ada", "2024-03-01") for r in dated)
    assert all("author" not in r.payload and "date" not in r.payload for r in plain)
    in_march = collection.get(where={"date": {"$gte": "2024-03-01", "$lte": "2024-03-31"}},
                              limit=10_000)
    assert {r.id for r in in_march} == {r.id for r in dated}
