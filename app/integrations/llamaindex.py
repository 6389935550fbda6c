"""Sleuth as a LlamaIndex vector store (`BasePydanticVectorStore`, stores_text).

    from llama_index.core import StorageContext, VectorStoreIndex
    from app.integrations.llamaindex import SleuthVectorStore

    store = SleuthVectorStore(path="data", collection="notes")   # or url="http://..."
    index = VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store))

A node is a Sleuth record: its id, its embedding, and a payload holding its metadata,
its text under "text", its source document's id under "doc_id" (Sleuth's own name for a
chunk's document, so `delete(ref_doc_id)` is one filtered delete) and LlamaIndex's own
serialised node (`_node_content`) to give it back whole. Records written by `sleuth
ingest` read back as TextNodes whose metadata hold source, page and heading_path.
MetadataFilters become Sleuth `where` filters; an operator Sleuth has no equivalent for
is refused by name, never dropped. Needs the `sleuth[llamaindex]` extra.
"""

from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from app.client import SleuthClient
from app.integrations.backend import Backend, open_backend, payload_of
from ingest.embedding import Embedder, shared_embedder
from vectorstore import Database, Hit, Record

TEXT_KEY = "text"
DOC_KEY = "doc_id"
MMR_PREFETCH = 4
"""An MMR query weighs this many times `similarity_top_k` nearest candidates."""
_SCAN_PAGE = 1000
_TEXT_MODES = (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.HYBRID)
_MODES = (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR, *_TEXT_MODES)

_COMPARISON = {
    FilterOperator.EQ: "$eq", FilterOperator.NE: "$ne", FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte", FilterOperator.LT: "$lt", FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in", FilterOperator.NIN: "$nin",
}


class SleuthEmbedding(BaseEmbedding):
    """Sleuth's sentence-transformers embedder as a LlamaIndex embedding model: `model` is
    a sentence-transformers name or path, None for the bundled all-MiniLM-L6-v2."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        embedder = shared_embedder(model)
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "SleuthEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()


class UnsupportedFilter(ValueError):
    """A LlamaIndex filter Sleuth's filter language cannot express."""


def to_where(filters: MetadataFilters) -> dict[str, Any]:
    """MetadataFilters as a Sleuth `where`; nested MetadataFilters nest.

    EQ NE GT GTE LT LTE IN NIN map one to one; ANY (the metadata list holds any of the
    values) is $in, since Sleuth matches a list field when any element does; CONTAINS
    (the list holds the value) is equality on the list field; ALL is one equality per
    value, ANDed. AND, OR and NOT (none matches) combine them. TEXT_MATCH,
    TEXT_MATCH_INSENSITIVE and IS_EMPTY have no equivalent: UnsupportedFilter names them.
    """
    parts = [to_where(f) if isinstance(f, MetadataFilters) else _condition(f)
             for f in filters.filters]
    if not parts:
        return {}
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return parts[0] if len(parts) == 1 else {"$and": parts}
    if condition == FilterCondition.OR:
        return {"$or": parts}
    if condition == FilterCondition.NOT:
        return {"$not": {"$or": parts}}
    raise UnsupportedFilter(f"filter condition {condition!r} has no Sleuth equivalent")


def _condition(f: MetadataFilter) -> dict[str, Any]:
    op, value = f.operator, f.value
    if op in _COMPARISON:
        return {f.key: {_COMPARISON[op]: value}}
    if op == FilterOperator.ANY:
        return {f.key: {"$in": value}}
    if op == FilterOperator.CONTAINS:
        return {f.key: {"$eq": value}}
    if op == FilterOperator.ALL:
        if not isinstance(value, list) or not value:
            raise UnsupportedFilter(f"filter on {f.key!r}: ALL needs a non-empty list")
        return {"$and": [{f.key: {"$eq": v}} for v in value]}
    raise UnsupportedFilter(
        f"filter on {f.key!r}: operator {op.name} ({op.value!r}) has no equivalent in "
        "Sleuth's filters (supported: EQ NE GT GTE LT LTE IN NIN ANY ALL CONTAINS)"
    )


class SleuthVectorStore(BasePydanticVectorStore):
    """A Sleuth collection as a LlamaIndex vector store, embedded or over HTTP.

    Give exactly one of `path` (a data directory, opened here), `db` (an open Database),
    `url` (a running server; `api_key` if it wants one) or `client` (a SleuthClient). The
    collection is created with the first nodes' dimension and `metric` (and a text index
    over the nodes' text); until then a query finds nothing.

    Query modes: DEFAULT (by embedding), MMR (the nearest, re-ranked for diversity),
    TEXT_SEARCH (BM25 over the nodes' text: `query_str`, no embedding needed) and HYBRID
    (both fused; `alpha`, LlamaIndex's weight of the dense side from 0 to 1, sets the
    fusion weights to alpha for the vector ranking and 1 - alpha for the text one; None
    keeps Sleuth's defaults, see `vectorstore/fusion.py`). HYBRID returns `hybrid_top_k`
    nodes when given, else `similarity_top_k`, and searches a query of stopwords only by
    embedding alone (TEXT_SEARCH refuses it).
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection: str = "docs"
    metric: str = "cosine"

    _backend: Backend = PrivateAttr()

    def __init__(self, collection: str = "docs", *, path: str | Path | None = None,
                 db: Database | None = None, url: str | None = None,
                 client: SleuthClient | None = None, api_key: str | None = None,
                 metric: str = "cosine") -> None:
        super().__init__(collection=collection, metric=metric)
        self._backend = open_backend(collection, path=path, db=db, url=url, client=client,
                                     api_key=api_key)

    @classmethod
    def class_name(cls) -> str:
        return "SleuthVectorStore"

    @property
    def client(self) -> Backend:
        """The backend: an embedded collection or a server's, see `app.integrations.backend`."""
        return self._backend

    def close(self) -> None:
        """Close the database or connection this store opened itself."""
        self._backend.close()

    # ---- writes -----------------------------------------------------------------

    def add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        """Upsert nodes with their embeddings; a node id already stored is replaced."""
        if not nodes:
            return []
        vectors = np.asarray([node.get_embedding() for node in nodes], dtype=np.float32)
        payloads = [self._payload(node) for node in nodes]
        self._backend.ensure(vectors.shape[1], self.metric, None)
        ids = [node.node_id for node in nodes]
        self._backend.upsert(ids, vectors, payloads)
        return ids

    def _payload(self, node: BaseNode) -> dict[str, Any]:
        metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
        return payload_of(node.get_content(metadata_mode=MetadataMode.NONE), metadata, TEXT_KEY)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document `ref_doc_id`."""
        if self._backend.dimension() is not None:
            self._backend.delete(where={DOC_KEY: ref_doc_id})

    def delete_nodes(self, node_ids: list[str] | None = None,
                     filters: MetadataFilters | None = None, **delete_kwargs: Any) -> None:
        """Delete the nodes of `node_ids` that match `filters` (either may be left out)."""
        if self._backend.dimension() is None:
            return
        if node_ids is None:
            self._backend.delete(where=to_where(filters) if filters else {})
            return
        if filters is not None:
            allowed = {r.id for r in self._scan(to_where(filters))}
            node_ids = [i for i in node_ids if i in allowed]
        self._backend.delete(ids=node_ids)

    def clear(self) -> None:
        """Delete every node of the collection."""
        self.delete_nodes()

    # ---- reads ------------------------------------------------------------------

    def get_nodes(self, node_ids: list[str] | None = None,
                  filters: MetadataFilters | None = None) -> list[BaseNode]:
        """The nodes of `node_ids` (in that order) or, without ids, all; among `filters`."""
        if self._backend.dimension() is None:
            return []
        if node_ids is None:
            records = self._scan(to_where(filters) if filters else {})
        else:
            records = self._backend.get(node_ids)
            if filters is not None:
                allowed = {r.id for r in self._scan(to_where(filters))}
                records = [r for r in records if r.id in allowed]
        return [to_node(r.id, r.payload) for r in records]

    def _scan(self, where: dict) -> list[Record]:
        found: list[Record] = []
        while True:
            page = self._backend.scan(where, _SCAN_PAGE, len(found))
            found += page
            if len(page) < _SCAN_PAGE:
                return found

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The `similarity_top_k` best nodes among the filters and `doc_ids`, by the query's
        mode (see the class docstring)."""
        mode = VectorStoreQueryMode(query.mode)
        if mode not in _MODES:
            raise ValueError(f"query mode {mode.name} is not supported by Sleuth's store "
                             f"(supported: {', '.join(m.name for m in _MODES)})")
        if query.node_ids:  # an index over a text-storing store passes [] for "any"
            raise ValueError("queries restricted to node_ids are not supported by Sleuth's "
                             "store: filter on metadata or doc_ids instead")
        if mode != VectorStoreQueryMode.TEXT_SEARCH and query.query_embedding is None:
            raise ValueError(f"a Sleuth {mode.name} query needs query_embedding")
        if mode in _TEXT_MODES and not query.query_str:
            raise ValueError(f"a Sleuth {mode.name} query needs query_str")
        if self._backend.dimension() is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        where = self._where(query)
        k = query.similarity_top_k
        vector = None if mode == VectorStoreQueryMode.TEXT_SEARCH else \
            np.asarray(query.query_embedding, dtype=np.float32)
        if mode == VectorStoreQueryMode.MMR:
            hits = self._mmr(vector, k, where, query.mmr_threshold)
        elif mode == VectorStoreQueryMode.HYBRID:
            hits = self._backend.search(vector, query.hybrid_top_k or k, where,
                                        text=query.query_str, mode=None,
                                        fusion=fusion_of(query.alpha))
        elif mode == VectorStoreQueryMode.TEXT_SEARCH:
            hits = self._backend.search(None, k, where, text=query.query_str, mode="text")
        else:
            hits = self._backend.search(vector, k, where, mode="vector")
        return VectorStoreQueryResult(nodes=[to_node(h.id, h.payload) for h in hits],
                                      similarities=[h.score for h in hits],
                                      ids=[h.id for h in hits])

    def _where(self, query: VectorStoreQuery) -> dict[str, Any] | None:
        parts = []
        if query.filters is not None and query.filters.filters:
            parts.append(to_where(query.filters))
        if query.doc_ids is not None:
            parts.append({DOC_KEY: {"$in": list(query.doc_ids)}})
        return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}

    def _mmr(self, vector: np.ndarray, k: int, where: dict | None,
             threshold: float | None) -> list[Hit]:
        candidates = self._backend.search(vector, k * MMR_PREFETCH, where, mode="vector")
        records = {r.id: r for r in self._backend.get([h.id for h in candidates],
                                                      include_vectors=True)}
        found = [h for h in candidates if h.id in records]
        if not found:
            return []
        _, chosen = get_top_k_mmr_embeddings(
            vector.tolist(), [records[h.id].vector.tolist() for h in found],
            similarity_top_k=k, embedding_ids=list(range(len(found))), mmr_threshold=threshold)
        return [found[i] for i in chosen]


def fusion_of(alpha: float | None) -> dict[str, float] | None:
    """LlamaIndex's hybrid `alpha` (1: dense only, 0: sparse only) as Sleuth's fusion
    weights; None keeps the store's defaults."""
    if alpha is None:
        return None
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be from 0 to 1, got {alpha!r}")
    return {"vector_weight": alpha, "text_weight": 1.0 - alpha}


def to_node(record_id: str, payload: dict[str, Any]) -> BaseNode:
    """A stored record as a node: LlamaIndex's own when it wrote it, else a TextNode of the
    chunk's text whose metadata is the rest of the payload and whose source is its
    document."""
    text = payload.get(TEXT_KEY)
    text = text if isinstance(text, str) else ""
    if "_node_content" in payload:
        return metadata_dict_to_node(payload, text=text)
    metadata = {k: v for k, v in payload.items() if k != TEXT_KEY}
    node = TextNode(id_=record_id, text=text, metadata=metadata)
    if isinstance(payload.get(DOC_KEY), str):
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=payload[DOC_KEY])
    return node
