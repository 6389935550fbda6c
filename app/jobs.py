"""Background ingest of uploaded files: a queue of jobs, one worker thread, statuses.

A job is the files of one upload request. The worker takes jobs in order and ingests
their files one by one, so each file moves queued -> running -> done | failed, with the
reason when it fails. Finished jobs are kept (the most recent `keep`) for status queries.
"""

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from app.labelled import LabelledCollection
from app.model import ModelLoader
from app.schemas.documents import FileStatus, JobInfo
from app.uploads import UploadStore
from ingest.errors import IngestError
from ingest.files import doc_id_of
from ingest.pipeline import Ingestor
from ingest.worker import describe
from vectorstore import Database
from vectorstore.errors import VectorStoreError

log = logging.getLogger(__name__)

KEEP_JOBS = 1000


@dataclass
class FileTask:
    """One file of a job; `path` is where the upload was stored."""

    filename: str
    path: Path
    status: str = "queued"
    chunks: int = 0
    reason: str = ""

    def view(self) -> FileStatus:
        return FileStatus(
            filename=self.filename,
            status=self.status,
            document_id=doc_id_of(str(self.path)),
            chunks=self.chunks,
            reason=self.reason,
        )


@dataclass
class Job:
    collection: str
    files: list[FileTask]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)

    @property
    def status(self) -> str:
        states = {f.status for f in self.files}
        if states <= {"done", "failed"}:
            return "failed" if states == {"failed"} else "done"
        return "queued" if states == {"queued"} else "running"

    def view(self) -> JobInfo:
        files = [f.view() for f in self.files]
        return JobInfo(
            id=self.id, collection=self.collection, status=self.status,
            created=self.created, files=files,
        )


class JobQueue:
    """Runs jobs in submission order on one thread; `close()` stops after the current file."""

    def __init__(
        self, db: Database, model: ModelLoader, uploads: UploadStore, workers: int,
        keep: int = KEEP_JOBS,
    ) -> None:
        self._db, self._model, self._uploads, self._workers = db, model, uploads, workers
        self._keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="ingest-jobs")
        self._thread.start()

    def submit(self, collection: str, files: list[tuple[str, Path]]) -> JobInfo:
        """Queue the stored uploads `files` (original name, path) for ingest."""
        job = Job(collection, [FileTask(name, path) for name, path in files])
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
            view = job.view()
        self._queue.put(job)
        return view

    def get(self, job_id: str) -> JobInfo | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.view()

    def depth(self) -> int:
        """Files queued or being ingested."""
        with self._lock:
            return sum(
                f.status in ("queued", "running") for j in self._jobs.values() for f in j.files
            )

    def close(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._run(job)
            except Exception as e:  # a job must never kill the worker: fail what is left
                log.exception("ingest job %s failed", job.id)
                self._fail_rest(job, describe(e))

    def _run(self, job: Job) -> None:
        try:
            embedder = self._model.get()
            collection = self._db.get_collection(job.collection)
            labels = {str(f.path): f.filename for f in job.files}
            ingestor = Ingestor(
                LabelledCollection(collection, labels), embedder, workers=self._workers
            )
        except (VectorStoreError, IngestError) as e:
            self._fail_rest(job, str(e))
            return
        with ingestor:
            for task in job.files:
                if self._stopping.is_set():
                    break
                self._ingest(ingestor, task)
        self._fail_rest(job, "the server stopped before this file was ingested")

    def _ingest(self, ingestor: Ingestor, task: FileTask) -> None:
        self._set(task, status="running")
        try:
            result = ingestor.ingest([task.path]).results[0]
        except (VectorStoreError, IngestError, OSError) as e:
            result = None
            reason = describe(e)
        if result is not None and result.status != "failed":
            self._set(task, status="done", chunks=result.chunks)
            return
        self._set(task, status="failed", reason=result.reason if result else reason)
        self._uploads.remove(str(task.path))

    def _fail_rest(self, job: Job, reason: str) -> None:
        for task in job.files:
            if task.status in ("queued", "running"):
                self._set(task, status="failed", reason=reason)
                self._uploads.remove(str(task.path))

    def _set(self, task: FileTask, **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(task, name, value)

