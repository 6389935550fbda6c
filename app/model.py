"""The embedding model, loaded in a background thread so the server is live at once."""

import threading

from app.errors import Unavailable
from ingest.embedding import DEFAULT_MODEL, Embedder, shared_embedder
from ingest.worker import describe


class ModelLoader:
    """Starts loading `name` (on `backend`) on construction; `get()` waits for it, bounded."""

    def __init__(self, name: str | None, backend: str | None = None) -> None:
        self.name = name or DEFAULT_MODEL
        self.backend = backend
        self.error: str | None = None
        self._embedder: Embedder | None = None
        self._done = threading.Event()
        threading.Thread(target=self._load, args=(name,), daemon=True, name="model").start()

    def _load(self, name: str | None) -> None:
        try:
            self._embedder = shared_embedder(name, self.backend)
        except Exception as e:  # any failure to load is reported by /health, not raised here
            self.error = describe(e)
        finally:
            self._done.set()

    @property
    def loaded(self) -> bool:
        return self._embedder is not None

    def get(self, timeout: float = 60.0) -> Embedder:
        """The embedder, waiting up to `timeout` seconds for it; Unavailable otherwise."""
        self._done.wait(timeout)
        if self._embedder is None:
            reason = self.error or f"still loading after {timeout:.0f}s"
            raise Unavailable(f"embedding model {self.name} is not available: {reason}")
        return self._embedder
