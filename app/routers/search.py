"""/v1/collections/{name}/search: by text or vector, one query or a batch."""

import time

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from app.deps import CollectionDep, ServicesDep, require_api_key
from app.routing import OrjsonRoute
from app.schemas.common import error_responses
from app.schemas.search import (
    BatchSearchRequest,
    BatchSearchResponse,
    SearchRequest,
    SearchResponse,
)
from app.search import is_quick, search

router = APIRouter(
    route_class=OrjsonRoute,
    prefix="/v1/collections/{name}/search",
    tags=["search"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(503),
)


@router.post("")
async def search_collection(
    body: SearchRequest, collection: CollectionDep, services: ServicesDep
) -> SearchResponse:
    """The `k` chunks nearest a text `query` (embedded here) or a `vector`, among `where`."""
    # A quick search runs on the event loop: a hop through the thread pool, and the GIL
    # hand-offs it brings, cost more than the search itself under load. Anything that may
    # take long (a text query's embedding, a filter, large k, other index types) runs in
    # the pool, so the loop never waits on it.
    expose = services.settings.expose_paths
    if is_quick(collection, body):
        return search(collection, body, services.model.get, expose)
    return await run_in_threadpool(search, collection, body, services.model.get, expose)


@router.post("/batch")
def search_batch(
    body: BatchSearchRequest, collection: CollectionDep, services: ServicesDep
) -> BatchSearchResponse:
    """Several searches at once, each answered as by the single form, in order."""
    started = time.perf_counter()
    expose = services.settings.expose_paths
    results = [search(collection, one, services.model.get, expose) for one in body.searches]
    return BatchSearchResponse(results=results, took_ms=(time.perf_counter() - started) * 1000)

