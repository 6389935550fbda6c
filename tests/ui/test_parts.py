"""The page's pure parts: answer, highlighting, filters, modes; and uploads with progress."""

import ast
from datetime import date
from pathlib import Path

import pytest

from app.schemas.collections import CollectionInfo
from app.schemas.documents import DocumentInfo, UploadLimits
from app.schemas.search import Hit
from ui import modes
from ui.answer import (
    MARGIN,
    MAX_SENTENCES,
    bracketed,
    candidates,
    extractive_answer,
    sentences,
    term_evidence,
)
from ui.documents import UploadResult, ingest_uploads, limits_text, split_uploads
from ui.filters import Selection, facets, where
from ui.highlight import highlight
from ui.stats import Stat, collection_stats, human_size

PDF_PAGE = """Employee Handbook 2024
Sick leave
Employees receive up to 10 days of paid sick leave a year, separate from paid time off. A
doctor's note is needed only for absences of more than 3 consecutive days.
- Sick leave can also be used to care for a sick child."""


def test_sentences_split_headings_items_and_wrapped_lines():
    assert sentences(PDF_PAGE) == [
        "Employees receive up to 10 days of paid sick leave a year, separate from paid time off.",
        "A doctor's note is needed only for absences of more than 3 consecutive days.",
        "Sick leave can also be used to care for a sick child.",
    ]


def passage(text: str) -> Hit:
    return hit(text[:8], 0.5, text, "d")


def test_the_answer_is_chosen_by_meaning_and_keeps_its_passage_number(api):
    other = ("Full-time employees receive 25 days of paid time off per calendar year. "
             "Public holidays follow the country you work in.")
    answer = extractive_answer(api.client, "How many days off when I'm ill?",
                               [passage(other), passage(PDF_PAGE)])
    assert answer[0].text == sentences(PDF_PAGE)[0]
    assert answer[0].passage == 2
    assert all(s.score >= answer[0].score - MARGIN for s in answer)
    assert len(answer) <= MAX_SENTENCES


def test_no_sentence_close_enough_is_no_answer(api):
    unrelated = passage("Cats are small carnivorous mammals that purr and hunt mice at night.")
    assert extractive_answer(api.client, "How do I rotate a TLS certificate?", [unrelated]) == []
    assert extractive_answer(api.client, "anything?", [passage("Too short.")]) == []
    assert extractive_answer(api.client, "anything?", []) == []


def test_term_evidence_weighs_rare_question_terms_over_common_ones():
    texts = ["Sick leave is 10 days.", "Leave is booked in the HR system.",
             "Leave requests go to managers."]
    evidence = term_evidence("How much sick leave?", texts)
    assert evidence[0] == pytest.approx(1.0)
    assert 0 < evidence[1] == evidence[2] < 0.5
    assert term_evidence("the of and?", texts) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("number", "text", "held"), [
    (3000.0, "From $500 to $5,000: your manager and your department head approve.", True),
    (8000.0, "From $500 to $5,000: your manager and your department head approve.", False),
    (8000.0, "Above $5,000: the CFO approves.", True),
    (300.0, "Up to $500: your manager approves.", True),
    (3000.0, "Up to $500: your manager approves.", False),
    (3000.0, "A receipt is required for every expense of $25 or more.", False),
    (25.0, "A receipt is required for every expense of $25 or more.", True),
])
def test_a_number_is_held_by_a_sentence_stating_it_or_a_range_around_it(number, text, held):
    assert bracketed(number, text) is held


def test_candidates_skip_fragments_and_sentences_repeated_by_overlapping_chunks():
    first = passage("Alpha beta gamma delta. Shared sentence of two chunks here.")
    second = passage("Shared sentence of two chunks here. Epsilon zeta eta theta.")
    assert [(s.text, s.passage) for s in candidates([first, second, passage("Too short.")])] == [
        ("Alpha beta gamma delta.", 1),
        ("Shared sentence of two chunks here.", 1),
        ("Epsilon zeta eta theta.", 2),
    ]


def test_highlight_marks_stems_and_escapes_everything_else():
    marked = highlight("Rotating <b>keys</b> & rotation\nclass", "rotate the key classes")
    assert marked == (
        "<mark>Rotating</mark> &lt;b&gt;<mark>keys</mark>&lt;/b&gt; &amp; <mark>rotation</mark>"
        "<br><mark>class</mark>"
    )


def document(source: str, file_type: str, day: date, declared: str | None = None
             ) -> DocumentInfo:
    mtime = float(date.toordinal(day) - date(1970, 1, 1).toordinal()) * 86400 + 3600
    return DocumentInfo(id=source, source=source, filename=None, title=None,
                        file_type=file_type, chunks=1, size=1, modified=mtime, date=declared)


DOCS = [
    document("/srv/docs/hr/leave.docx", "docx", date(2024, 4, 2)),
    document("/srv/docs/hr/pay.pdf", "pdf", date(2023, 5, 1)),
    document("/srv/docs/runbook/db.md", "markdown", date(2024, 1, 29)),
]


def test_facets_name_documents_and_folders_under_their_common_root():
    found = facets(DOCS)
    assert list(found.sources) == ["hr/leave.docx", "hr/pay.pdf", "runbook/db.md"]
    assert found.folders == {"hr": "/srv/docs/hr", "runbook": "/srv/docs/runbook"}
    assert found.file_types == ("docx", "markdown", "pdf")
    assert (found.first_day, found.last_day) == (date(2023, 5, 1), date(2024, 4, 2))


def test_an_empty_selection_filters_nothing_and_the_full_date_range_is_no_filter():
    found = facets(DOCS)
    assert where(Selection(), found) is None
    assert where(Selection(days=(found.first_day, found.last_day)), found) is None


def test_a_selection_compiles_to_one_store_filter():
    found = facets(DOCS)
    selected = Selection(
        file_types=("pdf",), folders=("/srv/docs/hr", "/srv/docs/runbook"),
        days=(date(2023, 1, 1), date(2023, 12, 31)),
    )
    assert where(selected, found) == {"$and": [
        {"file_type": {"$in": ["pdf"]}},
        {"$or": [
            {"source": {"$gte": "/srv/docs/hr/", "$lt": "/srv/docs/hr0"}},
            {"source": {"$gte": "/srv/docs/runbook/", "$lt": "/srv/docs/runbook0"}},
        ]},
        {"mtime": {"$gte": 1672531200.0, "$lt": 1704067200.0}},
    ]}


CHECKOUT = date(2025, 6, 1)
"""A fresh clone: every file modified on the day it was checked out."""
DATED = [
    document("/srv/docs/hr/leave.docx", "docx", CHECKOUT, "2024-04-02"),
    document("/srv/docs/hr/pay.pdf", "pdf", CHECKOUT, "2023-05-01"),
]
UNDATED = document("/srv/docs/runbook/db.md", "markdown", date(2024, 1, 29))
YEAR_2023 = (date(2023, 1, 1), date(2023, 12, 31))
MTIME_2023 = {"mtime": {"$gte": 1672531200.0, "$lt": 1704067200.0}}
DATE_2023 = {"date": {"$gte": "2023-01-01", "$lte": "2023-12-31"}}


def test_declared_dates_set_the_range_and_the_filter():
    found = facets(DATED)
    assert (found.first_day, found.last_day) == (date(2023, 5, 1), date(2024, 4, 2))
    assert (found.dated, found.undated) == (2, 0)
    assert where(Selection(days=YEAR_2023), found) == DATE_2023


def test_documents_without_a_declared_date_fall_back_to_mtime():
    found = facets([*DATED, UNDATED, document("/x/odd.md", "markdown", CHECKOUT, "soon")])
    assert (found.first_day, found.last_day) == (date(2023, 5, 1), CHECKOUT)
    assert (found.dated, found.undated) == (2, 2)
    assert where(Selection(days=YEAR_2023), found) == {"$or": [
        DATE_2023, {"$and": [{"date": {"$exists": False}}, MTIME_2023]},
    ]}


@pytest.mark.parametrize(
    ("n", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (52_000_000, "50 MB"),
     (3 * 1024**4, "3.0 TB"), (5000 * 1024**4, "5000 TB")],
)
def test_human_size(n, shown):
    assert human_size(n) == shown


def collection(**sizes) -> CollectionInfo:
    return CollectionInfo(name="docs", dimension=384, metric="cosine", index={"type": "hnsw"},
                          text_index=None, model=None, count=120, documents=6, **sizes)


def test_collection_stats_show_segments_and_disk_size():
    stats = collection_stats(collection(segments=2, growing_rows=0, disk_bytes=1_572_864))
    assert [(s.label, s.value) for s in stats] == [
        ("Documents", "6"), ("Chunks", "120"), ("Segments", "2"), ("Disk", "1.5 MB"),
        ("Index", "hnsw"), ("Dimension", "384"),
    ]
    assert stats[2].help == "Sealed index segments."
    growing = collection_stats(collection(segments=0, growing_rows=120, disk_bytes=9))[2]
    assert growing == Stat("Segments", "0", "Sealed index segments; 120 newer chunks wait in "
                           "the growing segment, searched exactly until it is sealed.")
    assert [s.value for s in collection_stats(None)] == ["0", "0", "0", "-", "-", "-"]


def hit(id: str, score: float, text: str, document: str) -> Hit:
    return Hit(id=id, score=score, text=text, document_id=document, source=None, filename=None,
               title=None, page=None, heading_path=[], start=None, end=None, chunk_index=None,
               metadata={})


def test_modes_ask_the_api_and_thin_per_document():
    hits = [hit("a", 0.80, "general words", "d1"), hit("b", 0.78, "backup retention days", "d1"),
            hit("c", 0.50, "other text", "d2")]
    assert modes.candidates(modes.HYBRID, 5) == 5
    assert modes.candidates(modes.PER_DOCUMENT, 5) == 20
    assert [modes.API_MODES[m] for m in modes.MODES] == [None, "vector", "text", None]
    assert [h.id for h in modes.thin(modes.HYBRID, hits, 2)] == ["a", "b"]
    assert [h.id for h in modes.thin(modes.PER_DOCUMENT, hits, 5)] == ["a", "c"]


def test_uploads_are_ingested_with_progress_into_a_new_collection(api):
    seen = []
    try:
        result = ingest_uploads(
            api.client, "uploads", [("a.md", b"# A\n\nAlpha text.\n"), ("b.txt", b"Beta text.\n")],
            lambda done, total: seen.append((done, total)), timeout=120, interval=0.1,
        )
        assert result == UploadResult(ingested=["a.md", "b.txt"])
        assert seen[-1] == (2, 2)
        assert api.client.get_collection("uploads").documents == 2
    finally:
        api.client.delete_collection("uploads")


def test_every_file_of_a_mixed_upload_is_reported_by_name(api):
    limit = api.client.limits().max_upload_bytes
    files = [("good.md", b"# Good\n\nGood words.\n"), ("tool.exe", b"MZ"),
             ("big.txt", b"x" * (limit + 1)), ("empty.md", b""), ("blank.txt", b"  \n")]
    try:
        result = ingest_uploads(api.client, "mixed", files, lambda done, total: None,
                                timeout=120, interval=0.1)
        assert result.ingested == ["good.md"]
        refused = dict(result.refused)
        assert set(refused) == {"tool.exe", "big.txt", "empty.md"}
        assert refused["big.txt"].startswith("larger than the upload limit of 20 MiB")
        assert refused["empty.md"] == "empty file"
        assert [name for name, _ in result.failed] == ["blank.txt"]
        summary = result.summary("mixed")
        assert summary.startswith("Ingested 1 file(s) into mixed. Refused: ")
        assert all(name in summary for name, _ in files[1:])
    finally:
        api.client.delete_collection("mixed")


LIMITS = UploadLimits(
    max_upload_bytes=100, max_upload_files=3, max_request_bytes=2 * 1024 + 250,
    extensions=[".md", ".txt"], max_unzipped_bytes=1, max_zip_ratio=1.0, max_file_chars=1,
    max_pdf_pages=1, max_document_chunks=1, job_timeout=1.0,
)


def test_uploads_are_split_to_fit_the_request_limits_and_checked_before_sending():
    files = [("a.md", b"a" * 100), ("b.md", b"b"), ("c.txt", b"c" * 101), ("d.pdf", b"%PDF"),
             ("e.md", b"e"), ("f.md", b"f" * 100), ("G.MD", b"g")]
    batches, refused = split_uploads(files, LIMITS)
    assert [[name for name, _ in batch] for batch in batches] == [
        ["a.md", "b.md"], ["e.md", "f.md"], ["G.MD"]
    ]
    assert refused == [
        ("c.txt", "larger than the upload limit of 100 bytes"),
        ("d.pdf", "unsupported file type; accepted: .md, .txt"),
    ]
    small = [(f"{n}.md", b"x") for n in range(4)]
    roomy = LIMITS.model_copy(update={"max_request_bytes": 1 << 20})
    assert [len(batch) for batch in split_uploads(small, roomy)[0]] == [3, 1]
    assert limits_text(LIMITS) == (
        "Up to 100 bytes per file (a file over it is marked red and not sent); more than 3 "
        "files are sent in several requests."
    )


def test_the_page_reaches_sleuth_only_through_the_http_client():
    allowed = ("app.client", "app.schemas")
    for path in (Path(__file__).parents[2] / "ui").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("vectorstore", "ingest"), (path.name, name)
                if name.split(".")[0] == "app":
                    assert name.startswith(allowed), (path.name, name)
