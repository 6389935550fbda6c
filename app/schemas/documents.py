"""Documents and the ingest jobs that bring them in."""

from typing import Literal

from pydantic import BaseModel, Field


class DocumentInfo(BaseModel):
    """A document as stored: where it came from and how many chunks it has."""

    id: str = Field(description="Stable id derived from the source path.")
    source: str = Field(description="Path the document was read from, on the server.")
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
    """One uploaded file's progress through ingest."""

    filename: str = Field(description="Sanitised original name.")
    status: FileState
    document_id: str | None = Field(description="Id of the document once known.")
    chunks: int = 0
    reason: str = Field("", description="Why it failed, when it did.")


class JobInfo(BaseModel):
    """An upload's ingest job: `done` when every file finished, `failed` if all failed."""

    id: str
    collection: str
    status: JobState
    created: float = Field(description="Unix seconds.")
    files: list[FileStatus]
