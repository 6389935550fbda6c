"""Where the LangChain and LlamaIndex stores keep their records: a collection of an
embedded `Database` (opened from a path, or one the caller holds) or of a running Sleuth
server reached through the typed client. Both answer with the store's own `Record` and
`Hit`, so the adapters above never know which one they talk to.

No framework is imported here: this is the part both adapters share.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.client import ApiError, SleuthClient
from ingest.store import DIM_KEY, MODEL_KEY
from vectorstore import Database, Hit, Record
from vectorstore.errors import CollectionNotFound

HTTP_BATCH = 1000
"""Records per upsert or get request: well under the API's 5,000 and its body limit."""


class Backend(ABC):
    """One collection, by name, that may not exist yet (`create` makes it)."""

    def __init__(self, collection: str) -> None:
        self.collection = collection

    @abstractmethod
    def dimension(self) -> int | None:
        """The collection's dimension, None while it does not exist."""

    @abstractmethod
    def metric(self) -> str:
        """The collection's metric: cosine, dot or l2."""

    @abstractmethod
    def model(self) -> str | None:
        """The embedding model recorded in the collection, None if none or no collection."""

    @abstractmethod
    def create(self, dimension: int, metric: str, model: str | None) -> None:
        """Create the collection; `model` names the embedding model when Sleuth's own."""

    @abstractmethod
    def upsert(self, ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        """Insert or replace records by id, durable on return."""

    @abstractmethod
    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        """Delete by ids or by filter; how many live records went."""

    @abstractmethod
    def get(self, ids: Sequence[str], include_vectors: bool = False) -> list[Record]:
        """The records of `ids` that exist, in the order asked."""

    @abstractmethod
    def scan(self, where: dict, limit: int, offset: int = 0) -> list[Record]:
        """A page of the records matching `where`, in insertion order, without vectors."""

    @abstractmethod
    def search(self, vector: np.ndarray | None, k: int, where: dict | None = None, *,
               text: str | None = None, mode: str | None = None,
               fusion: dict | None = None) -> list[Hit]:
        """The `k` best records among `where`, best first: nearest `vector` (mode
        "vector"), best BM25 matches of `text` over the collection's text index ("text",
        no vector needed), or both fused ("hybrid", weighed by `fusion`). None chooses
        hybrid when both are given and the text has searchable words. Hits carry where
        each ranking put them (`vector_rank`, `text_rank` and their scores)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the backend opened itself (a database, a connection pool)."""

    def ensure(self, dimension: int, metric: str, model: str | None) -> None:
        """Create the collection unless it exists."""
        if self.dimension() is None:
            self.create(dimension, metric, model)


class EmbeddedBackend(Backend):
    """A collection of a `Database` in this process: the one given, or one opened (and
    closed by `close`) from a path."""

    def __init__(self, collection: str, db: Database | str | Path) -> None:
        super().__init__(collection)
        self._owned = not isinstance(db, Database)
        self.db = Database(db) if self._owned else db

    def _collection(self):
        return self.db.get_collection(self.collection)

    def dimension(self) -> int | None:
        return self._collection().dim if self.collection in self.db else None

    def metric(self) -> str:
        return self._collection().config.metric

    def model(self) -> str | None:
        if self.collection not in self.db:
            return None
        return self._collection().metadata.get(MODEL_KEY)

    def create(self, dimension: int, metric: str, model: str | None) -> None:
        metadata = {MODEL_KEY: model, DIM_KEY: dimension} if model else {}
        self.db.create_collection(self.collection, dim=dimension, metric=metric,
                                  metadata=metadata)

    def upsert(self, ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        self._collection().upsert(ids, vectors, payloads)

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        return self._collection().delete(ids=None if ids is None else list(ids), where=where)

    def get(self, ids: Sequence[str], include_vectors: bool = False) -> list[Record]:
        found = self._collection().get(ids=list(ids), include_vectors=include_vectors)
        return [r for r in found if r is not None]

    def scan(self, where: dict, limit: int, offset: int = 0) -> list[Record]:
        return self._collection().get(where=where, limit=limit, offset=offset,
                                      include_vectors=False)

    def search(self, vector: np.ndarray | None, k: int, where: dict | None = None, *,
               text: str | None = None, mode: str | None = None,
               fusion: dict | None = None) -> list[Hit]:
        return self._collection().search(vector, k=k, where=where, text=text, mode=mode,
                                         fusion=fusion)

    def close(self) -> None:
        if self._owned:
            self.db.close()


class HttpBackend(Backend):
    """A collection of a running Sleuth server, through `SleuthClient`: the one given, or
    one made (and closed by `close`) for `url`."""

    def __init__(self, collection: str, client: SleuthClient | str,
                 api_key: str | None = None) -> None:
        super().__init__(collection)
        self._owned = isinstance(client, str)
        self.client = SleuthClient(client, api_key=api_key) if self._owned else client

    def _info(self):
        try:
            return self.client.get_collection(self.collection)
        except ApiError as e:
            if e.status == 404:  # the only 404 of this route: no such collection
                return None
            raise

    def dimension(self) -> int | None:
        info = self._info()
        return None if info is None else info.dimension

    def metric(self) -> str:
        info = self._info()
        if info is None:
            raise CollectionNotFound(f"collection {self.collection!r} not found")
        return info.metric

    def model(self) -> str | None:
        info = self._info()
        return None if info is None else info.model

    def create(self, dimension: int, metric: str, model: str | None) -> None:
        """Over HTTP the model is not recorded: the API records only the server's own."""
        self.client.create_collection(self.collection, metric=metric, dimension=dimension)

    def upsert(self, ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        for at in range(0, len(ids), HTTP_BATCH):
            end = at + HTTP_BATCH
            self.client.upsert(self.collection, ids[at:end], vectors[at:end], payloads[at:end])

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        if ids is not None and not ids:
            return 0
        return self.client.delete_records(self.collection, ids=ids, where=where)

    def get(self, ids: Sequence[str], include_vectors: bool = False) -> list[Record]:
        ids = list(ids)
        found = [r for at in range(0, len(ids), HTTP_BATCH)
                 for r in self.client.get_records(self.collection, ids[at:at + HTTP_BATCH],
                                                  include_vectors=include_vectors)]
        return [Record(r.id, None if r.vector is None else np.asarray(r.vector, np.float32),
                       r.payload) for r in found]

    def scan(self, where: dict, limit: int, offset: int = 0) -> list[Record]:
        found = self.client.get_records(self.collection, where=where, limit=limit,
                                        offset=offset)
        return [Record(r.id, None, r.payload) for r in found]

    def search(self, vector: np.ndarray | None, k: int, where: dict | None = None, *,
               text: str | None = None, mode: str | None = None,
               fusion: dict | None = None) -> list[Hit]:
        """The API's hits carry typed provenance fields; the records' own payloads, read
        back by id, are what the adapters need to give metadata back exactly. A text with
        a vector goes as the API's query with the vector the caller embedded it to, so the
        server never embeds with a model other than the collection's."""
        hits = self.client.search(self.collection, text, vector=vector, k=k, where=where,
                                  mode=mode, fusion=fusion).hits
        payloads = {r.id: r.payload for r in self.get([h.id for h in hits])}
        return [Hit(h.id, h.score, payloads[h.id], h.vector_score, h.vector_rank,
                    h.text_score, h.text_rank) for h in hits if h.id in payloads]

    def close(self) -> None:
        if self._owned:
            self.client.close()


def open_backend(collection: str, *, path: str | Path | None = None, db: Database | None = None,
                 url: str | None = None, client: SleuthClient | None = None,
                 api_key: str | None = None) -> Backend:
    """The backend named by exactly one of `path`, `db` (embedded) or `url`, `client`
    (a running server)."""
    given = {k: v for k, v in {"path": path, "db": db, "url": url, "client": client}.items()
             if v is not None}
    if len(given) != 1:
        raise ValueError(f"give exactly one of path, db, url or client; got {sorted(given)}")
    if path is not None or db is not None:
        return EmbeddedBackend(collection, db if db is not None else path)
    return HttpBackend(collection, client if client is not None else url, api_key)


def payload_of(text: str, metadata: dict[str, Any], text_key: str = "text") -> dict[str, Any]:
    """A record's payload: the metadata with the text under `text_key` (which the metadata
    must not use itself: it would be lost)."""
    if text_key in metadata:
        raise ValueError(f"metadata key {text_key!r} is reserved for the text in Sleuth's "
                         "payloads; rename it")
    return {**metadata, text_key: text}
