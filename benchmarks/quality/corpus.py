"""The ingests a run measures: each source's HTML made into a Sleuth collection, per variant.

A variant is one recipe for the chunks and what is embedded of them. `bare` is the pipeline
with the bare recipe (`ingest.recipe.BARE_TEMPLATE`: each chunk embedded alone): `Ingestor`
on the source's HTML root (loaders, chunking, embedding with the bundled all-MiniLM-L6-v2,
store writes). `context` is the same chunks and payloads embedded by the context recipe
(`CONTEXT_TEMPLATE`: document title and heading path, then the chunk) as `sleuth reindex`
embeds stored chunks (`Contextualizer.embedded`), so the two differ in their vectors only.

Collections live in one `Database` under the harness's data folder and are reused: each
records a fingerprint of everything that shapes it (the ingest package's code, the model,
the variant's recipe); a mismatch drops and rebuilds it, with unchanged texts' embeddings
coming from the on-disk cache. The `Ingestor` itself skips unchanged files.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ingest
from benchmarks.quality.cache import CachedEmbedder
from benchmarks.quality.qrels import Source
from ingest.files import FileSelector
from ingest.pipeline import Ingestor
from ingest.recipe import BARE_TEMPLATE, CONTEXT_TEMPLATE, Contextualizer
from ingest.report import Progress
from ingest.store import open_collection
from vectorstore import Database
from vectorstore.collection import Collection
from vectorstore.config import TextConfig

FINGERPRINT_KEY = "quality_fingerprint"
HTML_PAGES = FileSelector(include=["*.html"], exclude=["_*/*", "*/_*/*"])
"""What is ingested of a root: its HTML pages, without the folders whose name starts with
`_` (`_static`, `_images`, `_sources`, `_modules` source listings), as pages.jsonl counts
them. genindex, search and the top index page are ingested and dropped when scored."""

_PROGRESS_SECONDS = 30.0
_UPSERT_BATCH = 512


@dataclass(frozen=True)
class Chunks:
    """The chunks of one ingest read back from its collection, in insertion order."""

    collection: Collection
    texts: list[str]
    sources: list[str]
    payloads: list[dict]
    vectors: np.ndarray
    """(n, dim) float32, unit length: what the collection stores."""


@dataclass(frozen=True)
class Variant:
    """One ingest recipe. `fill` fills an empty collection for a source; `earlier` holds the
    chunks of the variants built before this one in the run (in `VARIANTS` order)."""

    name: str
    about: str
    recipe: str
    """Everything that makes this variant's collection differ, for its fingerprint."""
    fill: Callable[[Collection, Source, CachedEmbedder, dict[str, Chunks]], None]
    needs: tuple[str, ...] = ()
    incremental: bool = False
    """`fill` brings a filled collection up to date cheaply, so it runs on every build (the
    pipeline skips unchanged files and replaces changed ones)."""


def fill_bare(collection: Collection, source: Source, embedder: CachedEmbedder,
              earlier: dict[str, Chunks]) -> None:
    """The product's pipeline on the source's HTML root."""
    last = [time.monotonic()]

    def tell(p: Progress) -> None:
        if time.monotonic() - last[0] >= _PROGRESS_SECONDS:
            last[0] = time.monotonic()
            print(f"  {source.name}: {p.files_done}/{p.files_total} files, {p.chunks} chunks",
                  flush=True)

    with Ingestor(collection, embedder, selector=HTML_PAGES, template=BARE_TEMPLATE) as ingestor:
        report = ingestor.ingest([source.root], progress=tell)
    failed = report.of("failed")
    if failed:
        print(f"  {source.name}: {len(failed)} file(s) failed, e.g. {failed[0].path}: "
              f"{failed[0].reason}")


def fill_context(collection: Collection, source: Source, embedder: CachedEmbedder,
                 earlier: dict[str, Chunks]) -> None:
    """The `bare` chunks again, each embedded by the context recipe, as a reindex does."""
    bare = earlier["bare"]
    context = Contextualizer(CONTEXT_TEMPLATE, embedder.tokenizer, embedder.max_tokens)
    ids = [p["_id"] for p in bare.payloads]
    for start in range(0, len(ids), _UPSERT_BATCH):
        payloads = bare.payloads[start:start + _UPSERT_BATCH]
        vectors = embedder.embed([context.embedded(p.get("title") or "",
                                                   p.get("heading_path") or [], p["text"])
                                  for p in payloads])
        collection.upsert(ids[start:start + _UPSERT_BATCH], vectors,
                          [{k: v for k, v in p.items() if k != "_id"} for p in payloads])


VARIANTS = {
    "bare": Variant("bare", "chunk text embedded alone (the bare recipe)",
                    f"pipeline {HTML_PAGES.include} - {HTML_PAGES.exclude} {BARE_TEMPLATE!r}",
                    fill_bare, incremental=True),
    "context": Variant("context", "title + heading path + chunk text embedded (the context "
                       "recipe, as `sleuth reindex` embeds the bare chunks)",
                       repr(CONTEXT_TEMPLATE), fill_context, needs=("bare",)),
}


def code_fingerprint(package_dir: Path = Path(ingest.__file__).parent) -> str:
    """sha256 over the ingest package's source files: a loader or chunking change shows."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build(db: Database, source: Source, variant: Variant, embedder: CachedEmbedder,
          earlier: dict[str, Chunks]) -> tuple[Chunks, float, bool]:
    """The variant's collection for `source`, reused when its fingerprint matches.

    Returns the chunks, the seconds spent filling, and whether it was (re)built.
    """
    parts = [code_fingerprint(), embedder.name, variant.recipe, str(source.root),
             repr(TextConfig())]  # the text index ingest gives a collection
    parts += [_ids_digest(earlier[name]) for name in variant.needs]
    fingerprint = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    name = f"{source.name}-{variant.name}"
    if name in db and db.get_collection(name).metadata.get(FINGERPRINT_KEY) != fingerprint:
        db.drop_collection(name)
    collection = open_collection(db, name, embedder)
    started = time.perf_counter()
    rebuilt = FINGERPRINT_KEY not in collection.metadata
    if rebuilt or variant.incremental:
        variant.fill(collection, source, embedder, earlier)
        collection.flush()
        collection.update_metadata({FINGERPRINT_KEY: fingerprint})
    return read_chunks(collection), time.perf_counter() - started, rebuilt


def _ids_digest(chunks: Chunks) -> str:
    return hashlib.sha256("\n".join(p["_id"] for p in chunks.payloads).encode()).hexdigest()


def read_chunks(collection: Collection) -> Chunks:
    """Every live record of `collection`, payloads tagged with their record id as `_id`."""
    records = collection.get(where={}, limit=None, include_vectors=True)
    payloads = [{**r.payload, "_id": r.id} for r in records]
    dim = collection.dim
    vectors = (np.stack([r.vector for r in records]).astype(np.float32, copy=False)
               if records else np.zeros((0, dim), np.float32))
    return Chunks(collection, [p["text"] for p in payloads], [p["source"] for p in payloads],
                  payloads, vectors)
