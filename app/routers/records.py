"""/v1/collections/{name}/records: raw vectors with payloads, for bring-your-own embeddings
(and for the LangChain and LlamaIndex stores over HTTP)."""

from fastapi import APIRouter, Depends

from app.deps import CollectionDep, require_api_key
from app.schemas.common import ERRORS
from app.schemas.records import (
    Deleted,
    RecordList,
    RecordOut,
    RecordsDelete,
    RecordsGet,
    RecordsUpsert,
    Upserted,
)
from vectorstore.errors import DimensionMismatch

router = APIRouter(
    prefix="/v1/collections/{name}/records",
    tags=["records"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
)


@router.post("")
def upsert_records(body: RecordsUpsert, collection: CollectionDep) -> Upserted:
    """Insert or replace records by id, all or none; durable when this returns."""
    records = body.records
    for i, record in enumerate(records):
        if len(record.vector) != collection.dim:
            raise DimensionMismatch(
                f"records[{i}].vector has dimension {len(record.vector)}, "
                f"collection {collection.name!r} expects {collection.dim}"
            )
    vectors = [r.vector for r in records]  # the store converts and checks them
    collection.upsert([r.id for r in records], vectors, [r.payload for r in records])
    return Upserted(upserted=len(records))


@router.post("/delete")
def delete_records(body: RecordsDelete, collection: CollectionDep) -> Deleted:
    """Delete records by id or by filter; answers how many live records went."""
    return Deleted(deleted=collection.delete(ids=body.ids, where=body.where))


@router.post("/get")
def get_records(body: RecordsGet, collection: CollectionDep) -> RecordList:
    """Records by id or by filter, with their payloads (and vectors if asked); unknown ids
    are skipped."""
    found = collection.get(ids=body.ids, where=body.where, limit=body.limit,
                           offset=body.offset, include_vectors=body.include_vectors)
    return RecordList(records=[
        RecordOut(id=r.id, payload=r.payload,
                  vector=None if r.vector is None else r.vector.tolist())
        for r in found if r is not None
    ])
