"""The heavy objects of a running server, opened in the lifespan and closed after it."""

from dataclasses import dataclass

from app.jobs import JobQueue
from app.model import ModelLoader
from app.settings import Settings
from app.uploads import UploadStore
from app.watcher import Watcher
from vectorstore import Database


@dataclass
class Services:
    """The store (holding the data directory's lock), the model, uploads, jobs, watcher."""

    settings: Settings
    db: Database
    model: ModelLoader
    uploads: UploadStore
    jobs: JobQueue
    watcher: Watcher | None
    store_open: bool = True

    @classmethod
    def open(cls, settings: Settings) -> "Services":
        db = Database(settings.data_dir)
        model = ModelLoader(settings.model)
        uploads = UploadStore(settings.data_dir)
        jobs = JobQueue(db, model, uploads, settings.ingest_workers)
        watcher = None
        if settings.watch is not None:
            watcher = Watcher(
                db, model, settings.watch, settings.watch_collection, settings.ingest_workers
            )
        return cls(settings, db, model, uploads, jobs, watcher)

    @property
    def ready(self) -> bool:
        return self.store_open and self.model.loaded

    def close(self) -> None:
        """Stop the watcher and the job worker, then release the store."""
        if self.watcher is not None:
            self.watcher.close()
        self.jobs.close()
        self.store_open = False
        self.db.close()
