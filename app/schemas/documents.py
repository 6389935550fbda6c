"""Documents and the ingest jobs that bring them in."""

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import ErrorBody


class DocumentInfo(BaseModel):
    """A document as stored: where it came from and how many chunks it has."""

    id: str = Field(description="Stable id: of the file's path, or given to an upload.")
    source: str = Field(
        description="Where it came from, as users know it: an upload's original name, or "
        "the path under the folder that was ingested."
    )
    path: str | None = Field(
        None, description="The file's absolute path on the server: only when the server is "
        "configured to show it (`expose_paths`), else None."
    )
    filename: str | None = Field(description="Original file name of an upload, else None.")
    title: str | None
    file_type: str | None
    chunks: int
    size: int | None = Field(description="File size in bytes.")
    modified: float | None = Field(description="File modification time (Unix seconds).")
    author: str | None = Field(None, description="Author the document declares, if any.")
    date: str | None = Field(
        None,
        description="Date the document declares, if any: YYYY-MM-DD when read from a file.",
    )


class DocumentList(BaseModel):
    documents: list[DocumentInfo]
    total: int = Field(description="Documents in the collection, whatever the page.")


FileState = Literal["queued", "running", "done", "failed"]
JobState = Literal["queued", "running", "done", "failed"]


class FileStatus(BaseModel):
    """One uploaded file's progress through ingest; a file refused on upload is `failed`
    from the start, with the reason, and has no document."""

    filename: str = Field(description="Sanitised original name.")
    status: FileState
    document_id: str | None = Field(description="Id of the document it becomes, if accepted.")
    chunks: int = 0
    reason: str = Field("", description="Why it failed, when it did.")


class JobInfo(BaseModel):
    """An upload's ingest job: `done` when every file finished, `failed` if all failed."""

    id: str
    collection: str
    status: JobState
    created: float = Field(description="Unix seconds.")
    files: list[FileStatus]

    @classmethod
    def of(cls, *, id: str, collection: str, created: float,
           files: list[FileStatus]) -> "JobInfo":
        """A job with its status derived from its files'."""
        states = {f.status for f in files}
        if states <= {"done", "failed"}:
            status = "failed" if states == {"failed"} else "done"
        else:
            status = "queued" if states == {"queued"} else "running"
        return cls(id=id, collection=collection, status=status, created=created, files=files)


class JobList(BaseModel):
    jobs: list[JobInfo] = Field(description="Most recent first.")


class RefusedFile(BaseModel):
    filename: str
    reason: str


class UploadRefusedBody(ErrorBody):
    """An error answering an upload: when none of its files was accepted, `files` lists
    each with why it was refused."""

    files: list[RefusedFile] | None = Field(
        None, description="Each file sent, with why it was refused (absent for other errors)."
    )


def readable_size(size: int) -> str:
    """A byte count as users read it: `20 MiB (20,971,520 bytes)`, `100 bytes`."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit} ({size:,} bytes)"
    return f"{size:,} bytes"


class UploadLimits(BaseModel):
    """What one upload may hold, and what one file may expand into once extracted."""

    max_upload_bytes: int = Field(description="Largest file one upload takes.")
    max_upload_files: int = Field(description="Most files in one upload request.")
    max_request_bytes: int = Field(description="Largest request body: send more in several.")
    extensions: list[str] = Field(description="File name extensions accepted.")
    max_unzipped_bytes: int
    max_zip_ratio: float
    max_file_chars: int
    max_pdf_pages: int
    max_document_chunks: int
    job_timeout: float = Field(description="Seconds one job may run before it is stopped.")
