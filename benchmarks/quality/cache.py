"""Embeddings kept on disk, keyed by model and the exact text embedded.

Embedding is the slow step of the harness (about 10 chunks/s on two cores), and most chunk
texts do not change between runs, or between two ingests that differ only in some pages:
`CachedEmbedder` looks every text up here first and embeds only the ones never seen.
One SQLite file; a key is sha256(model, kind, text), a value the float32 vector's bytes
(the model name carries the embedding backend when it is not PyTorch).
"""

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from ingest.embedding import Embedder

_LOOKUP_BATCH = 500


class EmbeddingCache:
    """A persistent map (model, kind, text) -> vector; `kind` is "document" or "query"."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=120)  # two runs may share one cache
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB)")
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model: str, kind: str, text: str) -> bytes:
        return hashlib.sha256(f"{model}\0{kind}\0{text}".encode("utf-8", "surrogatepass")).digest()

    def get_many(self, keys: list[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        for i in range(0, len(keys), _LOOKUP_BATCH):
            batch = keys[i:i + _LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", batch)
            found.update(rows)
        return found

    def put_many(self, items: list[tuple[bytes, bytes]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", items)

    def close(self) -> None:
        self._db.close()


class CachedEmbedder:
    """An `Embedder` whose `embed` and `embed_query` answer from an `EmbeddingCache` first.

    It has the attributes and calls the ingest pipeline uses (name, dim, max_tokens,
    tokenizer, batches, encode), so an `Ingestor` takes it in place of the embedder it wraps.
    """

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache
        self.name = embedder.name
        self.dim = embedder.dim
        # the backends' vectors differ in their last digits; torch's keep the bare name
        self.cache_name = embedder.name if embedder.backend == "torch" else (
            f"{embedder.name}#{embedder.backend}")

    @property
    def max_tokens(self) -> int:
        return self.embedder.max_tokens

    @property
    def tokenizer(self) -> Tokenizer:
        return self.embedder.tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document embeddings, (len(texts), dim) float32, as `Embedder.embed` gives them."""
        return self._lookup(list(texts), "document", self.embedder.embed)

    def batches(self, texts: Sequence[str]) -> list[list[int]]:
        """The wrapped embedder's model calls for `texts` (the pipeline embeds by them)."""
        return self.embedder.batches(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Document embeddings of one of `batches`, as `Embedder.encode` gives them."""
        return self._lookup(list(texts), "document", self.embedder.encode)

    def embed_query(self, text: str) -> np.ndarray:
        """A query embedding, (dim,) float32, as `Embedder.embed_query` gives it."""
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query embeddings of many texts, (len(texts), dim) float32."""
        return self._lookup(list(texts), "query", self._encode_queries)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.embedder.embed_query(t) for t in texts])

    def _lookup(self, texts: list[str], kind: str, compute) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        keys = [self.cache.key(self.cache_name, kind, t) for t in texts]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            first_text = {k: t for k, t in zip(keys, texts, strict=True)}
            vectors = compute([first_text[k] for k in todo]).astype(np.float32, copy=False)
            fresh = {k: v.tobytes() for k, v in zip(todo, vectors, strict=True)}
            self.cache.put_many(list(fresh.items()))
            found.update(fresh)
        self.cache.hits += len(texts) - len(todo)
        self.cache.misses += len(todo)
        for i, k in enumerate(keys):
            out[i] = np.frombuffer(found[k], dtype=np.float32)
        return out
