"""/v1/jobs: the status of an upload's background ingest."""

from fastapi import APIRouter, Depends

from app.deps import ServicesDep, require_api_key
from app.errors import NotFound
from app.schemas.common import ERRORS
from app.schemas.documents import JobInfo

router = APIRouter(
    prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(require_api_key)], responses=ERRORS
)


@router.get("/{job_id}")
def get_job(job_id: str, services: ServicesDep) -> JobInfo:
    """Each file's status: queued, running, done or failed (with the reason)."""
    job = services.jobs.get(job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found (unknown, or too old to be kept)")
    return job
