"""Collections as the API and the MCP server describe them."""

import logging
from dataclasses import asdict

from app.schemas.collections import CollectionInfo
from ingest.recipe import RECIPE_KEY
from ingest.store import MODEL_KEY, count_documents
from vectorstore import Collection, Database
from vectorstore.errors import VectorStoreError

log = logging.getLogger(__name__)


def describe(collection: Collection) -> CollectionInfo:
    """A collection's configuration, model, sizes and storage statistics."""
    stats = collection.stats()
    return CollectionInfo(
        name=collection.name,
        dimension=collection.dim,
        metric=collection.config.metric,
        index=asdict(collection.index_config),
        text_index=None if collection.config.text is None else asdict(collection.config.text),
        model=collection.metadata.get(MODEL_KEY),
        recipe=collection.metadata.get(RECIPE_KEY),
        count=collection.count(),
        documents=count_documents(collection),
        segments=stats["sealed_segments"],
        growing_rows=stats["growing_rows"],
        disk_bytes=stats["disk_bytes"],
        resident_bytes=stats["memory"]["resident_bytes"],
    )


def describe_all(db: Database) -> list[CollectionInfo]:
    """Every open collection of the database, described, in name order. One that fails to
    open is left out (and named by /health); so is one dropped meanwhile."""
    infos = []
    for name in db.list_collections():
        try:
            infos.append(describe(db.get_collection(name)))
        except VectorStoreError as exc:
            log.warning("collection %r left out of the list: %s", name, exc)
    return infos
