"""Documents in a collection, read from their chunks' payloads.

The store knows records, not documents: a document is the set of chunks sharing a
`doc_id`, described by its first chunk (`chunk_index` 0) and counted with a facet. The
file's absolute path (`path`) is shown only when the server is configured to.
"""

from pathlib import Path
from typing import Any

from app.errors import NotFound
from app.registry import Upload
from app.schemas.documents import DocumentInfo

_PAGE = 1000


def _info(payload: dict[str, Any], chunks: int, expose_paths: bool) -> DocumentInfo:
    return DocumentInfo(
        id=payload["doc_id"],
        source=str(payload.get("source", "")),
        path=_text(payload.get("path")) if expose_paths else None,
        filename=_text(payload.get("filename")),
        title=_text(payload.get("title")),
        file_type=_text(payload.get("file_type")),
        chunks=chunks,
        size=_number(payload.get("size"), int),
        modified=_number(payload.get("mtime"), int | float),
        author=_text(payload.get("author")),
        date=_text(payload.get("date")),
    )


def _text(value: Any) -> str | None:
    """A string payload field; anything else (raw records may hold any JSON) is absent."""
    return value if isinstance(value, str) else None


def _number(value: Any, kind: Any) -> Any:
    """A numeric payload field of `kind`; anything else (bools included) is absent."""
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def first_chunks(collection: Any, where: dict[str, Any] | None = None) -> dict[str, dict]:
    """The first chunk's payload of every document matching `where`, by document id."""
    first = {"chunk_index": 0, "doc_id": {"$exists": True}}
    query = first if where is None else {"$and": [where, first]}
    found: dict[str, dict] = {}
    offset = 0
    while True:
        page = collection.get(where=query, limit=_PAGE, offset=offset, include_vectors=False)
        for record in page:
            if isinstance(record.payload.get("doc_id"), str):
                found.setdefault(record.payload["doc_id"], record.payload)
        if len(page) < _PAGE:
            return found
        offset += _PAGE


def list_documents(
    collection: Any, limit: int, offset: int, expose_paths: bool = False
) -> tuple[list[DocumentInfo], int]:
    """One page of documents, in the order they were first stored, and the total."""
    counts = collection.facet("doc_id")
    firsts = first_chunks(collection)
    ordered = [_info(p, counts.get(doc_id, 0), expose_paths) for doc_id, p in firsts.items()]
    return ordered[offset : offset + limit], len(ordered)


def get_document(collection: Any, document_id: str, expose_paths: bool = False) -> DocumentInfo:
    """One document, or NotFound."""
    chunks = collection.count(where={"doc_id": document_id})
    firsts = first_chunks(collection, {"doc_id": document_id})
    if not chunks or document_id not in firsts:
        raise NotFound(f"document {document_id!r} not found in collection {collection.name!r}")
    return _info(firsts[document_id], chunks, expose_paths)


def uploaded_file(services: Any, collection: str, document_id: str) -> tuple[Path, Upload]:
    """The stored file of an uploaded document and its record, found through the server's
    registry of uploads only (never a path from a payload); NotFound for a document that
    was not uploaded, or whose file is gone."""
    upload = services.registry.upload(collection, document_id)
    path = None if upload is None else services.uploads.path(collection, upload.stored)
    if upload is None or path is None:
        raise NotFound(f"document {document_id!r} of collection {collection!r} has no "
                       "uploaded file")
    return path, upload
