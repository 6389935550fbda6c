"""/v1/collections: create, list, get, delete."""

import logging
from dataclasses import asdict

from fastapi import APIRouter, Depends, Response

from app.deps import CollectionDep, ServicesDep, require_api_key
from app.documents import count_documents
from app.schemas.collections import CollectionCreate, CollectionInfo, CollectionList
from app.schemas.common import ERRORS, error_responses
from ingest.store import DIM_KEY, MODEL_KEY
from vectorstore import Collection
from vectorstore.errors import VectorStoreError

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1/collections",
    tags=["collections"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
)


def describe(collection: Collection) -> CollectionInfo:
    """A collection's configuration, model, sizes and storage statistics."""
    stats = collection.stats()
    return CollectionInfo(
        name=collection.name,
        dimension=collection.dim,
        metric=collection.config.metric,
        index=asdict(collection.index_config),
        model=collection.metadata.get(MODEL_KEY),
        count=collection.count(),
        documents=count_documents(collection),
        segments=stats["sealed_segments"],
        growing_rows=stats["growing_rows"],
        disk_bytes=stats["disk_bytes"],
    )


@router.post("", status_code=201, responses=error_responses(409, 503))
def create_collection(body: CollectionCreate, services: ServicesDep) -> CollectionInfo:
    """Create a collection; without `dimension` it takes the server model's and records it."""
    index = {"type": body.index} if isinstance(body.index, str) else \
        body.index.model_dump(exclude_none=True)
    metadata = {}
    dimension = body.dimension
    if dimension is None:
        embedder = services.model.get()
        dimension = embedder.dim
        metadata = {MODEL_KEY: embedder.name, DIM_KEY: embedder.dim}
    collection = services.db.create_collection(
        body.name, dim=dimension, metric=body.metric, index=index, metadata=metadata
    )
    return describe(collection)


@router.get("")
def list_collections(services: ServicesDep) -> CollectionList:
    """Every open collection with its record and document counts (one that failed to
    open is named by /health; one dropped meanwhile is left out)."""
    infos = []
    for name in services.db.list_collections():
        try:
            infos.append(describe(services.db.get_collection(name)))
        except VectorStoreError as exc:
            log.warning("collection %r left out of the list: %s", name, exc)
    return CollectionList(collections=infos)


@router.get("/{name}")
def get_collection(collection: CollectionDep) -> CollectionInfo:
    """One collection's configuration and sizes."""
    return describe(collection)


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_collection(collection: CollectionDep, services: ServicesDep) -> None:
    """Delete a collection, its records and its uploaded files."""
    services.db.drop_collection(collection.name)
    services.uploads.remove_collection(collection.name)
