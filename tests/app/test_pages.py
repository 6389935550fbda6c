"""An uploaded PDF's page as an image and a passage's lines on it, through HTTP.

The oracle of the boxes is PDFium itself: the text inside the boxes holds the passage's
letters and digits in order, and little else."""

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from app.pdf_pages import locate, normalised

HANDBOOK = Path(__file__).parents[2] / "sample_docs" / "hr" / "employee-handbook-2024.pdf"


@pytest.fixture
def handbook(client):
    """`client` with the handbook PDF and a Markdown file uploaded to 'docs'; the sick
    leave passage (page 3) and the document ids."""
    client.create_collection("docs")
    job = client.wait_for_job(client.upload(
        "docs", [(HANDBOOK.name, HANDBOOK.read_bytes()), ("notes.md", b"# Notes\n\nOwls.\n")]
    ).id, timeout=120)
    assert [f.status for f in job.files] == ["done", "done"], job
    pdf, notes = (f.document_id for f in job.files)
    hit = client.search("docs", "sick leave days a year", k=1, where={"doc_id": pdf}).hits[0]
    assert hit.page == 3 and "10 days of paid sick leave" in hit.text
    return client, pdf, notes, hit


def _route(document: str, page: int | str) -> str:
    return f"/v1/collections/docs/documents/{document}/pages/{page}"


def test_a_page_is_rendered_as_a_png_of_the_width_asked(handbook):
    client, pdf, _, _ = handbook
    response = client._http.get(_route(pdf, 3), params={"width": 400})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    letter = pdfium.PdfDocument(HANDBOOK)[2].get_size()
    assert image.size == (400, round(400 * letter[1] / letter[0]))
    low, high = image.convert("L").getextrema()
    assert high - low > 100  # text drawn, not a blank page


def _text_in(boxes: list[dict], page_number: int) -> str:
    """What PDFium reads inside the boxes, top to bottom."""
    page = pdfium.PdfDocument(HANDBOOK)[page_number - 1]
    left, bottom, right, top = page.get_bbox()
    width, height = right - left, top - bottom
    text = page.get_textpage()
    return " ".join(
        text.get_text_bounded(left + b["left"] * width, top - b["bottom"] * height,
                              left + b["right"] * width, top - b["top"] * height)
        for b in boxes
    )


def test_the_boxes_cover_the_passage_lines_on_its_page(handbook):
    client, pdf, _, hit = handbook
    response = client._http.get(_route(pdf, 3) + "/highlight", params={"passage": hit.id})
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["page"] == 3 and found["pages"] == 4 and found["located"] == 1.0
    boxes = found["boxes"]
    assert boxes and all(0 <= b["left"] < b["right"] <= 1 and 0 <= b["top"] < b["bottom"] <= 1
                         for b in boxes)
    assert [b["top"] for b in boxes] == sorted(b["top"] for b in boxes)  # one per line
    inside, _ = normalised(_text_in(boxes, 3))
    wanted, _ = normalised(hit.text)
    assert wanted in inside
    assert len(inside) < 1.2 * len(wanted)  # the passage's lines, not the page

    elsewhere = client._http.get(_route(pdf, 1) + "/highlight", params={"passage": hit.id})
    assert elsewhere.json()["boxes"] == [] and elsewhere.json()["located"] == 0.0


def test_a_passage_is_found_through_what_cleaning_changed():
    page = "Sick leave\r\nEmploy-\r\nees receive up to 10 days of paid sick leave a year. Next"
    passage = "Employees receive up to 10 days of paid sick leave a year."
    first, last, share = locate(passage, page)
    assert page[first:last + 1] == passage.replace("Employ", "Employ-\r\n") and share == 1.0
    cleaned = passage.replace("paid", "\ufb01xed paid")  # a word the page has not: runs match
    assert locate(cleaned, page)[2] > 0.8
    assert locate("Rockets burn propellant to reach orbit.", page) is None


def test_pages_are_refused_clearly(handbook):
    client, pdf, notes, hit = handbook
    http = client._http
    for page in (0, 5):
        response = http.get(_route(pdf, page))
        assert response.status_code == 404
        assert response.json()["detail"] == f"page {page} not found: the document has 4 page(s)"
    response = http.get(_route(notes, 1))
    assert response.status_code == 415 and "'notes.md' is not a PDF" in response.json()["detail"]
    response = http.get(_route(pdf, 3) + "/highlight", params={"passage": "nope"})
    assert response.status_code == 404
    notes_chunk = client.search("docs", "owls", k=1, where={"doc_id": notes}).hits[0]
    response = http.get(_route(pdf, 3) + "/highlight", params={"passage": notes_chunk.id})
    assert response.status_code == 404 and "is not a chunk of document" in response.text
    client.upsert("docs", ["raw-1"], [[0.1] * 384],  # a payload naming a file on the server
                  [{"doc_id": "raw", "source": str(HANDBOOK), "path": str(HANDBOOK),
                    "chunk_index": 0, "page": 1}])
    response = http.get(_route("raw", 1))
    assert response.status_code == 404 and "no uploaded file" in response.json()["detail"]
    assert http.get(_route(pdf, 3), params={"width": 5000}).status_code == 422


def test_pages_need_the_api_key(make_client):
    client = make_client(api_key="secret")
    for route in (_route("any", 1), _route("any", 1) + "/highlight?passage=x"):
        assert client._http.get(route, headers={"Authorization": ""}).status_code == 401
