"""/v1/collections: create, list, get, delete."""

from fastapi import APIRouter, Depends, Response

from app.collections import describe, describe_all
from app.deps import CollectionDep, ServicesDep, require_api_key
from app.schemas.collections import CollectionCreate, CollectionInfo, CollectionList
from app.schemas.common import ERRORS, error_responses
from ingest.store import DIM_KEY, MODEL_KEY

router = APIRouter(
    prefix="/v1/collections",
    tags=["collections"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
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
    text = body.text if isinstance(body.text, bool) else body.text.model_dump(exclude_unset=True)
    collection = services.db.create_collection(
        body.name, dim=dimension, metric=body.metric, index=index, metadata=metadata, text=text
    )
    return describe(collection)


@router.get("")
def list_collections(services: ServicesDep) -> CollectionList:
    """Every open collection with its record and document counts (one that failed to
    open is named by /health; one dropped meanwhile is left out)."""
    return CollectionList(collections=describe_all(services.db))


@router.get("/{name}")
def get_collection(collection: CollectionDep) -> CollectionInfo:
    """One collection's configuration and sizes."""
    return describe(collection)


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_collection(collection: CollectionDep, services: ServicesDep) -> None:
    """Delete a collection, its records and its uploaded files."""
    services.db.drop_collection(collection.name)
    services.jobs.drop_collection(collection.name)
    services.uploads.remove_collection(collection.name)
