"""Score texts against a query by meaning, with the server's embedding model."""

from typing import Annotated

from pydantic import BaseModel, Field

from app.schemas.common import Request

MAX_TEXTS = 128

Text = Annotated[str, Field(min_length=1, max_length=10_000)]


class SimilarityRequest(Request):
    """A query and the texts to score against it (e.g. the sentences of a few passages)."""

    query: Text
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)


class SimilarityResponse(BaseModel):
    """One score per text, in the order sent: the cosine similarity of the query's
    embedding (as a search embeds it) and the text's (as a chunk is embedded), in [-1, 1]."""

    scores: list[float]
    model: str
    took_ms: float
