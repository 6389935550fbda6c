"""Read one chunk by id with its neighbours in the same document, for context.

A chunk written by ingest carries its document (`doc_id`) and place (`chunk_index`);
its neighbours are the chunks of that document whose index is within `context` of it. A
raw record with neither has no neighbours.
"""

from app.errors import NotFound
from app.schemas.passages import Passage
from app.schemas.search import Chunk
from app.search import to_chunk
from vectorstore import Collection


def get_passage(collection: Collection, passage_id: str, context: int = 1) -> Passage:
    """The chunk `passage_id` and up to `context` chunks before and after it; NotFound if
    the collection holds no such id. The caller bounds `context` (0..MAX_CONTEXT)."""
    record = collection.get(ids=[passage_id], include_vectors=False)[0]
    if record is None:
        raise NotFound(f"passage {passage_id!r} not found in collection {collection.name!r}")
    chunk = to_chunk(record.id, record.payload)
    if context == 0 or chunk.document_id is None or chunk.chunk_index is None:
        return Passage(passage=chunk, before=[], after=[])
    index = chunk.chunk_index
    near = collection.get(
        where={"doc_id": chunk.document_id,
               "chunk_index": {"$gte": index - context, "$lte": index + context}},
        limit=None, include_vectors=False,
    )
    neighbours = sorted((to_chunk(r.id, r.payload) for r in near if r.id != record.id),
                        key=lambda c: c.chunk_index)
    return Passage(
        passage=chunk,
        before=[c for c in neighbours if c.chunk_index < index],
        after=[c for c in neighbours if c.chunk_index > index],
    )


def document_chunks(collection: Collection, document_id: str) -> list[Chunk]:
    """Every chunk of a document, in reading order (empty for an unknown document)."""
    records = collection.get(where={"doc_id": document_id}, limit=None, include_vectors=False)
    chunks = [to_chunk(r.id, r.payload) for r in records]
    return sorted(chunks, key=lambda c: (c.chunk_index is None, c.chunk_index or 0))
