"""Ingest files and folders into a collection: parse in worker processes, embed here.

Workers load and chunk files and stream chunks back through a bounded queue while this
process embeds them in large batches, so both kinds of work run at once. Memory is bounded
by the extraction limits (`ingest.limits`): a document's embedded chunks are held until
its last one is ready, then written whole.

Documents are units: all of a document's chunks, and the removal of its previous
version's, go to the store as one atomic upsert (one WAL record). A search sees the old
version or the new one, never a mix or a gap; a crash keeps one of the two; a file that
fails keeps whatever was stored for it, and the rest of the batch goes on.
"""

import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from ingest.chunking import Chunk, ChunkConfig, Chunker
from ingest.embedding import Embedder
from ingest.files import FileSelector, Named
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.plan import Plan, make_plan
from ingest.recipe import Contextualizer
from ingest.report import FileResult, IngestReport, Progress
from ingest.store import check_model, settle_recipe
from ingest.worker import Message, ParseTask, init_worker, parse, run_task

EMBED_BATCH = 256
"""Chunks gathered before embedding: large enough for the model's length-sorted batching
to pay. They are embedded a model batch at a time, `stop` asked between batches."""

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
    `limits` bound what each file may expand into.
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
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        check_model(collection, embedder)
        self.collection = collection
        self.embedder = embedder
        self.selector = selector or FileSelector()
        self.workers = default_workers() if workers is None else workers
        self.embed_batch = embed_batch
        self.limits = limits
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
        paths: Iterable[str | os.PathLike | Named],
        progress: Callable[[Progress], None] | None = None,
        stop: Callable[[], str | None] | None = None,
    ) -> IngestReport:
        """Bring the collection in step with `paths`: add, update, skip, remove, report.

        `stop` is polled while the run goes on (a few times a second at least); once it
        returns a reason, the files not yet written fail with that reason and the run ends.
        """
        started = time.perf_counter()
        plan = make_plan(paths, self.collection, self.selector)
        report = IngestReport(results=list(plan.results))
        for path, doc_id in plan.removals.items():
            self.collection.delete(where={"doc_id": doc_id})
            report.results.append(FileResult(path, "removed"))
        if plan.tasks:
            _Run(self, plan, report, progress, stop).run(self._messages(plan.tasks))
        report.seconds = time.perf_counter() - started
        return report

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _kill_pool(self) -> None:
        """Kill the parser processes at once, whatever they are reading (a run was stopped).

        ProcessPoolExecutor has no public way to do this before Python 3.14
        (`terminate_workers`), hence its `_processes`."""
        pool, self._pool = self._pool, None
        if pool is not None:
            for process in list(pool._processes.values()):
                process.kill()
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Ingestor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _messages(self, tasks: list[ParseTask]) -> Iterator[Message]:
        if self.workers == 0:
            for task in tasks:
                yield from parse(task, self._chunker, self.limits)
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
            initargs=(self._chunker, self._queue, self.limits),
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
            except GeneratorExit:  # the run stopped early: nothing more is wanted
                self._kill_pool()
                raise
            finally:
                if pending and self._pool is not None:
                    self._abandon(futures)
            if pending:
                yield from _crash_messages(pending, started)

    def _collect(
        self, pending: dict[int, ParseTask], started: set[int], futures: list[Future]
    ) -> Iterator[Message]:
        """Relay messages until every pending task finished or the pool broke; a ("tick",
        None) message while none comes, so the consumer can decide to stop."""
        while pending:
            try:
                message = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if any(f.done() and f.exception() is not None for f in futures):
                    return
                yield ("tick", None)
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


class _Stopped(Exception):
    """Raised inside a run when `stop` gave a reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Pending:
    """A document's chunks embedded so far, held until the last one is: then written whole."""

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.vectors: list[np.ndarray] = []


class _Run:
    """One run's bookkeeping: chunks awaiting embedding, documents awaiting their last
    chunk, results. A document is written in one atomic upsert (see the module docstring)."""

    def __init__(
        self, ingestor: Ingestor, plan: Plan, report: IngestReport, progress, stop
    ) -> None:
        self.ingestor = ingestor
        self.collection = ingestor.collection
        self.plan = plan
        self.report = report
        self.progress = progress
        self.stop = stop
        self.tasks = {task.key: task for task in plan.tasks}
        self.buffer: list[tuple[int, Chunk]] = []
        self.pending: dict[int, _Pending] = {}
        self.finished: dict[int, list[str]] = {}
        self.settled: set[int] = set()
        self.files_done = 0

    def run(self, messages: Iterable[Message]) -> None:
        """Consume the workers' messages to the end, then write and settle what is left.

        `stop` is asked between messages (the pool sends a tick while it waits) and between
        embedding batches; when it gives a reason, every file not yet written fails with it
        and the parsers are dropped.
        """
        try:
            self._consume(messages)
        except _Stopped as stopped:
            self.fail_unsettled(stopped.reason)
        finally:
            if isinstance(messages, Generator):
                messages.close()  # a pool still parsing is killed at once

    def _check_stop(self) -> None:
        reason = self.stop() if self.stop is not None else None
        if reason:
            raise _Stopped(reason)

    def _consume(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self._check_stop()
            kind, key = message[0], message[1]
            if kind == "chunks":
                self.pending.setdefault(key, _Pending())
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
        """Embed the buffered chunks, then write the documents they completed."""
        if self.buffer:
            embedder = self.ingestor.embedder
            texts = [chunk.embedded_text for _, chunk in self.buffer]
            vectors = np.empty((len(texts), embedder.dim), dtype=np.float32)
            for rows in embedder.batches(texts):
                self._check_stop()
                vectors[rows] = embedder.encode([texts[i] for i in rows])
            for (key, chunk), vector in zip(self.buffer, vectors, strict=True):
                self.pending[key].chunks.append(chunk)
                self.pending[key].vectors.append(vector)
            self.buffer = []
        for key in list(self.finished):
            self.settle(key)
        self._tell()

    def settle(self, key: int) -> None:
        """Write a fully embedded document and drop its previous version, in one record."""
        info = self.tasks[key].info
        pending = self.pending.pop(key, _Pending())
        ids = [c.id for c in pending.chunks]
        kept = set(ids)
        old = self.collection.get(where={"doc_id": info.doc_id}, limit=None,
                                  include_vectors=False)
        self.collection.upsert(
            ids, np.stack(pending.vectors), [c.payload() for c in pending.chunks],
            delete=[r.id for r in old if r.id not in kept],
        )
        self.report.chunks += len(ids)
        warnings = tuple(self.finished.pop(key))
        status = self.plan.statuses[key]
        self.report.results.append(FileResult(info.path, status, len(ids), warnings=warnings))
        self.settled.add(key)
        self.files_done += 1
        self._tell()

    def fail(self, key: int, reason: str) -> None:
        """A document that failed: nothing of it was written, its old version stays."""
        info = self.tasks[key].info
        self.buffer = [(k, c) for k, c in self.buffer if k != key]
        self.pending.pop(key, None)
        self.finished.pop(key, None)
        self.report.results.append(FileResult(info.path, "failed", reason=reason))
        self.settled.add(key)
        self.files_done += 1
        self._tell()

    def fail_unsettled(self, reason: str) -> None:
        """Stop: every file not yet written fails with `reason`."""
        for key in self.tasks.keys() - self.settled:
            self.fail(key, reason)

    def _tell(self) -> None:
        if self.progress is not None:
            total = len(self.plan.tasks)
            self.progress(Progress(self.files_done, total, self.report.chunks))
