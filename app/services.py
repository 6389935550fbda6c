"""The heavy objects of a running server, opened in the lifespan and closed after it."""

import logging
import threading
from dataclasses import dataclass

from app.jobs import JobQueue
from app.model import ModelLoader
from app.registry import Registry
from app.reindexing import ReindexJobs
from app.schemas.health import Problem
from app.settings import Settings
from app.uploads import UploadStore
from app.watcher import Watcher
from vectorstore import Database
from vectorstore.errors import VectorStoreError

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> Database:
    """The store behind the API: the data directory's collections, or, when a cluster is
    configured, the distributed collections of that Ray cluster (same API)."""
    if settings.cluster is None:
        return Database(settings.data_dir, memory_budget=settings.memory_budget)
    from cluster.database import connect  # Ray loads only when a cluster is configured

    return connect(settings.cluster, settings.cluster_data_dir)


class CollectionOpener:
    """Opens every collection on a worker thread at startup: WAL replay and segment
    checksums take time, and must never run on the event loop. Readiness waits for it;
    a collection that fails to open is reported (and stays closed), the others open."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.failed: dict[str, str] = {}
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True, name="open-collections").start()

    def _run(self) -> None:
        try:
            self.failed = self._db.open_all()
        except VectorStoreError as exc:  # the store closed while starting
            log.warning("opening collections stopped: %s", exc)
        finally:
            self.done.set()
        for name, reason in self.failed.items():
            log.error("collection %r failed to open: %s", name, reason)


@dataclass
class Services:
    """The store (holding the data directory's lock), the model, uploads and their registry,
    jobs, watcher."""

    settings: Settings
    db: Database
    model: ModelLoader
    uploads: UploadStore
    registry: Registry
    jobs: JobQueue
    reindex: ReindexJobs
    watcher: Watcher | None
    opener: CollectionOpener
    store_open: bool = True

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        db = open_store(settings)
        opener = CollectionOpener(db)
        model = ModelLoader(settings.model, settings.embedding_backend)
        uploads = UploadStore(settings.data_dir)
        registry = Registry(settings.data_dir)
        jobs = JobQueue(
            db, model.get, uploads, registry, workers=settings.ingest_jobs,
            parsers=settings.ingest_workers, limits=settings.limits, timeout=settings.job_timeout,
        )
        reindex = ReindexJobs(db, model, settings.embedding_backend)
        watcher = None
        if settings.watch is not None:
            watcher = Watcher(
                db, model, settings.watch, settings.watch_collection, settings.ingest_workers,
                settings.limits,
            )
        return cls(settings, db, model, uploads, registry, jobs, reindex, watcher, opener)

    @property
    def ready(self) -> bool:
        return self.store_open and self.model.loaded and self.opener.done.is_set()

    def problems(self) -> list[Problem]:
        """Collections that failed to open or report degraded health."""
        found = [Problem(collection=n, reason=f"failed to open: {r}")
                 for n, r in self.opener.failed.items()]
        for name, collection in self.db.open_collections().items():
            try:
                health = collection.health()
            except VectorStoreError:  # dropped meanwhile
                continue
            if health.status != "ok":
                found.append(Problem(collection=name, reason=health.reason or health.status))
        return found

    def close(self) -> None:
        """Stop the watcher, the job worker and reindexes, then release the store."""
        if self.watcher is not None:
            self.watcher.close()
        self.jobs.close()
        self.reindex.close()
        self.registry.close()
        self.store_open = False
        self.db.close()
