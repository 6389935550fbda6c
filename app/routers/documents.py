"""/v1/collections/{name}/documents: upload (as a background job), list, get, delete."""

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from app.deps import CollectionDep, ServicesDep, require_api_key
from app.documents import get_document, list_documents
from app.errors import PayloadTooLarge
from app.schemas.common import ERRORS, error_responses
from app.schemas.documents import DocumentInfo, DocumentList, JobInfo
from app.uploads import clean_filename
from ingest.store import check_model

router = APIRouter(
    prefix="/v1/collections/{name}/documents",
    tags=["documents"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
)


@router.post("", status_code=202, responses=error_responses(413, 415, 503))
def upload_documents(
    collection: CollectionDep,
    services: ServicesDep,
    files: Annotated[list[UploadFile], File(description="One or more files to ingest.")],
) -> JobInfo:
    """Store the files and queue them for ingest; poll `/v1/jobs/{id}` for each file's fate.

    The request is checked whole first (count, size, type): on any error nothing is kept.
    """
    settings = services.settings
    if len(files) > settings.max_upload_files:
        raise PayloadTooLarge(
            f"{len(files)} files in one upload; the limit is {settings.max_upload_files}"
        )
    check_model(collection, services.model.get())
    stored: list[tuple[str, Path]] = []
    with ExitStack() as undo:
        for upload in files:
            name = clean_filename(upload.filename)
            path = services.uploads.save(
                collection.name, name, upload.file, settings.max_upload_bytes
            )
            undo.callback(path.unlink, missing_ok=True)
            stored.append((name, path))
        undo.pop_all()
    return services.jobs.submit(collection.name, stored)


@router.get("")
def list_collection_documents(
    collection: CollectionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DocumentList:
    """Documents in the order they were first stored, with their chunk counts."""
    documents, total = list_documents(collection, limit, offset)
    return DocumentList(documents=documents, total=total)


@router.get("/{document_id}")
def get_collection_document(collection: CollectionDep, document_id: str) -> DocumentInfo:
    """One document and its chunk count."""
    return get_document(collection, document_id)


@router.delete("/{document_id}", status_code=204, response_class=Response)
def delete_document(collection: CollectionDep, services: ServicesDep, document_id: str) -> None:
    """Delete a document with all its chunks (and its file, if it was uploaded)."""
    document = get_document(collection, document_id)
    collection.delete(where={"doc_id": document_id})
    services.uploads.remove(document.source)
