"""/v1/collections/{name}/reindex and /v1/reindex/{id}: re-embedding as a background job."""

from fastapi import APIRouter, Depends

from app.deps import CollectionDep, ServicesDep, require_api_key
from app.errors import NotFound
from app.schemas.common import ERRORS, error_responses
from app.schemas.reindex import ReindexJobInfo, ReindexRequest

router = APIRouter(
    tags=["reindex"], dependencies=[Depends(require_api_key)], responses=ERRORS
)


@router.post("/v1/collections/{name}/reindex", status_code=202,
             responses=error_responses(409, 503))
def start_reindex(collection: CollectionDep, body: ReindexRequest,
                  services: ServicesDep) -> ReindexJobInfo:
    """Re-embed the collection's stored chunks by a model or context template into a new
    generation; searches go on against the current one until the atomic switch. Poll
    `/v1/reindex/{id}`. Checked before anything is written: the model must load offline
    with the collection's dimension, and no reindex of it may be running (409)."""
    return services.reindex.submit(collection.name, body.model, body.template)


@router.get("/v1/reindex/{job_id}")
def get_reindex(job_id: str, services: ServicesDep) -> ReindexJobInfo:
    """A reindex job's progress, or its outcome: done (with a summary), failed or stopped
    (with the reason; the collection is unchanged)."""
    job = services.reindex.get(job_id)
    if job is None:
        raise NotFound(f"reindex job {job_id!r} not found (unknown, or too old to be kept)")
    return job
