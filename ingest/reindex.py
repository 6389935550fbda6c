"""Rebuild a collection as a new generation from its stored chunks, then switch over.

`reindex` takes every record of the collection, embeds its stored text by the recipe
asked for (`ingest.recipe`: the embedder's model, the context template), and writes it
with the same id and payload into a staged generation (`Database.stage`), while the
current generation goes on answering searches and taking writes. Passes repeat until the
staged generation has caught up; the last one runs inside `Database.promote`, while
writes wait, which then makes the new generation current in one atomic step and drops
the old. When the recipe embeds stored chunks exactly as before (same model, template and
version), vectors are carried over instead of embedded: a rebuild of the store's indexes.

Killed at any moment, the current generation stays whole; the next run finds the staged
one (`Database.staged`) and resumes it when it was made for the same recipe (records
already carried over with the same payload are skipped), else starts it over.
"""

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import orjson

from ingest.embedding import Embedder
from ingest.errors import IngestError, ModelMismatch
from ingest.recipe import CONTEXT_TEMPLATE, RECIPE_KEY, Contextualizer, Recipe, check_template
from ingest.store import DIM_KEY, MODEL_KEY, recorded_recipe
from vectorstore import Collection, Database, Record
from vectorstore.config import TextConfig

BATCH = 256
"""Records embedded and written at a time (the stop callback is asked between batches)."""
PAGE = 2000
"""Records read at a time while comparing the generations."""
CAUGHT_UP = BATCH
"""Changes left for the final pass, run while writes wait: at most about one batch."""
MAX_PASSES = 4


class ReindexStopped(IngestError):
    """A reindex stopped on request; the staged generation stays to be resumed."""


@dataclass(frozen=True)
class ReindexProgress:
    """Records carried into the new generation so far, of `total` (moving while
    writes go on), and the pass: 1 the first, more while catching up."""

    done: int
    total: int
    passes: int


@dataclass(frozen=True)
class ReindexReport:
    collection: str
    recipe: Recipe
    records: int
    """Records of the new generation."""
    embedded: int
    """Records embedded by this run."""
    copied: int
    """Records whose vector was carried over (same vectors, or no text to embed)."""
    resumed: bool
    """The run went on with a staged generation an interrupted run left."""
    seconds: float

    def summary(self) -> str:
        how = f"{self.embedded} embedded" + (f", {self.copied} carried over"
                                              if self.copied else "")
        again = "; resumed an interrupted run" if self.resumed else ""
        return (f"reindexed {self.collection!r}: {self.records} chunks ({how}) by "
                f"{self.recipe.model} ({self.recipe.describe()}) in {self.seconds:.1f}s{again}")


def target_recipe(collection: Collection, embedder: Embedder,
                  template: str | None = None) -> Recipe:
    """The recipe a reindex by `embedder` gives `collection` (its chunking kept: stored
    chunks are not cut again), checked before anything is written: the dimension is the
    collection's for life, and records without stored text can keep their vectors only
    while the vectors stay alike."""
    if embedder.dim != collection.dim:
        raise ModelMismatch(
            f"model {embedder.name!r} makes {embedder.dim}-dimensional vectors; collection "
            f"{collection.name!r} holds {collection.dim}-dimensional ones, fixed for its "
            "life. Ingest the documents into a new collection for this model instead.")
    recorded = recorded_recipe(collection)
    target = Recipe(embedder.name, check_template(template or CONTEXT_TEMPLATE),
                    recorded.chunk_tokens, recorded.overlap_tokens)
    if not target.same_vectors(recorded):
        bare = collection.count(where={"text": {"$exists": False}})
        if bare:
            raise IngestError(
                f"collection {collection.name!r} has {bare} record(s) without stored text "
                "(vectors upserted directly): they cannot be re-embedded by another model "
                "or template. Delete them first, or keep the collection's recipe.")
    return target


def reindex(
    db: Database,
    name: str,
    embedder: Embedder,
    *,
    template: str | None = None,
    progress: Callable[[ReindexProgress], None] | None = None,
    stop: Callable[[], str | None] | None = None,
) -> ReindexReport:
    """Rebuild collection `name` by `embedder` (and `template`) as a new generation and
    switch to it. `stop` is asked between batches; a reason stops the run
    (ReindexStopped), keeping the staged generation for the next run."""
    started = time.perf_counter()
    current = db.get_collection(name)
    recipe = target_recipe(current, embedder, template)
    staged, resumed = _staging(db, name, current, recipe)
    try:
        copy = recipe.same_vectors(recorded_recipe(current))
        sync = _Sync(embedder, recipe, copy, progress, stop)
        for _ in range(MAX_PASSES):
            if sync.run(current, staged) <= CAUGHT_UP:
                break
        staged.flush()
        db.promote(name, final=lambda old, new: sync.run(old, new, final=True))
    except BaseException:
        db.release(name)
        raise
    return ReindexReport(name, recipe, staged.count(), sync.embedded, sync.copied, resumed,
                         time.perf_counter() - started)


def _staging(db: Database, name: str, current: Collection,
             recipe: Recipe) -> tuple[Collection, bool]:
    """The staged generation to fill: the one an interrupted run left if it was made for
    this recipe and configuration, else a new one. Whether it is resumed. The new
    generation has the current one's configuration, with a text index (the default
    fields) if the current one was made without."""
    metadata = {**current.metadata, MODEL_KEY: recipe.model, DIM_KEY: current.dim,
                RECIPE_KEY: recipe.metadata()}
    config = replace(current.config, text=current.config.text or TextConfig())
    left = db.staged(name)
    if left is not None:
        if recorded_recipe(left) == recipe and left.config == config:
            return left, True
        db.unstage(name)
    return db.stage(name, config, metadata), False


class _Sync:
    """Brings a staged generation in step with the current one: records missing or
    changed are embedded (or carried over) and written, records gone are deleted."""

    def __init__(self, embedder: Embedder, recipe: Recipe, copy: bool, progress, stop) -> None:
        self.embedder = embedder
        self.copy = copy
        self.contextualizer = Contextualizer(recipe.template, embedder.tokenizer,
                                             embedder.max_tokens)
        self.progress, self.stop = progress, stop
        self.embedded = self.copied = 0
        self.passes = 0

    def run(self, source: Collection, target: Collection, final: bool = False) -> int:
        """One pass; the number of records it wrote or deleted. A `final` pass is not
        stopped: it runs while writes wait, to switch over."""
        self.passes += 1
        wanted = _digests(source, self.copy)
        have = _digests(target, self.copy)
        todo = [rid for rid, digest in wanted.items() if have.get(rid) != digest]
        gone = [rid for rid in have if rid not in wanted]
        done = len(wanted) - len(todo)
        self._tell(done, len(wanted))
        for start in range(0, len(todo), BATCH):
            if not final:
                self._check_stop()
            records = [r for r in source.get(ids=todo[start:start + BATCH],
                                             include_vectors=self.copy) if r is not None]
            if records:
                target.upsert([r.id for r in records], self._vectors(records),
                              [r.payload for r in records])
            done += len(todo[start:start + BATCH])
            self._tell(done, len(wanted))
        if gone:
            target.delete(ids=gone)
        return len(todo) + len(gone)

    def _vectors(self, records: list[Record]) -> np.ndarray:
        """The new generation's vectors of `records`: carried over, or embedded from
        their stored text (a record written without text meanwhile stops the run)."""
        if self.copy:
            self.copied += len(records)
            return np.stack([r.vector for r in records])
        for r in records:
            if not isinstance(r.payload.get("text"), str):
                raise IngestError(f"record {r.id!r} has no stored text to re-embed; the "
                                  "reindex stopped and the current generation is unchanged")
        self.embedded += len(records)
        return self.embedder.embed([self._embedded(r.payload) for r in records])

    def _embedded(self, payload: dict) -> str:
        headings = payload.get("heading_path")
        headings = [h for h in headings if isinstance(h, str)] if isinstance(headings, list) \
            else []
        title = payload.get("title") if isinstance(payload.get("title"), str) else ""
        return self.contextualizer.embedded(title, headings, payload["text"])

    def _check_stop(self) -> None:
        reason = self.stop() if self.stop is not None else None
        if reason:
            raise ReindexStopped(reason)

    def _tell(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(ReindexProgress(done, total, self.passes))


def _digests(collection: Collection, with_vectors: bool) -> dict[str, bytes]:
    """Every record's id with a digest of its payload (and vector, when vectors are
    carried over as they are), read a page at a time."""
    return {record.id: _digest(record, with_vectors) for record in _records(collection,
                                                                            with_vectors)}


def _records(collection: Collection, with_vectors: bool) -> Iterator[Record]:
    offset = 0
    while True:
        page = collection.get(where={}, limit=PAGE, offset=offset, include_vectors=with_vectors)
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def _digest(record: Record, with_vector: bool) -> bytes:
    digest = hashlib.blake2b(orjson.dumps(record.payload, option=orjson.OPT_SORT_KEYS),
                             digest_size=16)
    if with_vector:  # rounded: writing a unit vector again may move its last bits
        digest.update(np.round(np.asarray(record.vector, dtype=np.float32), 5).tobytes())
    return digest.digest()
