"""Reindex: a collection re-embedded into a new generation, as a background job."""

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import Request


class ReindexRequest(Request):
    """What to re-embed the stored chunks by; omitted fields keep the collection's own."""

    model: str | None = Field(
        None, max_length=512,
        description="Embedding model name or path, available offline [default: the "
        "collection's]. Its dimension must be the collection's.")
    template: str | None = Field(
        None, max_length=1000,
        description="Context template: {title}, {headings}, then {text} last [default: "
        "title and headings before the text].",
        examples=["{title}\n{headings}\n{text}"])


class ReindexJobInfo(BaseModel):
    """A reindex job: its progress while it runs, its outcome once finished."""

    id: str
    collection: str
    status: Literal["running", "done", "failed", "stopped"]
    model: str
    template: str
    done: int = Field(description="Records carried into the new generation so far.")
    total: int = Field(description="Records of the collection (moves while writes go on).")
    passes: int = Field(description="Catch-up passes run so far.")
    created: float
    finished: float | None
    summary: str = Field(description="What the finished reindex did.")
    reason: str = Field(description="Why it failed or stopped.")
