"""A collection's documents through the API: list them all, ingest uploads with progress.

Uploads are checked against the server's own limits (`GET /v1/limits`) before anything is
sent: a file too large or of a type the server does not read is refused here, with the
reason, and the rest are sent in as many requests as the request limits need. Each file's
fate (ingested, refused, failed) is reported by name.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from app.client import ApiError, SleuthClient
from app.schemas.documents import DocumentInfo, JobInfo, UploadLimits, readable_size

PAGE = 1000
UPLOAD_TYPES = ("pdf", "docx", "md", "markdown", "html", "htm", "txt")
"""File types the upload widget accepts: those the ingest pipeline reads."""
_MULTIPART_OVERHEAD = 1024
"""Bytes a file adds to a multipart request besides its content (headers, boundary)."""

Upload = tuple[str, bytes]


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


def limits_text(limits: UploadLimits) -> str:
    """The server's upload limits, as the page states them."""
    return (f"Up to {readable_size(limits.max_upload_bytes)} per file (a file over it is "
            f"marked red and not sent); more than {limits.max_upload_files} files are sent in "
            "several requests.")


def split_uploads(
    files: Sequence[Upload], limits: UploadLimits
) -> tuple[list[list[Upload]], list[tuple[str, str]]]:
    """Requests to send (each within the server's file-count and body limits) and the
    files refused before sending, with the reason (too large, a type not read)."""
    batches: list[list[Upload]] = []
    refused: list[tuple[str, str]] = []
    size = 0
    for name, content in files:
        if PurePath(name).suffix.lower() not in limits.extensions:
            refused.append((name, f"unsupported file type; accepted: "
                                  f"{', '.join(limits.extensions)}"))
            continue
        if len(content) > limits.max_upload_bytes:
            refused.append((name, "larger than the upload limit of "
                                  f"{readable_size(limits.max_upload_bytes)}"))
            continue
        cost = len(content) + _MULTIPART_OVERHEAD
        if (not batches or len(batches[-1]) >= limits.max_upload_files
                or size + cost > limits.max_request_bytes):
            batches.append([])
            size = 0
        batches[-1].append((name, content))
        size += cost
    return batches, refused


@dataclass
class UploadResult:
    """Every file of an upload by name: ingested, refused on the way in, failed at ingest."""

    ingested: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, collection: str) -> str:
        text = f"Ingested {len(self.ingested)} file(s) into {collection}."
        if self.refused:
            text += " Refused: " + "; ".join(f"{n} ({r})" for n, r in self.refused) + "."
        if self.failed:
            text += " Not ingested: " + "; ".join(f"{n} ({r})" for n, r in self.failed) + "."
        return text


def ingest_uploads(
    client: SleuthClient,
    collection: str,
    files: Sequence[Upload],
    on_progress: Callable[[int, int], None],
    *,
    timeout: float = 600.0,
    interval: float = 0.3,
) -> UploadResult:
    """Upload `files` (name, bytes) into `collection`, created if missing, and follow the
    jobs to their end; `on_progress(finished, total)` after every poll. Refusals (by the
    page or the server) are part of the result, not errors; TimeoutError after `timeout`.
    """
    if collection not in {c.name for c in client.list_collections()}:
        client.create_collection(collection)
    batches, refused = split_uploads(files, client.limits())
    result = UploadResult(refused=refused)
    jobs = [job for batch in batches if (job := _send(client, collection, batch, result))]
    total = sum(len(batch) for batch in batches)
    deadline = time.monotonic() + timeout
    while True:
        done = sum(finished(job) for job in jobs) + (total - sum(len(j.files) for j in jobs))
        on_progress(done, total)
        if all(job.status not in ("queued", "running") for job in jobs):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"ingest still running after {timeout:.0f}s")
        time.sleep(interval)
        jobs = [client.job(job.id) if job.status in ("queued", "running") else job
                for job in jobs]
    for job in jobs:
        for f in job.files:
            if f.status == "done":
                result.ingested.append(f.filename)
            elif f.document_id is None:
                result.refused.append((f.filename, f.reason))
            else:
                result.failed.append((f.filename, f.reason))
    return result


def _send(
    client: SleuthClient, collection: str, batch: list[Upload], result: UploadResult
) -> JobInfo | None:
    """One upload request; a refusal of the whole request is recorded file by file."""
    try:
        return client.upload(collection, batch)
    except ApiError as e:
        if e.status not in (400, 413, 415):
            raise
        listed = {f["filename"]: f["reason"] for f in e.body.get("files") or []}
        result.refused.extend((name, listed.get(name, str(e.detail))) for name, _ in batch)
        return None
