"""A real Sleuth API for the UI tests: a few sample documents, served on a free loopback port.

The documents are rendered afresh from `sample_docs` sources into the session's temp folder,
modified "now" as on a fresh clone (so the page's dates can only come from the dates the
documents declare), ingested with the library, and then served by uvicorn in a thread of
this process until the session ends.
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from app.client import SleuthClient
from app.main import create_app
from app.settings import Settings
from ingest.embedding import shared_embedder
from ingest.pipeline import Ingestor
from ingest.store import open_collection
from sample_docs.generate import DOCUMENTS
from sample_docs.render import write
from vectorstore import Database

os.environ.setdefault("HF_HUB_OFFLINE", "1")

COLLECTION = "docs"
SAMPLES = (
    "hr/parental-leave.docx",
    "hr/employee-handbook-2024.pdf",
    "runbook/postgres-failover.pdf",
    "runbook/oncall-rotation.md",
    "handbook/api-rate-limits.txt",
    "handbook/data-retention.html",
)
"""One document of every format, from three topic folders."""


def free_port() -> int:
    """A port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Api:
    """The running server: its URL, a client on it, and the folder the samples came from."""

    url: str
    client: SleuthClient
    samples: Path


def _ingest_samples(root: Path, data: Path) -> None:
    for doc in DOCUMENTS:
        if doc.path in SAMPLES:
            os.utime(write(doc, root))
    embedder = shared_embedder()
    with Database(data) as db, Ingestor(
        open_collection(db, COLLECTION, embedder), embedder, workers=0
    ) as ingestor:
        report = ingestor.ingest([root])
    assert not report.of("failed"), report.summary()


@pytest.fixture(scope="session")
def api(tmp_path_factory) -> Iterator[Api]:
    """The API on a temp data directory holding SAMPLES in collection COLLECTION."""
    base = tmp_path_factory.mktemp("api")
    samples, data = base / "sample_docs", base / "data"
    _ingest_samples(samples, data)
    port = free_port()
    settings = Settings(data_dir=data, ingest_workers=0, port=port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                       access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True, name="api")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    client = SleuthClient(url)
    try:
        client.wait_until_ready(timeout=120)
        yield Api(url, client, samples)
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(autouse=True)
def history_file(tmp_path, monkeypatch) -> Path:
    """Every page of a test keeps its conversations in the test's temp folder."""
    path = tmp_path / "conversations.sqlite3"
    monkeypatch.setenv("SLEUTH_HISTORY", str(path))
    return path


@pytest.fixture
def api_env(api, monkeypatch) -> Api:
    """The API, with SLEUTH_API_URL pointing the page at it."""
    monkeypatch.setenv("SLEUTH_API_URL", api.url)
    return api


def wait_until(condition, timeout: float = 30.0, interval: float = 0.2) -> None:
    """Poll `condition` until true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not true after {timeout}s: {condition}"
        time.sleep(interval)
