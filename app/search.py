"""Run API searches on a collection: embed text queries (unless searched by text alone),
search, shape the hits."""

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.schemas.search import Chunk, Hit, SearchRequest, SearchResponse
from ingest.embedding import Embedder
from vectorstore import Collection
from vectorstore import Hit as StoreHit

_PROVENANCE = (
    "text", "doc_id", "source", "path", "filename", "title", "page", "heading_path", "start", "end",
    "chunk_index",
)


def _typed(payload: dict[str, Any], key: str, kind: type) -> Any:
    value = payload.get(key)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def to_chunk(record_id: str, payload: dict[str, Any], expose_paths: bool = False) -> Chunk:
    """An API chunk: known provenance fields typed (None when absent), the rest as metadata.

    The file's absolute path on the server is shown only when `expose_paths`."""
    p = payload
    headings = p.get("heading_path")
    return Chunk(
        id=record_id,
        text=_typed(p, "text", str),
        document_id=_typed(p, "doc_id", str),
        source=_typed(p, "source", str),
        path=_typed(p, "path", str) if expose_paths else None,
        filename=_typed(p, "filename", str),
        title=_typed(p, "title", str),
        page=_typed(p, "page", int),
        heading_path=[h for h in headings if isinstance(h, str)] if isinstance(headings, list)
        else [],
        start=_typed(p, "start", int),
        end=_typed(p, "end", int),
        chunk_index=_typed(p, "chunk_index", int),
        metadata={k: v for k, v in p.items() if k not in _PROVENANCE},
    )


def to_hit(hit: StoreHit, expose_paths: bool = False) -> Hit:
    """An API hit: the chunk, its score and where each ranking put it."""
    return Hit(**dict(to_chunk(hit.id, hit.payload, expose_paths)), score=hit.score,
               vector_score=hit.vector_score, vector_rank=hit.vector_rank,
               text_score=hit.text_score, text_rank=hit.text_rank)


QUICK_MAX_K = 100


def is_quick(collection: Collection, request: SearchRequest) -> bool:
    """Whether a search is sure to be cheap: a plain vector query (no filter, default
    knobs, k <= 100) on an HNSW collection, whose cost grows with log n. A filter may wait
    on the payload index's lock and pick an exact scan; large k or ef, and the other
    index types, grow with k or with n."""
    return (
        request.query is None
        and request.where is None
        and request.params is None
        and request.k <= QUICK_MAX_K
        and collection.config.index.type == "hnsw"
    )


def search(
    collection: Collection, request: SearchRequest, embedder: Callable[[], Embedder],
    expose_paths: bool = False,
) -> SearchResponse:
    """One search; `embedder` is only called for a text query without a vector, not in
    text mode."""
    started = time.perf_counter()
    if request.vector is not None:
        vector = np.asarray(request.vector, dtype=np.float32)
    elif request.mode != "text":
        vector = embedder().embed_query(request.query)
    else:
        vector = None
    params = request.params.model_dump(exclude_none=True) if request.params else None
    fusion = request.fusion.model_dump(exclude_none=True) if request.fusion else None
    hits = collection.search(vector, k=request.k, where=request.where, params=params,
                             text=request.query, mode=request.mode, fusion=fusion)
    took_ms = (time.perf_counter() - started) * 1000
    return SearchResponse(hits=[to_hit(h, expose_paths) for h in hits], took_ms=took_ms)
