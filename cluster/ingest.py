"""Ingestion on Ray Data: the single-process pipeline's plan and report, its parsing and
chunking run as Ray tasks, embedding in an actor pool, writes from the cluster.

    plan (driver)  ->  from_items(files)  ->  flat_map(parse + chunk)   tasks
                   ->  map_batches(embed)   actor pool, one model per actor
                   ->  map_batches(write)   actor pool, each a router to the shards
                   ->  per-file outcomes (driver): settle updates, report

The plan (`ingest.plan.make_plan`), the parser (`ingest.worker.parse`), the chunker and
the report are the single-process pipeline's own, so the same files give the same chunks
(ids, texts, payloads) and the same per-file report, and unchanged files are skipped the
same way. A file is written only once it parsed whole; a changed file's old chunks are
deleted after its new ones are in, as the single-process pipeline does.
"""

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from functools import partial
from typing import Any

import numpy as np
import ray
from ray.data import ActorPoolStrategy, DataContext

from cluster.collection import DistributedCollection
from ingest.chunking import ChunkConfig, Chunker
from ingest.embedding import Embedder
from ingest.files import FileInfo, FileSelector
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.plan import Plan, make_plan
from ingest.recipe import Contextualizer
from ingest.report import FileResult, IngestReport, Progress
from ingest.store import check_model, settle_recipe
from ingest.worker import ParseTask, parse

TOKEN_BUDGET = 8192
"""Padded tokens per embedding call: a batch of long chunks holds fewer of them."""
WRITE_ROWS = 512


def token_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Positions grouped into embedding batches, by length, so that each batch's padded
    size (rows x longest) stays within `budget` tokens (a longer text goes alone)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for position in order:
        if current and (len(current) + 1) * max(lengths[position], 1) > budget:
            batches.append(current)
            current = []
        current.append(position)
    if current:
        batches.append(current)
    return batches


def _rows(chunker: Chunker, limits: Limits, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One file's rows: its chunks then a "done" row, or one "failed" row (a file that
    failed halfway, or broke an extraction limit, writes nothing)."""
    task = ParseTask(int(row["key"]), row["path"], FileInfo(**json.loads(row["info"])))
    chunks = []
    for message in parse(task, chunker, limits):
        kind = message[0]
        if kind == "chunks":
            chunks.extend(message[2])
        elif kind == "failed":
            yield _row(task.key, "failed", note=message[2])
            return
        elif kind == "done":
            for chunk in chunks:
                yield _row(task.key, "chunk", chunk.id, chunk.embedded_text,
                           json.dumps(chunk.payload()))
            yield _row(task.key, "done", note=json.dumps(message[2]))


def _row(key: int, kind: str, id: str = "", text: str = "", payload: str = "",
         note: str = "") -> dict[str, Any]:
    """A row of the dataset; `text` is what gets embedded (the chunk with its context)."""
    return {"key": key, "kind": kind, "id": id, "text": text, "payload": payload, "note": note}


class _Embed:
    """An embedding actor: one model, batches cut by padded tokens."""

    def __init__(self, model: str | None, backend: str, budget: int) -> None:
        self.embedder = Embedder(model, backend=backend)
        self.tokenizer = self.embedder.tokenizer
        self.budget = budget

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = np.zeros((len(batch["kind"]), self.embedder.dim), np.float32)
        chunks = np.flatnonzero(batch["kind"] == "chunk")
        texts = [str(t) for t in batch["text"][chunks]]
        lengths = [len(e.ids) for e in self.tokenizer.encode_batch(texts)]
        for group in token_batches(lengths, self.budget):
            vectors[chunks[group]] = self.embedder.embed([texts[i] for i in group])
        return {**batch, "vector": vectors}


class _Write:
    """A writing actor: a router to the collection's shards."""

    def __init__(self, collection: DistributedCollection) -> None:
        self.collection = collection  # its own router: a pickled router is made anew

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        chunks = np.flatnonzero(batch["kind"] == "chunk")
        if len(chunks):
            self.collection.upsert([str(i) for i in batch["id"][chunks]],
                                   np.stack(batch["vector"][chunks]),
                                   [json.loads(p) for p in batch["payload"][chunks]])
        return {k: batch[k] for k in ("key", "kind", "note")}


class RayIngestor:
    """Keeps a distributed collection in step with files, on Ray Data (see the module
    docstring). `embed_actors` models embed at once; `write_actors` routers write;
    `limits` bound what each file may expand into, as in the single-process pipeline."""

    def __init__(self, collection: DistributedCollection, embedder: Embedder, *,
                 chunking: ChunkConfig | None = None, template: str | None = None,
                 selector: FileSelector | None = None, embed_actors: int = 1,
                 write_actors: int = 1, token_budget: int = TOKEN_BUDGET,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        check_model(collection, embedder)
        self.collection = collection
        self.embedder = embedder
        self.selector = selector or FileSelector()
        self.embed_actors = embed_actors
        self.write_actors = write_actors
        self.token_budget = token_budget
        self.limits = limits
        self.recipe = settle_recipe(collection, embedder, chunking, template)
        tokenizer = embedder.tokenizer
        self.chunker = Chunker(
            tokenizer, self.recipe.chunk_tokens, self.recipe.overlap_tokens,
            Contextualizer(self.recipe.template, tokenizer, embedder.max_tokens))

    def ingest(self, paths: Iterable[str | os.PathLike],
               progress: Callable[[Progress], None] | None = None) -> IngestReport:
        """Bring the collection in step with `paths`: add, update, skip, remove, report."""
        started = time.perf_counter()
        plan = make_plan(paths, self.collection, self.selector)
        report = IngestReport(results=list(plan.results))
        for path, doc_id in plan.removals.items():
            self.collection.delete(where={"doc_id": doc_id})
            report.results.append(FileResult(path, "removed"))
        if plan.tasks:
            self._run(plan, report, progress)
        report.seconds = time.perf_counter() - started
        return report

    def _run(self, plan: Plan, report: IngestReport,
             progress: Callable[[Progress], None] | None) -> None:
        """Stream the files through the pipeline, then settle each (rows arrive in no
        set order: a file's outcome may overtake its last chunks)."""
        written = dict.fromkeys(plan.statuses, 0)
        ends: dict[int, tuple[str, str]] = {}
        for batch in self._dataset(plan.tasks).iter_batches(batch_format="numpy"):
            for key, kind, note in zip(batch["key"].tolist(), batch["kind"], batch["note"],
                                       strict=True):
                if kind == "chunk":
                    written[key] += 1
                    report.chunks += 1
                else:
                    ends[key] = (str(kind), str(note))
            if progress is not None:
                progress(Progress(len(ends), len(plan.tasks), report.chunks))
        for task in plan.tasks:
            kind, note = ends[task.key]
            report.results.append(self._settle(task, plan.statuses[task.key], kind, note,
                                               written[task.key]))

    def _settle(self, task: ParseTask, status: str, kind: str, note: str,
                chunks: int) -> FileResult:
        """A file's outcome once all its rows are through: an updated file's other
        versions go (after its new chunks are in, so a search never finds it missing)."""
        if kind == "failed":
            return FileResult(task.info.path, "failed", reason=note)
        if status == "updated":
            self.collection.delete(where={"doc_id": task.info.doc_id,
                                          "content_hash": {"$ne": task.info.content_hash}})
        return FileResult(task.info.path, status, chunks, warnings=tuple(json.loads(note)))

    def _dataset(self, tasks: list[ParseTask]) -> ray.data.Dataset:
        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.verbose_progress = False
        items = [{"key": t.key, "path": t.path, "info": json.dumps(asdict(t.info))}
                 for t in tasks]
        rows_per_batch = max(1, self.token_budget // max(self.chunker.target, 1)) * 4
        return (
            ray.data.from_items(items, override_num_blocks=min(len(items), 64))
            .flat_map(partial(_rows, self.chunker, self.limits))
            .map_batches(_Embed, fn_constructor_args=(self._model(), self.embedder.backend,
                                                  self.token_budget),
                         batch_size=rows_per_batch, batch_format="numpy",
                         compute=ActorPoolStrategy(size=self.embed_actors), num_cpus=1)
            .map_batches(_Write, fn_constructor_args=(self.collection,), batch_size=WRITE_ROWS,
                         batch_format="numpy", compute=ActorPoolStrategy(size=self.write_actors),
                         num_cpus=0)
        )

    def _model(self) -> str | None:
        return self.embedder.name
