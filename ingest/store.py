"""The ingest view of a vectorstore collection: which model filled it, what documents it holds."""

import os
from dataclasses import dataclass

from ingest.chunking import ChunkConfig
from ingest.embedding import Embedder
from ingest.errors import ModelMismatch, RecipeMismatch
from ingest.recipe import CONTEXT_TEMPLATE, RECIPE_KEY, Recipe, check_template
from vectorstore import Database

MODEL_KEY, DIM_KEY = "embedding_model", "embedding_dim"
_PAGE = 1000


def open_collection(db: Database, name: str, embedder: Embedder):
    """The collection `name`, created for `embedder` if missing, refused if another model's."""
    if name not in db:
        return db.create_collection(
            name,
            dim=embedder.dim,
            metric="cosine",
            metadata={MODEL_KEY: embedder.name, DIM_KEY: embedder.dim},
        )
    collection = db.get_collection(name)
    check_model(collection, embedder)
    return collection


def check_model(collection, embedder: Embedder) -> None:
    """Raise ModelMismatch unless `collection` holds (or can hold) `embedder`'s vectors.

    A collection with no model recorded adopts this one if it is empty and the dimension fits.
    """
    recorded = collection.metadata.get(MODEL_KEY)
    if recorded is None and collection.dim == embedder.dim and collection.count() == 0:
        collection.update_metadata({MODEL_KEY: embedder.name, DIM_KEY: embedder.dim})
        return
    if recorded != embedder.name or collection.dim != embedder.dim:
        filled_by = f"model {recorded!r}" if recorded else "vectors of an unknown model"
        raise ModelMismatch(
            f"collection {collection.name!r} holds {filled_by} (dim {collection.dim}); "
            f"refusing to add vectors from {embedder.name!r} (dim {embedder.dim}). "
            "Use the same model, or another collection."
        )


def recorded_recipe(collection) -> Recipe:
    """The recipe `collection` records (see `ingest.recipe`; LEGACY if none)."""
    metadata = collection.metadata
    return Recipe.recorded(metadata, metadata.get(MODEL_KEY, ""))


def settle_recipe(collection, embedder: Embedder, chunking: ChunkConfig | None = None,
                  template: str | None = None) -> Recipe:
    """The recipe to ingest into `collection` with: `chunking` and `template` (defaults:
    the model's window, CONTEXT_TEMPLATE) recorded if it is empty; else the one it records,
    unless they ask for another (RecipeMismatch). A collection made before recipes keeps
    bare chunks, of the default size, until it is reindexed."""
    target, overlap = (chunking or ChunkConfig()).resolve(embedder.max_tokens)
    wanted = Recipe(embedder.name, check_template(template or CONTEXT_TEMPLATE), target, overlap)
    if collection.count() == 0:
        if recorded_recipe(collection) != wanted:
            collection.update_metadata({RECIPE_KEY: wanted.metadata()})
        return wanted
    recorded = recorded_recipe(collection)
    if recorded.chunk_tokens is None:
        recorded = Recipe(recorded.model, recorded.template, target, overlap, recorded.version)
    asked = {"chunking": (chunking is not None and (target, overlap)
                          != (recorded.chunk_tokens, recorded.overlap_tokens)),
             "template": template is not None and template != recorded.template}
    if any(asked.values()):
        raise RecipeMismatch(
            f"collection {collection.name!r} holds chunks made by another recipe "
            f"({recorded.describe()}); refusing a different "
            f"{' and '.join(k for k, v in asked.items() if v)}. Use `sleuth reindex` to "
            "re-embed it, or another collection.")
    return recorded


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document as stored: its id, the content hashes present, and size and mtime."""

    doc_id: str
    hashes: frozenset[str]
    size: int
    mtime: float

    def unchanged(self, size: int, mtime: float, now: float, racy_seconds: float = 2.0) -> bool:
        """True when one version is stored and the file's size and mtime still match it.

        A file modified within `racy_seconds` of `now` may change again within the same
        timestamp tick, so it is never trusted on its mtime (git's "racy clean" rule).
        """
        return (
            len(self.hashes) == 1
            and self.size == size
            and self.mtime == mtime
            and now - mtime > racy_seconds
        )


def under(folder: str) -> dict:
    """A filter for documents whose file lies below `folder` (a string range on the path)."""
    prefix = folder.rstrip(os.sep) + os.sep
    return {"path": {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(os.sep) + 1)}}


def stored_documents(collection, where: dict, key: str = "path") -> dict[str, StoredDocument]:
    """The documents matching `where`, read from their first chunks, by their absolute
    `path` (folder files) or by `doc_id` (uploads, which keep no path in their chunks)."""
    found: dict[str, list[dict]] = {}
    offset = 0
    while True:
        first_chunks = {"$and": [where, {"chunk_index": 0, key: {"$exists": True}}]}
        page = collection.get(where=first_chunks, limit=_PAGE, offset=offset)
        for record in page:
            found.setdefault(record.payload[key], []).append(record.payload)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return {
        name: StoredDocument(
            doc_id=payloads[0]["doc_id"],
            hashes=frozenset(p["content_hash"] for p in payloads),
            size=payloads[0].get("size", -1),
            mtime=payloads[0].get("mtime", -1.0),
        )
        for name, payloads in found.items()
    }


def count_documents(collection) -> int:
    """Distinct document ids among the collection's chunks: what "documents" counts."""
    return len(collection.facet("doc_id"))


def recorded_model(db: Database, name: str) -> str | None:
    """The embedding model collection `name` was filled with, None if unknown or missing."""
    return db.get_collection(name).metadata.get(MODEL_KEY) if name in db else None
