"""A collection's documents through the API: list them all, ingest uploads with progress."""

import time
from collections.abc import Callable, Sequence

from app.client import SleuthClient
from app.schemas.documents import DocumentInfo, JobInfo

PAGE = 1000
UPLOAD_TYPES = ("pdf", "docx", "md", "markdown", "html", "htm", "txt")
"""File types the upload widget accepts: those the ingest pipeline reads."""


def all_documents(client: SleuthClient, collection: str) -> list[DocumentInfo]:
    """Every document of `collection`, page by page."""
    documents: list[DocumentInfo] = []
    while True:
        page = client.list_documents(collection, limit=PAGE, offset=len(documents))
        documents.extend(page.documents)
        if not page.documents or len(documents) >= page.total:
            return documents


def finished(job: JobInfo) -> int:
    """How many of the job's files are done or failed."""
    return sum(f.status in ("done", "failed") for f in job.files)


def ingest_uploads(
    client: SleuthClient,
    collection: str,
    files: Sequence[tuple[str, bytes]],
    on_progress: Callable[[JobInfo], None],
    *,
    timeout: float = 600.0,
    interval: float = 0.3,
) -> JobInfo:
    """Upload `files` (name, bytes) into `collection`, created if missing, and follow the job.

    `on_progress` sees the job after every poll; TimeoutError after `timeout` seconds.
    """
    if collection not in {c.name for c in client.list_collections()}:
        client.create_collection(collection)
    job = client.upload(collection, list(files))
    deadline = time.monotonic() + timeout
    while job.status in ("queued", "running"):
        on_progress(job)
        if time.monotonic() > deadline:
            raise TimeoutError(f"ingest still {job.status} after {timeout:.0f}s")
        time.sleep(interval)
        job = client.job(job.id)
    on_progress(job)
    return job
