"""/v1/collections/{name}/documents/{id}/pages/{page}: an uploaded PDF's page as an image,
and where a passage's lines are on it.

The file is found through the server's registry of uploads only (like the download of a
document's file), never through a path in the chunks' payloads."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app import pdf_pages
from app.deps import CollectionDep, ServicesDep, require_api_key
from app.documents import uploaded_file
from app.errors import NotFound, UnsupportedFile
from app.schemas.common import ERRORS
from app.schemas.pages import PageHighlight
from app.services import Services

router = APIRouter(
    prefix="/v1/collections/{name}/documents/{document_id}/pages",
    tags=["documents"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
)

@router.get(
    "/{page}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The page as a PNG."},
               415: {"description": "The document's file is not a PDF."}},
)
def page_image(
    collection: CollectionDep, services: ServicesDep, document_id: str, page: int,
    width: Annotated[int, Query(ge=100, le=2000, description="Width in pixels.")] = 1000,
) -> Response:
    """Page `page` (1-based) of an uploaded PDF, rendered as a PNG `width` pixels wide."""
    path = _pdf(services, collection.name, document_id)
    png = pdf_pages.render_png(path, page, width)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/{page}/highlight", responses={415: {"description": "Not a PDF."}})
def passage_highlight(
    collection: CollectionDep, services: ServicesDep, document_id: str, page: int,
    passage: Annotated[str, Query(description="A chunk of this document (a hit's `id`).")],
) -> PageHighlight:
    """Where the passage's lines are on the page, as boxes in fractions of the page."""
    path = _pdf(services, collection.name, document_id)
    record = collection.get(ids=[passage], include_vectors=False)[0]
    if record is None or record.payload.get("doc_id") != document_id:
        raise NotFound(f"passage {passage!r} is not a chunk of document {document_id!r}")
    text = record.payload.get("text")
    return pdf_pages.highlight(path, page, text if isinstance(text, str) else "")


def _pdf(services: Services, collection: str, document_id: str) -> Path:
    """The uploaded file of the document, which must be a PDF."""
    path, upload = uploaded_file(services, collection, document_id)
    if path.suffix.lower() != ".pdf":
        raise UnsupportedFile(f"{upload.filename!r} is not a PDF: only PDF pages "
                                        "are rendered")
    return path
