"""Sleuth as a LangChain `VectorStore` (and, through `as_retriever`, a retriever).

    from app.integrations.langchain import SleuthVectorStore

    store = SleuthVectorStore(path="data")            # or url="http://127.0.0.1:8000"
    docs = store.similarity_search("who approves expenses?", k=3,
                                   filter={"file_type": "html"})
    hits = store.similarity_search("ERR-4471", mode="text")      # exact words, BM25
    retriever = store.as_retriever(search_kwargs={"k": 5, "mode": "hybrid"})

Records are Sleuth records: the id is the Document's id, the payload is its metadata with
the text under "text", so a collection filled by `sleuth ingest` reads back as Documents
whose metadata hold source, page, heading_path and the rest, and filters are Sleuth's own
`where` language over those fields. Embeddings are the caller's LangChain `Embeddings`,
or Sleuth's own model (`SleuthEmbeddings`: the collection's recorded model, else the
bundled all-MiniLM-L6-v2). Needs the `sleuth[langchain]` extra.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from app.client import SleuthClient
from app.integrations.backend import Backend, open_backend, payload_of
from ingest.embedding import Embedder, shared_embedder
from vectorstore import Database, Hit, Record

TEXT_KEY = "text"


class SleuthEmbeddings(Embeddings):
    """Sleuth's sentence-transformers embedder as LangChain `Embeddings`: `model` is a
    sentence-transformers name or path, None for the bundled all-MiniLM-L6-v2."""

    def __init__(self, model: str | None = None) -> None:
        self.embedder: Embedder = shared_embedder(model)

    @property
    def name(self) -> str:
        return self.embedder.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


class SleuthVectorStore(VectorStore):
    """A Sleuth collection as a LangChain vector store, embedded or over HTTP.

    Give exactly one of `path` (a data directory, opened here), `db` (an open Database),
    `url` (a running server; `api_key` if it wants one) or `client` (a SleuthClient). The
    collection is created on first use with the embeddings' dimension, `metric` and
    `index`. `embedding` None means Sleuth's own model.

    `mode` is how `similarity_search` matches a query unless a call (or a retriever's
    `search_kwargs`) says otherwise: "vector" (the default, as every LangChain store),
    "text" (BM25 over the documents' text, no embedding) or "hybrid" (both fused; a call's
    `fusion` sets the weights, see `vectorstore/fusion.py`; a query of stopwords only, or a
    collection without a text index, is searched by vector). Scores are the mode's: a
    similarity, BM25, or the fused score; relevance scores in [0, 1] exist for vector mode
    only.
    """

    def __init__(
        self,
        embedding: Embeddings | None = None,
        *,
        collection: str = "docs",
        path: str | Path | None = None,
        db: Database | None = None,
        url: str | None = None,
        client: SleuthClient | None = None,
        api_key: str | None = None,
        metric: str = "cosine",
        mode: str = "vector",
    ) -> None:
        self._mode = _check_mode(mode)
        self._backend: Backend = open_backend(collection, path=path, db=db, url=url,
                                              client=client, api_key=api_key)
        if embedding is None:
            embedding = SleuthEmbeddings(self._backend.model())
        self._embedding = embedding
        if self._backend.dimension() is None:
            dimension = len(embedding.embed_query("dimension"))
            model = embedding.name if isinstance(embedding, SleuthEmbeddings) else None
            self._backend.create(dimension, metric, model)
        self._metric = self._backend.metric()

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def collection(self) -> str:
        return self._backend.collection

    def close(self) -> None:
        """Close the database or connection this store opened itself."""
        self._backend.close()

    # ---- writes -----------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert texts: an id already stored is replaced. Ids left out (or None)
        are made up as random UUIDs."""
        texts = list(texts)
        metadatas = metadatas if metadatas is not None else [{} for _ in texts]
        ids = ids if ids is not None else [None] * len(texts)
        if not len(texts) == len(metadatas) == len(ids):
            raise ValueError(f"{len(texts)} texts, {len(metadatas)} metadatas and "
                             f"{len(ids)} ids: give as many of each")
        if not texts:
            return []
        ids = [i if i is not None else str(uuid.uuid4()) for i in ids]
        payloads = [payload_of(t, m, TEXT_KEY) for t, m in zip(texts, metadatas, strict=True)]
        vectors = np.asarray(self._embedding.embed_documents(texts), dtype=np.float32)
        self._backend.upsert(ids, vectors, payloads)
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete by ids, or by `filter=` (a Sleuth `where`); neither deletes everything.
        Ids not stored are ignored."""
        where = kwargs.get("filter")
        if ids is not None:
            self._backend.delete(ids=ids)
        else:
            self._backend.delete(where=where if where is not None else {})
        return True

    # ---- reads ------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored Documents of `ids`, in the order asked; unknown ids are left out."""
        return [_document(r.id, r.payload) for r in self._backend.get(list(ids))]

    def similarity_search(self, query: str, k: int = 4, filter: dict | None = None,
                          **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter,
                                                                     **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, *,
        mode: str | None = None, fusion: dict | None = None, **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """The best Documents for the query among `filter`, by `mode` (the store's unless
        given), with Sleuth's score: cosine or dot similarity (higher is better) or L2
        distance (lower is better) in vector mode, BM25 in text mode, the fused score in
        hybrid mode. `fusion` weighs a hybrid search (method, vector_weight,
        text_weight, rrf_k, depth, coverage)."""
        mode = _check_mode(mode or self._mode)
        vector = None if mode == "text" else \
            np.asarray(self._embedding.embed_query(query), dtype=np.float32)
        # Hybrid is the store's choice (mode None): a query without a searchable word (only
        # stopwords) is then searched by vector rather than refused.
        hits = self._backend.search(vector, k, filter, text=None if mode == "vector" else query,
                                    mode=None if mode == "hybrid" else mode, fusion=fusion)
        return [(_document(h.id, h.payload), h.score) for h in hits]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Scores mapped to [0, 1]: vector mode only (BM25 and fused scores have no fixed
        scale to map)."""
        mode = kwargs.get("mode") or self._mode
        if mode != "vector":
            raise ValueError(f"relevance scores exist for vector mode only, not {mode!r}: "
                             "use similarity_search_with_score for the mode's own scores")
        return super()._similarity_search_with_relevance_scores(query, k, **kwargs)

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4,
                                    filter: dict | None = None, **kwargs: Any
                                    ) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k, filter)]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None
    ) -> list[tuple[Document, float]]:
        hits = self._search(embedding, k, filter)
        return [(_document(h.id, h.payload), h.score) for h in hits]

    def _search(self, embedding: Sequence[float], k: int, filter: dict | None) -> list[Hit]:
        return self._backend.search(np.asarray(embedding, dtype=np.float32), k, filter,
                                    mode="vector")

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Sleuth's scores mapped to [0, 1]: similarities are (1 + s) / 2 (cosine, and dot
        on unit vectors); L2 distances are LangChain's Euclidean mapping."""
        if self._metric == "l2":
            return self._euclidean_relevance_score_fn
        return _similarity_relevance

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
        filter: dict | None = None, **kwargs: Any,
    ) -> list[Document]:
        """MMR is by embedding: candidates are the `fetch_k` nearest, whatever the store's
        mode; a call asking for another mode is refused."""
        if kwargs.get("mode", "vector") != "vector":
            raise ValueError(f"max marginal relevance search is by vector, not mode "
                             f"{kwargs['mode']!r}")
        return self.max_marginal_relevance_search_by_vector(
            self._embedding.embed_query(query), k, fetch_k, lambda_mult, filter)

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20,
        lambda_mult: float = 0.5, filter: dict | None = None, **kwargs: Any,
    ) -> list[Document]:
        """`k` Documents chosen among the `fetch_k` nearest for relevance and diversity
        (`lambda_mult` 1: relevance only, 0: diversity only)."""
        hits = self._search(embedding, max(k, fetch_k), filter)
        records = {r.id: r for r in self._backend.get([h.id for h in hits], include_vectors=True)}
        found: list[Record] = [records[h.id] for h in hits if h.id in records]
        if not found:
            return []
        chosen = maximal_marginal_relevance(
            np.asarray(embedding, dtype=np.float32),
            np.stack([r.vector for r in found]), lambda_mult=lambda_mult, k=k)
        return [_document(found[i].id, found[i].payload) for i in chosen]

    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: Embeddings | None = None,
        metadatas: list[dict] | None = None, *, ids: list[str] | None = None, **kwargs: Any,
    ) -> "SleuthVectorStore":
        """A store (built from `kwargs`: collection, path or url...) holding `texts`."""
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store


MODES = ("vector", "text", "hybrid")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    return mode


def _similarity_relevance(score: float) -> float:
    return (1.0 + score) / 2.0


def _document(record_id: str, payload: dict[str, Any]) -> Document:
    """A stored record as a Document: its text, and every other payload field as metadata."""
    metadata = {k: v for k, v in payload.items() if k != TEXT_KEY}
    text = payload.get(TEXT_KEY)
    return Document(id=record_id, page_content=text if isinstance(text, str) else "",
                    metadata=metadata)
