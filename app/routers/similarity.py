"""/v1/similarity: how close in meaning each of some texts is to a query.

The page picks answer sentences with it; any client can rerank its own candidates the same
way without loading a model of its own.
"""

import time

import numpy as np
from fastapi import APIRouter, Depends

from app.deps import ServicesDep, require_api_key
from app.schemas.common import error_responses
from app.schemas.similarity import SimilarityRequest, SimilarityResponse

router = APIRouter(
    prefix="/v1/similarity",
    tags=["search"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(503),
)


@router.post("")
def similarity(body: SimilarityRequest, services: ServicesDep) -> SimilarityResponse:
    """Cosine similarity of each text to the query (embeddings are unit length)."""
    started = time.perf_counter()
    embedder = services.model.get()
    scores = embedder.embed(body.texts) @ np.asarray(embedder.embed_query(body.query))
    return SimilarityResponse(scores=[float(s) for s in scores], model=services.model.name,
                              took_ms=(time.perf_counter() - started) * 1000)
