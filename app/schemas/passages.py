"""A passage read by id, with the chunks around it for context."""

from pydantic import BaseModel, Field

from app.schemas.search import Chunk

MAX_CONTEXT = 10


class Passage(BaseModel):
    """A chunk and up to `context` chunks of the same document on each side, in order."""

    passage: Chunk
    before: list[Chunk] = Field(description="Preceding chunks of the document, nearest last.")
    after: list[Chunk] = Field(description="Following chunks of the document, nearest first.")
