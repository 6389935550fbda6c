"""A collection adapter that stamps uploads' original file names onto their chunks.

Uploads are stored under generated names, so the ingest pipeline only sees those; this
wrapper adds `filename` (and a readable `title` where the loader fell back to the stored
file's stem) to each chunk payload on its way into the store. Everything else passes
through to the wrapped collection.
"""

from pathlib import Path
from typing import Any


class LabelledCollection:
    """Wraps a `vectorstore.Collection`; `labels` maps a stored path to its original name."""

    def __init__(self, collection: Any, labels: dict[str, str]) -> None:
        self._collection = collection
        self._labels = labels

    def upsert(self, ids: list[str], vectors: Any, payloads: list[dict] | None = None) -> None:
        labelled = None if payloads is None else [self._label(p) for p in payloads]
        self._collection.upsert(ids, vectors, labelled)

    def _label(self, payload: dict) -> dict:
        source = payload.get("source")
        name = self._labels.get(source) if isinstance(source, str) else None
        if name is None:
            return payload
        labelled = {**payload, "filename": name}
        if payload.get("title") == Path(source).stem:
            labelled["title"] = Path(name).stem
        return labelled

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)
