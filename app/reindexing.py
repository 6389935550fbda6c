"""Reindex jobs: a collection re-embedded into a new generation in the background.

`ReindexJobs.submit` checks the request before anything is written (the collection, the
model loading offline, its dimension, records without text, a reindex already running:
each a clear error with its HTTP status), then runs `ingest.reindex.reindex` on a thread
of its own while searches go on against the current generation. A job's state is kept
for status queries (the most recent `keep`). Closing stops running jobs between batches;
their staged generations stay for the next run to resume.
"""

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from app.model import ModelLoader
from app.schemas.reindex import ReindexJobInfo
from ingest.embedding import Embedder, shared_embedder
from ingest.reindex import ReindexProgress, ReindexStopped, reindex, target_recipe
from ingest.store import recorded_model
from ingest.worker import describe
from vectorstore import Database
from vectorstore.errors import CollectionBusy

log = logging.getLogger(__name__)

KEEP_JOBS = 100


@dataclass
class ReindexJob:
    collection: str
    model: str
    template: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "running"
    done: int = 0
    total: int = 0
    passes: int = 0
    created: float = field(default_factory=time.time)
    finished: float | None = None
    summary: str = ""
    reason: str = ""

    def view(self) -> ReindexJobInfo:
        return ReindexJobInfo(
            id=self.id, collection=self.collection, status=self.status, model=self.model,
            template=self.template, done=self.done, total=self.total, passes=self.passes,
            created=self.created, finished=self.finished, summary=self.summary,
            reason=self.reason,
        )


class ReindexJobs:
    """Runs reindex jobs, each on its own thread, at most one per collection."""

    def __init__(self, db: Database, model: ModelLoader, backend: str | None,
                 keep: int = KEEP_JOBS) -> None:
        self._db, self._model, self._backend, self._keep = db, model, backend, keep
        self._jobs: OrderedDict[str, ReindexJob] = OrderedDict()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def submit(self, collection: str, model: str | None, template: str | None
               ) -> ReindexJobInfo:
        """Start reindexing `collection` by `model` (default: the model it records, else
        the server's) and `template`; raises before anything is written if it cannot."""
        current = self._db.get_collection(collection)
        embedder = self._embedder(model or recorded_model(self._db, collection))
        recipe = target_recipe(current, embedder, template)
        with self._lock:
            if any(j.collection == collection and j.status == "running"
                   for j in self._jobs.values()):
                raise CollectionBusy(f"collection {collection!r} is already being reindexed")
            job = ReindexJob(collection, recipe.model, recipe.template)
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
            thread = threading.Thread(target=self._run, args=(job, embedder), daemon=True,
                                      name=f"reindex-{collection}")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            view = job.view()
        thread.start()
        return view

    def get(self, job_id: str) -> ReindexJobInfo | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.view()

    def close(self, timeout: float = 30.0) -> None:
        """Stop running jobs at their next batch and wait for them."""
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout)

    def _embedder(self, name: str | None) -> Embedder:
        server = self._model.get()
        if name is None or name == server.name:
            return server
        return shared_embedder(name, self._backend)

    def _run(self, job: ReindexJob, embedder: Embedder) -> None:
        def progress(p: ReindexProgress) -> None:
            with self._lock:
                job.done, job.total, job.passes = p.done, p.total, p.passes

        def stop() -> str | None:
            return "the server stopped; the next reindex resumes" if \
                self._stopping.is_set() else None

        try:
            report = reindex(self._db, job.collection, embedder, template=job.template,
                             progress=progress, stop=stop)
            status, summary, reason = "done", report.summary(), ""
        except ReindexStopped as e:
            status, summary, reason = "stopped", "", str(e)
        except Exception as e:  # a failed job is reported, never raised on its thread
            log.exception("reindex of %s failed", job.collection)
            status, summary, reason = "failed", "", describe(e)
        with self._lock:
            job.status, job.summary, job.reason = status, summary, reason
            job.finished = time.time()
