"""Background ingest of uploaded files: durable jobs run by a small pool of workers.

A job is the files of one upload request, recorded in the registry (`app/registry.py`)
with each file's state, so none is forgotten. `workers` threads take files in submission
order, at most one file per job at a time: a job busy with a huge file holds one worker
while the other jobs go on on the others. Their embedding calls take turns, a batch at a
time. Each file's document is written whole or not at all (`ingest.pipeline`).

A job stops when it is cancelled or runs past its time budget (counted from its first
file's start in this server's life): its running file stops within one embedding batch
(its parser process killed) and fails with the reason, and so do its queued files. A
failed file's upload is removed.

On start, whatever the last run left is settled before any request is taken: files that
were queued are queued again; a file that was running is done if its document is in the
store (it is written whole or not at all), else tried again, unless it was running at the
last `MAX_ATTEMPTS` stops, which fails it. Stored files the registry does not know are
removed. Then, on a thread, uploads whose document is gone (deleted just before a crash)
lose their file. Closing the queue stops the running files and leaves them queued for the
next start.
"""

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

from app.errors import ApiError
from app.registry import NewFile, Pending, Registry, Upload
from app.schemas.documents import JobInfo
from app.uploads import UploadStore
from ingest.embedding import Embedder
from ingest.errors import IngestError
from ingest.files import Named
from ingest.limits import Limits
from ingest.pipeline import Ingestor
from ingest.worker import describe
from vectorstore import Collection, Database
from vectorstore.errors import CollectionNotFound, VectorStoreError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""Starts of one file the server may die during before the file is failed for it."""
CANCELLED = "cancelled by request"
_SHUTDOWN = "the server is stopping"


class _Ingestors:
    """One worker's ingestor, kept while its files go to the same collection object."""

    def __init__(self, parsers: int, limits: Limits) -> None:
        self._parsers, self._limits = parsers, limits
        self._ingestor: Ingestor | None = None

    def get(self, collection: Collection, embedder: Embedder) -> Ingestor:
        current = self._ingestor
        if current is None or current.collection is not collection:
            self.close()
            current = Ingestor(collection, embedder, workers=self._parsers, limits=self._limits)
            self._ingestor = current
        return current

    def close(self) -> None:
        if self._ingestor is not None:
            self._ingestor.close()
            self._ingestor = None


class JobQueue:
    """Queues upload jobs and runs them on `workers` threads until `close()`."""

    def __init__(
        self, db: Database, embedder: Callable[[], Embedder], uploads: UploadStore,
        registry: Registry, *, workers: int, parsers: int, limits: Limits, timeout: float,
    ) -> None:
        self._db, self._embedder, self._uploads, self._registry = db, embedder, uploads, registry
        self._parsers, self._limits, self._timeout = parsers, limits, timeout
        self._cond = threading.Condition()
        self._queued: dict[str, deque[Pending]] = {}
        self._busy: dict[str, Pending] = {}
        self._stops: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._closing = False
        self._recover()
        self._threads = [
            threading.Thread(target=self._work, daemon=True, name=f"ingest-{n}")
            for n in range(workers)
        ]
        self._threads.append(threading.Thread(target=self._sweep_deleted, daemon=True,
                                              name="ingest-sweep"))
        for thread in self._threads:
            thread.start()

    # ---- requests ---------------------------------------------------------------

    def submit(self, collection: str, files: list[NewFile]) -> JobInfo:
        """Record a job (refused files already failed) and queue its accepted files."""
        job_id = uuid.uuid4().hex
        queued = self._registry.add_job(job_id, collection, files)
        with self._cond:
            if queued:
                self._queued[job_id] = deque(queued)
                self._cond.notify_all()
        return self._registry.job(job_id)

    def get(self, job_id: str) -> JobInfo | None:
        return self._registry.job(job_id)

    def list(self, limit: int, collection: str | None = None) -> list[JobInfo]:
        return self._registry.jobs(limit, collection)

    def cancel(self, job_id: str) -> JobInfo | None:
        """Fail the job's queued files and stop its running one; None if there is no job."""
        with self._cond:
            queued = self._queued.pop(job_id, deque())
            if job_id in self._busy:
                self._stops[job_id] = CANCELLED
        for item in queued:
            self._fail(item, CANCELLED)
        return self._registry.job(job_id)

    def drop_collection(self, collection: str) -> None:
        """A collection was deleted: its jobs' files fail, its uploads go off the record."""
        reason = f"collection {collection!r} was deleted"
        with self._cond:
            for job_id in [j for j, q in self._queued.items() if q[0].collection == collection]:
                del self._queued[job_id]
            for job_id, item in self._busy.items():
                if item.collection == collection:
                    self._stops[job_id] = reason
        self._registry.forget_collection(collection, reason)

    def depth(self) -> int:
        """Files queued or being ingested."""
        return self._registry.active()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the workers; running files stop and stay queued for the next start."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # ---- start ------------------------------------------------------------------

    def _recover(self) -> None:
        """Queue again what the last run left unfinished; drop unknown stored files."""
        for item in self._registry.pending():
            if item.status == "running" and (chunks := self._written(item)):
                self._registry.finish_file(item.job, item.position, chunks)
            elif item.status == "running" and item.attempts >= MAX_ATTEMPTS:
                self._fail(item, f"the server stopped {item.attempts} times while ingesting "
                                 "this file")
            else:
                self._registry.requeue_file(item.job, item.position, uncount=False)
                self._queued.setdefault(item.job, deque()).append(item)
        known = {(u.collection, u.stored) for u in self._registry.uploads()}
        for collection, name in self._uploads.sweep(known):
            log.info("removed unregistered upload %s/%s", collection, name)

    def _written(self, item: Pending) -> int:
        """Chunks of a file's document in the store: a stop can fall between the document's
        write (whole, one record) and the file's record of it, which then reads done."""
        if item.upload is None:
            return 0
        try:
            collection = self._db.get_collection(item.collection)
            return collection.count(where={"doc_id": item.upload.document_id})
        except VectorStoreError:
            return 0

    def _sweep_deleted(self) -> None:
        """Remove the files of finished uploads whose document is gone. (Finished first:
        a file finishes after its document is written, so it is not caught in between.)"""
        for upload in self._registry.uploads():
            if self._closing:
                return
            if not self._registry.finished(upload.job, upload.position):
                continue
            try:
                collection = self._db.get_collection(upload.collection)
                gone = collection.count(where={"doc_id": upload.document_id}) == 0
            except CollectionNotFound:
                gone = True
            except VectorStoreError:
                continue
            if gone:
                self._registry.forget_upload(upload.collection, upload.document_id)
                self._uploads.remove(upload.collection, upload.stored)

    # ---- workers ----------------------------------------------------------------

    def _next(self) -> Pending | None:
        """The oldest queued file of a job that has none running; None once closing."""
        with self._cond:
            while not self._closing:
                for job_id, queue in self._queued.items():
                    if job_id not in self._busy:
                        item = queue.popleft()
                        if not queue:
                            del self._queued[job_id]
                        self._busy[job_id] = item
                        self._started.setdefault(job_id, time.monotonic())
                        return item
                self._cond.wait()
            return None

    def _release(self, item: Pending) -> None:
        with self._cond:
            self._busy.pop(item.job, None)
            if item.job not in self._queued:
                self._stops.pop(item.job, None)
                self._started.pop(item.job, None)
            self._cond.notify_all()

    def _stop_reason(self, job_id: str) -> str | None:
        with self._cond:
            if job_id in self._stops:
                return self._stops[job_id]
            if self._closing:
                return _SHUTDOWN
            if time.monotonic() - self._started.get(job_id, time.monotonic()) > self._timeout:
                return (f"the job ran past its time budget of {self._timeout:g} s "
                        "(job_timeout)")
            return None

    def _work(self) -> None:
        ingestors = _Ingestors(self._parsers, self._limits)
        try:
            while (item := self._next()) is not None:
                try:
                    self._run(item, ingestors)
                except Exception as e:  # a file must never kill the worker: fail it
                    log.exception("ingest of job %s file %d failed", item.job, item.position)
                    self._fail(item, self._stop_reason(item.job) or describe(e))
                finally:
                    self._release(item)
        finally:
            ingestors.close()

    def _run(self, item: Pending, ingestors: _Ingestors) -> None:
        upload = item.upload
        path = None if upload is None else self._uploads.path(upload.collection, upload.stored)
        if upload is None or path is None:
            self._fail(item, "the uploaded file is missing")
            return
        if reason := self._stop_reason(item.job):
            if reason != _SHUTDOWN:  # (stopping: it stays queued for the next start)
                self._fail(item, reason)
            return
        self._registry.start_file(item.job, item.position)
        try:
            collection = self._db.get_collection(item.collection)
            ingestor = ingestors.get(collection, self._embedder())
            report = ingestor.ingest(
                [Named(str(path), upload.document_id, upload.filename)],
                stop=lambda: self._stop_reason(item.job),
            )
        except (VectorStoreError, IngestError, ApiError, OSError) as e:
            self._end(item, self._stop_reason(item.job) or describe(e))
            return
        (result,) = report.results
        if result.status == "failed":
            self._end(item, result.reason)
            return
        chunks = result.chunks or collection.count(where={"doc_id": upload.document_id})
        self._registry.finish_file(item.job, item.position, chunks)

    def _end(self, item: Pending, reason: str) -> None:
        """A file that did not go in: queued again when the server is stopping, else failed."""
        if reason == _SHUTDOWN:
            self._registry.requeue_file(item.job, item.position, uncount=True)
        else:
            self._fail(item, reason)

    def _fail(self, item: Pending, reason: str) -> None:
        upload: Upload | None = self._registry.fail_file(item.job, item.position, reason)
        if upload is not None:
            self._uploads.remove(upload.collection, upload.stored)
