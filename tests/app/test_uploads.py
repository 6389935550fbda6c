"""Uploads over HTTP: files accepted or refused one by one, limits, the file route, job
listing, cancel, time budget, a pool that one large file cannot hold, jobs that outlive
the server."""

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from app.client import ApiError
from app.registry import FILE_NAME
from ingest.pipeline import Ingestor
from ingest.store import open_collection
from tests.ingest.conftest import sentences
from vectorstore import Database

MIXED = [
    ("notes.md", b"# Notes\n\nGardens need water, light and patience.\n"),
    ("tool.exe", b"MZ\x90\x00binary"),
    ("big.txt", b"word " * 1000),
    ("plan.txt", b"Rockets burn propellant to produce thrust."),
    ("fake.pdf", b"this is not a pdf at all"),
    ("empty.txt", b""),
    ("blank.txt", b"   \n\n  \n"),
]
"""Two good files, four refused on upload (type, size, signature, empty), one that fails
at ingest (no text)."""


def stored_files(tmp_path, collection="docs") -> list[str]:
    folder = tmp_path / "data" / "uploads" / collection
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def wait_until(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f}s")
        time.sleep(0.1)
    return value


def test_each_file_of_an_upload_is_accepted_or_refused_on_its_own(make_client, tmp_path):
    client = make_client(max_upload_bytes=2048)
    client.create_collection("docs")
    job = client.upload("docs", MIXED)
    assert [f.filename for f in job.files] == [name for name, _ in MIXED]
    refused = {f.filename: f.reason for f in job.files if f.status == "failed"}
    assert set(refused) == {"tool.exe", "big.txt", "fake.pdf", "empty.txt"}
    assert refused["tool.exe"].startswith("unsupported file type; accepted: .docx, .htm")
    assert refused["big.txt"] == "larger than the upload limit of 2 KiB (2,048 bytes)"
    assert refused["fake.pdf"] == "named .pdf but not a PDF file (wrong signature)"
    assert refused["empty.txt"] == "empty file"
    assert all(f.document_id is None for f in job.files if f.status == "failed")
    done = client.wait_for_job(job.id, timeout=120)
    outcome = {f.filename: (f.status, f.reason) for f in done.files}
    assert outcome["notes.md"] == outcome["plan.txt"] == ("done", "")
    assert outcome["blank.txt"][0] == "failed" and "no extractable text" in outcome["blank.txt"][1]
    assert done.status == "done"
    documents = client.list_documents("docs").documents
    assert sorted(d.source for d in documents) == ["notes.md", "plan.txt"]
    assert all(d.filename == d.source and d.path is None for d in documents)
    # a failed file's upload is removed just after its status is recorded (crash-safe
    # order: an orphan is swept at the next start), so a reader may see the status first
    wait_until(lambda: len(stored_files(tmp_path)) == 2, timeout=30,
               what="refused and failed files not kept")


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ([("a.txt", b"x" * 500), ("b.md", b"y" * 500)], 413),
        ([("a.exe", b"MZ"), ("b.pdf", b"not a pdf")], 415),
        ([("a.txt", b"x" * 500), ("b.exe", b"MZ")], 400),
    ],
)
def test_an_upload_with_no_file_accepted_lists_each_refusal(make_client, tmp_path, files,
                                                             status):
    client = make_client(max_upload_bytes=100)
    client.create_collection("docs")
    response = client._http.post(
        "/v1/collections/docs/documents", files=[("files", f) for f in files]
    )
    assert response.status_code == status
    body = response.json()
    assert body["code"] == "upload_refused"
    assert [f["filename"] for f in body["files"]] == [name for name, _ in files]
    assert all(f["reason"] and f["reason"] in body["detail"] for f in body["files"])
    assert stored_files(tmp_path) == []
    assert client._http.get("/v1/jobs").json()["jobs"] == []


def test_the_limits_route_tells_the_server_limits(make_client):
    client = make_client(max_upload_bytes=12345, max_upload_files=7, max_pdf_pages=9,
                         job_timeout=60)
    limits = client._http.get("/v1/limits").json()
    assert (limits["max_upload_bytes"], limits["max_upload_files"]) == (12345, 7)
    assert (limits["max_pdf_pages"], limits["job_timeout"]) == (9, 60.0)
    assert limits["max_request_bytes"] == 64 << 20
    assert ".pdf" in limits["extensions"] and ".docx" in limits["extensions"]


def test_an_uploaded_document_serves_its_file_under_its_original_name(client):
    client.create_collection("docs")
    body = b"# Owls\n\nOwls hunt at night.\n"
    job = client.wait_for_job(client.upload("docs", [("owls.md", body)]).id)
    document_id = job.files[0].document_id
    response = client._http.get(f"/v1/collections/docs/documents/{document_id}/file")
    assert response.status_code == 200 and response.content == body
    assert 'filename="owls.md"' in response.headers["content-disposition"]
    client.upsert("docs", ["raw-1"], [[0.1] * 384],
                  [{"doc_id": "raw", "source": "/etc/hosts", "chunk_index": 0}])
    for unknown in ("raw", "0123456789abcdef"):
        response = client._http.get(f"/v1/collections/docs/documents/{unknown}/file")
        assert response.status_code == 404
        assert "no uploaded file" in response.json()["detail"]


def test_an_uploads_chunks_are_its_files_whatever_came_with_it_and_as_in_process(
    make_client, embedder, tmp_path
):
    """A file's chunks are a function of the file: uploaded alone or beside others, parsed
    by the server's parser process, they are the chunks an in-process ingest of the same
    file under its own name gives (#13: the stored name's hex once leaked into the context,
    so one file gave 15, 16 or 17 chunks)."""
    files = {"tiny.md": b"# Tiny\n\nOne short paragraph about kites.\n",
             "notes.txt": sentences("harbour logistics", 300).encode(),
             "manual.md": "".join(f"## Part {i}\n\n{sentences(f'part {i}', 60)}\n\n"
                                  for i in range(6)).encode()}
    client = make_client(ingest_workers=1)
    uploaded = []
    for name, chosen in [("alone", ["notes.txt"]), ("paired", ["tiny.md", "notes.txt"]),
                         ("all", list(files)), ("again", ["manual.md"])]:
        client.create_collection(name)
        job = client.wait_for_job(client.upload(name, [(f, files[f]) for f in chosen]).id)
        assert all(f.status == "done" for f in job.files), job
        uploaded.append({d.filename: d.chunks for d in client.list_documents(name).documents})
    folder = tmp_path / "originals"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    with Database(tmp_path / "in-process") as db:
        collection = open_collection(db, "docs", embedder)
        report = Ingestor(collection, embedder, workers=0).ingest([folder])
    clean = {Path(r.path).name: r.chunks for r in report.results}
    assert clean["notes.txt"] > 10 and clean["manual.md"] > 10
    for counts in uploaded:
        assert counts == {name: clean[name] for name in counts}, (counts, clean)


def test_jobs_are_listed_most_recent_first(client):
    client.create_collection("docs")
    client.create_collection("other")
    first = client.wait_for_job(client.upload("docs", [("a.txt", b"alpha words")]).id)
    second = client.wait_for_job(client.upload("other", [("b.txt", b"beta words")]).id)
    listed = client._http.get("/v1/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [second.id, first.id]
    only = client._http.get("/v1/jobs", params={"collection": "docs"}).json()["jobs"]
    assert [j["id"] for j in only] == [first.id]


def long_text(topic: str, n: int = 600) -> bytes:
    return f"# {topic}\n\n{sentences(topic, n)}\n".encode()


def test_cancel_stops_a_running_job_and_fails_a_queued_one(make_client, tmp_path):
    client = make_client(ingest_jobs=1)
    client.create_collection("docs")
    running = client.upload("docs", [("long.md", long_text("glaciers", 3000))])
    queued = client.upload("docs", [("short.md", b"# Short\n\nA few words.\n")])
    wait_until(lambda: client.job(running.id).status == "running", what="running job")
    cancelled = client._http.delete(f"/v1/jobs/{queued.id}").json()
    assert cancelled["files"][0]["status"] == "failed"
    assert cancelled["files"][0]["reason"] == "cancelled by request"
    client._http.delete(f"/v1/jobs/{running.id}")
    stopped = client.wait_for_job(running.id, timeout=60)
    assert (stopped.files[0].status, stopped.files[0].reason) == (
        "failed", "cancelled by request"
    )
    assert client.list_documents("docs").total == 0
    assert client.get_collection("docs").count == 0
    wait_until(lambda: stored_files(tmp_path) == [], timeout=30, what="failed uploads removed")
    finished = client._http.delete(f"/v1/jobs/{queued.id}")
    assert finished.status_code == 200 and finished.json()["status"] == "failed"
    assert client._http.delete(f"/v1/jobs/{'f' * 32}").status_code == 404


def test_a_job_past_its_time_budget_fails_what_is_left(make_client, tmp_path):
    client = make_client(job_timeout=0.5)
    client.create_collection("docs")
    job = client.upload("docs", [("long.md", long_text("deserts", 3000)),
                                 ("next.md", b"# Next\n\nMore words.\n")])
    done = client.wait_for_job(job.id, timeout=120)
    reasons = {f.reason for f in done.files}
    assert reasons == {"the job ran past its time budget of 0.5 s (job_timeout)"}
    wait_until(lambda: stored_files(tmp_path) == [], timeout=30, what="failed uploads removed")


def test_a_large_file_does_not_hold_up_other_uploads(make_client, embedder, monkeypatch):
    """The large file's embedding is held until the small upload is done: the small one
    must finish on another worker (with one worker it could not)."""
    client = make_client(ingest_jobs=2)
    client.create_collection("docs")
    release = threading.Event()
    encode = embedder.encode

    def held(texts):
        if any("oceans" in t for t in texts):
            release.wait(timeout=120)
        return encode(texts)

    monkeypatch.setattr(embedder, "encode", held)
    large = client.upload("docs", [("large.md", long_text("oceans", 600))])
    wait_until(lambda: client.job(large.id).status == "running", what="running large job")
    try:
        small = client.wait_for_job(
            client.upload("docs", [("small.md", b"# Small\n\nQuick words.\n")]).id,
            timeout=100,
        )
        assert small.status == "done"
        assert client.job(large.id).status == "running"
    finally:
        release.set()
    assert client.wait_for_job(large.id, timeout=120).status == "done"


def registry_rows(tmp_path, query: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "data" / FILE_NAME) as db:
        return db.execute(query).fetchall()


def test_unfinished_jobs_resume_after_a_restart(tmp_path, embedder):
    from tests.app.conftest import running

    data = tmp_path / "data"
    with running(data, ingest_jobs=1) as client:
        client.create_collection("docs")
        first = client.upload("docs", [("long.md", long_text("rivers", 1000))])
        second = client.upload("docs", [("a.md", b"# A\n\nAlpha.\n"), ("b.md", b"# B\n\nBeta.\n")])
        wait_until(lambda: client.job(first.id).status == "running", what="running job")
    # The server stopped mid-job: nothing is forgotten, everything is queued again.
    states = registry_rows(tmp_path, "SELECT status, attempts FROM files ORDER BY rowid")
    assert states == [("queued", 0), ("queued", 0), ("queued", 0)]
    with running(data, ingest_jobs=1) as client:
        for job in (first, second):
            done = client.wait_for_job(job.id, timeout=300)
            assert [f.status for f in done.files] == ["done"] * len(job.files), done
        assert client.list_documents("docs").total == 3
    assert len(stored_files(tmp_path)) == 3


def test_after_a_crash_running_files_read_done_if_written_else_fail_and_orphans_go(
    tmp_path, embedder
):
    from tests.app.conftest import running

    data = tmp_path / "data"
    with running(data) as client:
        client.create_collection("docs")
        job = client.wait_for_job(client.upload(
            "docs", [("a.md", b"# A\n\nAlpha.\n"), ("b.md", b"# B\n\nBeta.\n")]
        ).id)
    written, lost = job.files
    # As crashes leave them: both files marked running for the third time, one with its
    # document written (the crash fell after the write), one without; a stored file
    # nobody registered (saved just before the crash), and a planted symlink.
    with Database(data) as db:
        db.get_collection("docs").delete(where={"doc_id": lost.document_id})
    with sqlite3.connect(data / FILE_NAME) as db:
        db.execute("UPDATE files SET status = 'running', attempts = 3")
        (kept,) = db.execute("SELECT stored FROM uploads WHERE document_id = ?",
                             (written.document_id,)).fetchone()
    folder = data / "uploads" / "docs"
    (folder / ("0" * 32 + ".txt")).write_text("orphan")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (folder / ("1" * 32 + ".txt")).symlink_to(victim)
    with running(data) as client:
        done, failed = client.job(job.id).files
        assert (done.status, done.chunks) == ("done", written.chunks)
        assert (failed.status, failed.reason) == (
            "failed", "the server stopped 3 times while ingesting this file"
        )
        assert [d.id for d in client.list_documents("docs").documents] == [done.document_id]
        content = client.document_file("docs", done.document_id)
        assert stored_files(tmp_path) == [kept]
    assert content == b"# A\n\nAlpha.\n"
    assert victim.read_text() == "keep me"


def test_deleting_a_collection_fails_its_queued_files_and_removes_its_uploads(
    make_client, tmp_path
):
    client = make_client(ingest_jobs=1)
    client.create_collection("docs")
    client.create_collection("busy")
    blocker = client.upload("busy", [("long.md", long_text("forests", 3000))])
    wait_until(lambda: client.job(blocker.id).status == "running", what="running job")
    waiting = client.upload("docs", [("w.md", b"# W\n\nWaiting words.\n")])
    client.delete_collection("docs")
    failed = client.job(waiting.id).files[0]
    assert (failed.status, failed.reason) == ("failed", "collection 'docs' was deleted")
    assert not (tmp_path / "data" / "uploads" / "docs").exists()
    client._http.delete(f"/v1/jobs/{blocker.id}")
    client.wait_for_job(blocker.id, timeout=60)
    with pytest.raises(ApiError):
        client.get_collection("docs")
