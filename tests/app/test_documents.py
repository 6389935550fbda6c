"""Documents over HTTP: upload as a background job, list, get, delete, and their errors."""

import pytest

from app.client import ApiError
from tests.app.conftest import TEXT_DOCS


def test_upload_ingests_every_file_in_the_background(ingested):
    documents = ingested.list_documents("docs")
    assert documents.total == 3
    by_name = {d.filename: d for d in documents.documents}
    assert set(by_name) == set(TEXT_DOCS)
    assert by_name["cats.md"].title == "Cats"
    assert by_name["bread.html"].file_type == "html"
    assert all(d.chunks >= 1 for d in documents.documents)
    assert all(d.author is None and d.date is None for d in documents.documents)
    assert ingested.get_collection("docs").documents == 3


def test_a_document_lists_the_author_and_date_it_declares(client):
    client.create_collection("docs")
    memo = b"---\nauthor: Jonas Weber\ndate: 2024-02-05\n---\n\nBook trains, not flights.\n"
    job = client.wait_for_job(client.upload("docs", [("memo.md", memo)]).id, timeout=60)
    (doc,) = client.list_documents("docs").documents
    assert (doc.author, doc.date) == ("Jonas Weber", "2024-02-05")
    assert client.get_document("docs", job.files[0].document_id) == doc
    hit = client.search("docs", "train travel", k=1).hits[0]
    assert hit.metadata["author"] == "Jonas Weber" and hit.metadata["date"] == "2024-02-05"


def test_job_reports_each_file_with_reasons(client):
    client.create_collection("docs")
    files = [("good.txt", b"plain words about gardens"), ("blank.txt", b"  \n")]
    job = client.upload("docs", files)
    assert job.status in ("queued", "running", "done", "failed")
    assert [f.filename for f in job.files] == ["good.txt", "blank.txt"]
    done = client.wait_for_job(job.id, timeout=60)
    assert done.status == "done"
    good, blank = done.files
    assert (good.status, good.chunks, good.reason) == ("done", 1, "")
    assert blank.status == "failed" and "no extractable text" in blank.reason
    assert client.get_document("docs", good.document_id).filename == "good.txt"


def test_all_files_failing_fails_the_job(client):
    client.create_collection("docs")
    job = client.wait_for_job(client.upload("docs", [("empty.md", b"   ")]).id, timeout=60)
    assert job.status == "failed"


def test_list_pages_and_get_one(ingested):
    first = ingested.list_documents("docs", limit=2)
    second = ingested.list_documents("docs", limit=2, offset=2)
    assert (len(first.documents), len(second.documents), first.total) == (2, 1, 3)
    doc = second.documents[0]
    assert ingested.get_document("docs", doc.id) == doc


def test_delete_removes_the_chunks_and_the_stored_file(ingested, tmp_path):
    doc = ingested.list_documents("docs").documents[0]
    stored = set((tmp_path / "data" / "uploads" / "docs").iterdir())
    assert len(stored) == 3
    before = ingested.get_collection("docs").count
    ingested.delete_document("docs", doc.id)
    assert ingested.get_collection("docs").count == before - doc.chunks
    assert ingested.list_documents("docs").total == 2
    assert len(set((tmp_path / "data" / "uploads" / "docs").iterdir())) == 2
    with pytest.raises(ApiError) as e:
        ingested.get_document("docs", doc.id)
    assert (e.value.status, e.value.code) == (404, "not_found")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_document_is_404(client, http, method):
    client.create_collection("docs")
    response = http.request(method, "/v1/collections/docs/documents/0123456789abcdef")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


def test_upload_into_unknown_collection_is_404(client):
    with pytest.raises(ApiError) as e:
        client.upload("nope", [("a.txt", b"hello")])
    assert e.value.status == 404


def test_unknown_job_is_404(client):
    with pytest.raises(ApiError) as e:
        client.job("f" * 32)
    assert e.value.status == 404


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tool.exe", b"MZ\x90\x00binary"),
        ("noext", b"some text"),
        ("fake.pdf", b"this is not a pdf at all"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
        ("archive.docx", b"PK\x03\x04not really a zip"),
    ],
)
def test_an_unsupported_file_is_refused_on_its_own(client, tmp_path, name, content):
    client.create_collection("docs")
    job = client.upload("docs", [("fine.txt", b"fine text"), (name, content)])
    fine, bad = job.files
    assert (bad.filename, bad.status, bad.document_id) == (name, "failed", None)
    assert bad.reason
    assert client.wait_for_job(job.id).files[0].status == "done"
    assert len(list((tmp_path / "data" / "uploads").rglob("*.*"))) == 1
    with pytest.raises(ApiError) as e:
        client.upload("docs", [(name, content)])
    assert (e.value.status, e.value.code) == (415, "upload_refused")
    assert name in e.value.detail
    assert len(list((tmp_path / "data" / "uploads").rglob("*.*"))) == 1


def test_file_over_the_size_limit_is_413(make_client, tmp_path):
    client = make_client(max_upload_bytes=100)
    client.create_collection("docs")
    with pytest.raises(ApiError) as e:
        client.upload("docs", [("big.txt", b"word " * 100)])
    assert (e.value.status, e.value.code) == (413, "upload_refused")
    assert e.value.detail == (
        "no file accepted (big.txt: larger than the upload limit of 100 bytes)"
    )
    assert not list((tmp_path / "data" / "uploads").rglob("*.*"))


def test_too_many_files_is_413(make_client):
    client = make_client(max_upload_files=2)
    client.create_collection("docs")
    with pytest.raises(ApiError) as e:
        client.upload("docs", [(f"{i}.txt", b"text") for i in range(3)])
    assert e.value.status == 413 and "limit is 2" in e.value.detail


def test_body_over_the_request_limit_is_413_before_reading(make_client):
    client = make_client(max_request_bytes=1000)
    client.create_collection("docs")
    with pytest.raises(ApiError) as e:
        client.upload("docs", [("big.txt", b"x" * 5000)])
    assert e.value.status == 413


def test_upload_without_files_is_422(client, http):
    client.create_collection("docs")
    assert http.post("/v1/collections/docs/documents").status_code == 422


def test_upload_into_a_raw_collection_of_another_dimension_is_400(client):
    client.create_collection("raw", dimension=3)
    with pytest.raises(ApiError) as e:
        client.upload("raw", [("a.txt", b"hello there")])
    assert (e.value.status, e.value.code) == (400, "model_mismatch")
