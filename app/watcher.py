"""The folder watcher run inside the server (`sleuth serve --watch PATH`)."""

import logging
import threading
from pathlib import Path

from app.model import ModelLoader
from ingest.limits import Limits
from ingest.pipeline import Ingestor
from ingest.report import IngestReport
from ingest.store import open_collection
from ingest.watch import watch
from vectorstore import Database

log = logging.getLogger(__name__)


class Watcher:
    """Keeps `folder` in sync with `collection` on a thread until `close()`."""

    def __init__(
        self, db: Database, model: ModelLoader, folder: Path, collection: str, workers: int,
        limits: Limits,
    ) -> None:
        self.folder = folder
        self._db, self._model, self._collection, self._workers = db, model, collection, workers
        self._limits = limits
        self._stop = threading.Event()
        self.last_report: IngestReport | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="watcher")
        self._thread.start()

    def _run(self) -> None:
        try:
            embedder = self._model.get(timeout=600)
            target = open_collection(self._db, self._collection, embedder)
            with Ingestor(target, embedder, workers=self._workers,
                          limits=self._limits) as ingestor:
                watch(ingestor, self.folder, on_sync=self._synced, stop_event=self._stop,
                      ignore=[self._db.path])
        except Exception:  # the server goes on without its watcher; the log says why
            log.exception("watcher of %s stopped", self.folder)

    def _synced(self, report: IngestReport) -> None:
        self.last_report = report
        if any(r.status != "unchanged" for r in report.results):
            log.info("watch %s: %s", self.folder, report.summary())

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
