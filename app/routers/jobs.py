"""/v1/jobs: upload jobs' progress, most recent first, and cancelling one; /v1/limits."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.deps import ServicesDep, require_api_key
from app.errors import NotFound
from app.schemas.common import ERRORS
from app.schemas.documents import JobInfo, JobList, UploadLimits
from ingest.filetype import EXTENSIONS

router = APIRouter(tags=["jobs"], dependencies=[Depends(require_api_key)], responses=ERRORS)


@router.get("/v1/jobs")
def list_jobs(
    services: ServicesDep,
    collection: Annotated[str | None, Query(description="Only this collection's jobs.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    """Recent upload jobs (the last 1,000 are kept), most recent first."""
    return JobList(jobs=services.jobs.list(limit, collection))


@router.get("/v1/jobs/{job_id}")
def get_job(job_id: str, services: ServicesDep) -> JobInfo:
    """Each file's status: queued, running, done or failed (with the reason)."""
    job = services.jobs.get(job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found (unknown, or too old to be kept)")
    return job


@router.delete("/v1/jobs/{job_id}")
def cancel_job(job_id: str, services: ServicesDep) -> JobInfo:
    """Cancel a job: its queued files fail at once, its running file within a second
    (documents already written stay). Answers the job as it stands; cancelling a finished
    job changes nothing."""
    job = services.jobs.cancel(job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found (unknown, or too old to be kept)")
    return job


@router.get("/v1/limits")
def upload_limits(services: ServicesDep) -> UploadLimits:
    """What one upload may hold and what one file may expand into: pages check uploads
    against these before sending."""
    s = services.settings
    return UploadLimits(
        max_upload_bytes=s.max_upload_bytes, max_upload_files=s.max_upload_files,
        max_request_bytes=s.max_request_bytes, extensions=sorted(EXTENSIONS),
        job_timeout=s.job_timeout, **asdict(s.limits),
    )
