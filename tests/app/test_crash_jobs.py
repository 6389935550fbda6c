"""SIGKILL a real server at random moments while it takes uploads and ingests them, many
times over one data directory. After every restart each listed document has exactly the
chunks a clean ingest of its file gives, and every job file is queued, running, done or
failed with a reason; at the end every file is done or failed, the documents are exactly
the done files, and the uploads folder holds exactly their files."""

import os
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.client import ApiError, SleuthClient
from tests.ingest.conftest import sentences, write_docx
from tests.servers import Server

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("SLEUTH_CRASH_ROUNDS", "8"))
SEED = int(os.environ.get("SLEUTH_CRASH_SEED", "13"))
KILL_WITHIN = 8.0
"""Seconds after a round's first upload within which the kill falls."""
SETTLE_SECONDS = 900


def corpus(folder: Path) -> dict[str, bytes]:
    """Files of several formats and sizes (1 to about 100 chunks)."""
    folder.mkdir()
    files = {
        "tiny.md": b"# Tiny\n\nOne short paragraph about kites.\n",
        "notes.txt": sentences("harbour logistics", 300).encode(),
        "manual.md": "".join(f"## Part {i}\n\n{sentences(f'part {i} of the manual', 60)}\n\n"
                             for i in range(12)).encode(),
        "page.html": f"<html><head><title>Page</title></head><body><h1>Page</h1><p>"
                     f"{sentences('web pages', 200)}</p></body></html>".encode(),
    }
    write_docx(folder / "memo.docx", [("Heading 1", "Memo"), ("", sentences("a memo", 250))])
    files["memo.docx"] = (folder / "memo.docx").read_bytes()
    return files


def clean_counts(files: dict[str, bytes], data: Path) -> dict[str, int]:
    """Chunks a clean ingest of each file gives: the same files uploaded once to a server
    nobody kills (so the oracle follows the server's own loader, recipe and chunker)."""
    with Server(data, ingest_jobs=2) as server:
        client = server.ready()
        client.create_collection("docs")
        job = client.wait_for_job(client.upload("docs", list(files.items())).id,
                                  timeout=SETTLE_SECONDS)
        assert all(f.status == "done" for f in job.files), job
        return {d.filename: d.chunks
                for d in client.list_documents("docs", limit=1000).documents}


def check_listing(client: SleuthClient, expected: dict[str, int]) -> dict[str, str]:
    """Every listed document whole; every job file in a known state, failures with reasons.
    Returns the listed documents' file names by id."""
    listed = {}
    for document in client.list_documents("docs", limit=1000).documents:
        assert document.chunks == expected[document.filename], document
        listed[document.id] = document.filename
    for job in client.jobs(limit=1000):
        for f in job.files:
            assert f.status in ("queued", "running", "done", "failed"), f
            assert f.status != "failed" or f.reason, f
    return listed


def upload_round(client: SleuthClient, files: dict[str, bytes], rng: random.Random) -> None:
    """A few uploads of random files; the kill may cut any of them off."""
    names = list(files)
    for _ in range(rng.randint(1, 2)):
        chosen = rng.sample(names, rng.randint(1, 2))
        try:
            client.upload("docs", [(name, files[name]) for name in chosen])
        except (httpx.HTTPError, ApiError):
            return  # the server died under us
        time.sleep(rng.uniform(0, 1.0))


def test_sigkill_during_upload_jobs_leaves_documents_whole_and_jobs_accounted(tmp_path):
    files = corpus(tmp_path / "corpus")
    expected = clean_counts(files, tmp_path / "clean")
    assert set(expected) == set(files) and max(expected.values()) >= 40, expected
    data = tmp_path / "data"
    rng = random.Random(SEED)
    kills = []
    for round_ in range(ROUNDS):
        server = Server(data, ingest_jobs=2)
        try:
            client = server.ready()
            if round_ == 0:
                client.create_collection("docs")
            check_listing(client, expected)
            delay = rng.uniform(0, KILL_WITHIN)
            killer = threading.Timer(delay, server.kill)
            killer.start()
            upload_round(client, files, rng)
            killer.join()
            kills.append(round(delay, 2))
        finally:
            server.stop()
    with Server(data, ingest_jobs=2) as server:
        client = server.ready()
        deadline = time.monotonic() + SETTLE_SECONDS
        while any(j.status in ("queued", "running") for j in client.jobs(limit=1000)):
            assert time.monotonic() < deadline, "jobs still unfinished"
            time.sleep(0.5)
        listed = check_listing(client, expected)
        jobs = client.jobs(limit=1000)
        done = {f.document_id: f.filename for j in jobs for f in j.files if f.status == "done"}
        assert listed == done, "documents are exactly the files done"
        stored = sorted((data / "uploads" / "docs").iterdir())
        assert len(stored) == len(listed), "no orphan files, none missing"
        for document_id, name in listed.items():
            assert client.document_file("docs", document_id) == files[name]
        failed = [f.reason for j in jobs for f in j.files if f.status == "failed"]
    print(f"\n{ROUNDS} kills at {kills} s; {len(jobs)} jobs, {len(listed)} documents, "
          f"{len(failed)} failed files: {sorted(set(failed))}")
