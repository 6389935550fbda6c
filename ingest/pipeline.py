"""Ingest files and folders into a collection: parse in worker processes, embed here.

Workers load and chunk files and stream chunks back through a bounded queue while this
process embeds them in large batches and writes them to the store, so both kinds of work
run at once and memory stays bounded whatever the size of a file or of the corpus.

A changed document's new chunks (ids carry the content hash) are written before its old
ones are deleted, so a search never finds it missing; a file that fails keeps whatever
was stored for it, and the rest of the batch goes on.
"""

import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from ingest.chunking import Chunk, ChunkConfig, Chunker
from ingest.embedding import Embedder
from ingest.files import FileSelector
from ingest.plan import Plan, make_plan
from ingest.recipe import Contextualizer
from ingest.report import FileResult, IngestReport, Progress
from ingest.store import check_model, settle_recipe
from ingest.worker import Message, ParseTask, init_worker, parse, run_task

EMBED_BATCH = 256
"""Chunks per embedding call: large enough for the model's length-sorted batching to pay."""

_QUEUE_MESSAGES = 8
_POLL_SECONDS = 0.2


def default_workers() -> int:
    """Parser processes: all cores but the one the embedder uses, at least one."""
    return max(1, (os.cpu_count() or 2) - 1)


class Ingestor:
    """Keeps one collection in step with files; reuse it across runs, then `close()` it.

    `workers=0` parses in this process (no pool): simpler to debug, slower on big batches.
    Chunks are cut and embedded by the collection's recipe (`ingest.recipe`): an empty
    collection takes `chunking` and `template` (defaults: the model's window, title and
    headings as context); one holding chunks keeps its own, and refuses others.
    """

    def __init__(
        self,
        collection,
        embedder: Embedder,
        *,
        chunking: ChunkConfig | None = None,
        template: str | None = None,
        selector: FileSelector | None = None,
        workers: int | None = None,
        embed_batch: int = EMBED_BATCH,
    ) -> None:
        check_model(collection, embedder)
        self.collection = collection
        self.embedder = embedder
        self.selector = selector or FileSelector()
        self.workers = default_workers() if workers is None else workers
        self.embed_batch = embed_batch
        self.recipe = settle_recipe(collection, embedder, chunking, template)
        tokenizer = embedder.tokenizer
        self._chunker = Chunker(
            tokenizer, self.recipe.chunk_tokens, self.recipe.overlap_tokens,
            Contextualizer(self.recipe.template, tokenizer, embedder.max_tokens),
        )
        self._pool: ProcessPoolExecutor | None = None
        self._queue = None

    def ingest(
        self,
        paths: Iterable[str | os.PathLike],
        progress: Callable[[Progress], None] | None = None,
    ) -> IngestReport:
        """Bring the collection in step with `paths`: add, update, skip, remove, report."""
        started = time.perf_counter()
        plan = make_plan(paths, self.collection, self.selector)
        report = IngestReport(results=list(plan.results))
        for source, doc_id in plan.removals.items():
            self.collection.delete(where={"doc_id": doc_id})
            report.results.append(FileResult(source, "removed"))
        if plan.tasks:
            _Run(self, plan, report, progress).run(self._messages(plan.tasks))
        report.seconds = time.perf_counter() - started
        return report

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "Ingestor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _messages(self, tasks: list[ParseTask]) -> Iterator[Message]:
        if self.workers == 0:
            for task in tasks:
                yield from parse(task, self._chunker)
        else:
            yield from self._pooled(tasks)

    def _start_pool(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self._queue = context.Queue(maxsize=_QUEUE_MESSAGES)
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(self._chunker, self._queue),
        )

    def _pooled(self, tasks: list[ParseTask]) -> Iterator[Message]:
        """Messages from the pool; a worker that dies fails the file it was reading only."""
        pending = {task.key: task for task in tasks}
        while pending:
            if self._pool is None:
                self._start_pool()
            futures = [self._pool.submit(run_task, task) for task in pending.values()]
            started: set[int] = set()
            try:
                yield from self._collect(pending, started, futures)
            finally:
                if pending:
                    self._abandon(futures)
            if pending:
                yield from _crash_messages(pending, started)

    def _collect(
        self, pending: dict[int, ParseTask], started: set[int], futures: list[Future]
    ) -> Iterator[Message]:
        """Relay messages until every pending task finished or the pool broke."""
        while pending:
            try:
                message = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if any(f.done() and f.exception() is not None for f in futures):
                    return
                continue
            kind, key = message[0], message[1]
            if kind == "start":
                started.add(key)
            elif kind in ("done", "failed"):
                del pending[key]
            yield message

    def _abandon(self, futures: list[Future]) -> None:
        """Drop a pool mid-run: cancel what has not started, drain what has, shut down."""
        for future in futures:
            future.cancel()
        while not all(f.done() for f in futures):
            try:
                self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
        self.close()


def _crash_messages(pending: dict[int, ParseTask], started: set[int]) -> Iterator[Message]:
    """Fail the files being read when the pool broke (all pending if none had started)."""
    culprits = [key for key in pending if key in started] or list(pending)
    for key in culprits:
        del pending[key]
        yield ("failed", key, "the parser process died while reading this file")


class _Run:
    """One run's bookkeeping: buffered chunks, documents awaiting their last write, results."""

    def __init__(self, ingestor: Ingestor, plan: Plan, report: IngestReport, progress) -> None:
        self.ingestor = ingestor
        self.collection = ingestor.collection
        self.plan = plan
        self.report = report
        self.progress = progress
        self.tasks = {task.key: task for task in plan.tasks}
        self.buffer: list[tuple[int, Chunk]] = []
        self.written: dict[int, int] = {}
        self.finished: dict[int, list[str]] = {}
        self.files_done = 0

    def run(self, messages: Iterable[Message]) -> None:
        """Consume the workers' messages to the end, then write and settle what is left."""
        for message in messages:
            kind, key = message[0], message[1]
            if kind == "chunks":
                self.buffer.extend((key, chunk) for chunk in message[2])
                if len(self.buffer) >= self.ingestor.embed_batch:
                    self.flush()
            elif kind == "done":
                self.finished[key] = message[2]
                if not any(k == key for k, _ in self.buffer):
                    self.settle(key)
            elif kind == "failed":
                self.fail(key, message[2])
        self.flush()

    def flush(self) -> None:
        """Embed and write the buffered chunks, then settle the documents they completed."""
        if self.buffer:
            chunks = [chunk for _, chunk in self.buffer]
            vectors = self.ingestor.embedder.embed([c.embedded_text for c in chunks])
            self.collection.upsert([c.id for c in chunks], vectors, [c.payload() for c in chunks])
            for key, _ in self.buffer:
                self.written[key] = self.written.get(key, 0) + 1
            self.report.chunks += len(chunks)
            self.buffer = []
        for key in list(self.finished):
            self.settle(key)
        self._tell()

    def settle(self, key: int) -> None:
        """A document fully written: delete its other versions and record the outcome."""
        info = self.tasks[key].info
        status = self.plan.statuses[key]
        if status == "updated":
            self.collection.delete(
                where={"doc_id": info.doc_id, "content_hash": {"$ne": info.content_hash}}
            )
        warnings = tuple(self.finished.pop(key))
        chunks = self.written.get(key, 0)
        self.report.results.append(FileResult(info.source, status, chunks, warnings=warnings))
        self.files_done += 1
        self._tell()

    def fail(self, key: int, reason: str) -> None:
        """A document that failed: drop its new chunks, buffered or written; keep the old."""
        info = self.tasks[key].info
        self.buffer = [(k, c) for k, c in self.buffer if k != key]
        if self.written.get(key):
            self.collection.delete(
                where={"doc_id": info.doc_id, "content_hash": info.content_hash}
            )
        self.report.results.append(FileResult(info.source, "failed", reason=reason))
        self.files_done += 1
        self._tell()

    def _tell(self) -> None:
        if self.progress is not None:
            total = len(self.plan.tasks)
            self.progress(Progress(self.files_done, total, self.report.chunks))
