"""/v1/collections/{name}/documents: upload (as a background job), list, get, file, delete."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from fastapi.responses import FileResponse

from app.deps import CollectionDep, ServicesDep, require_api_key
from app.documents import get_document, list_documents, uploaded_file
from app.errors import ApiError, PayloadTooLarge, UnsupportedFile, UploadRefused
from app.registry import NewFile
from app.schemas.common import ERRORS, error_responses
from app.schemas.documents import DocumentInfo, DocumentList, JobInfo, UploadRefusedBody
from app.uploads import clean_filename
from ingest.store import check_model

router = APIRouter(
    prefix="/v1/collections/{name}/documents",
    tags=["documents"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
)

_REFUSED = {"model": UploadRefusedBody}


@router.post(
    "", status_code=202,
    responses={**error_responses(503), 400: _REFUSED, 413: _REFUSED, 415: _REFUSED},
)
def upload_documents(
    collection: CollectionDep,
    services: ServicesDep,
    files: Annotated[list[UploadFile], File(description="One or more files to ingest.")],
) -> JobInfo:
    """Store the files and queue them for ingest; poll `/v1/jobs/{id}` for each file's fate.

    Each file is accepted or refused on its own (too large, a type not read): the job lists
    refused files as `failed` with the reason. When none is accepted, the answer is an
    error listing each file with its reason (413 if all were too large, 415 if all of a type
    not read, else 400), and no job is made. More than `max_upload_files` files: 413.
    """
    settings = services.settings
    if len(files) > settings.max_upload_files:
        raise PayloadTooLarge(
            f"{len(files)} files in one upload; the limit is {settings.max_upload_files}"
        )
    check_model(collection, services.model.get())
    accepted: list[NewFile] = []
    refused: list[tuple[str, ApiError]] = []
    for upload in files:
        name = clean_filename(upload.filename)
        try:
            stored = services.uploads.save(
                collection.name, name, upload.file, settings.max_upload_bytes
            )
        except (PayloadTooLarge, UnsupportedFile) as e:
            refused.append((name, e))
            accepted.append(NewFile(name, reason=str(e)))
        else:
            accepted.append(NewFile(name, document_id=new_document_id(), stored=stored))
    if len(refused) == len(files):
        raise UploadRefused(refused)
    return services.jobs.submit(collection.name, accepted)


def new_document_id() -> str:
    """An uploaded document's id: random, like the ids folder documents derive from paths."""
    return secrets.token_hex(8)


@router.get("")
def list_collection_documents(
    collection: CollectionDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DocumentList:
    """Documents in the order they were first stored, with their chunk counts."""
    documents, total = list_documents(
        collection, limit, offset, services.settings.expose_paths
    )
    return DocumentList(documents=documents, total=total)


@router.get("/{document_id}")
def get_collection_document(
    collection: CollectionDep, services: ServicesDep, document_id: str
) -> DocumentInfo:
    """One document and its chunk count."""
    return get_document(collection, document_id, services.settings.expose_paths)


@router.get(
    "/{document_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}},
                     "description": "The uploaded file, under its original name."}},
)
def download_document_file(
    collection: CollectionDep, services: ServicesDep, document_id: str
) -> FileResponse:
    """The file a document was uploaded as; 404 for a document that was not uploaded.

    The file is found through the server's registry of uploads only."""
    path, upload = uploaded_file(services, collection.name, document_id)
    return FileResponse(path, filename=upload.filename)


@router.delete("/{document_id}", status_code=204, response_class=Response)
def delete_document(collection: CollectionDep, services: ServicesDep, document_id: str) -> None:
    """Delete a document with all its chunks, and its uploaded file if it was uploaded.

    The file is found through the server's registry of uploads only, never through what
    the chunks' payloads say."""
    get_document(collection, document_id)
    collection.delete(where={"doc_id": document_id})
    upload = services.registry.forget_upload(collection.name, document_id)
    if upload is not None:
        services.uploads.remove(upload.collection, upload.stored)
