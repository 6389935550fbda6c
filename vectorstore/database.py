"""A database is a directory of collections, owned by one process at a time."""

import fcntl
import os
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

from .collection import Collection
from .config import CollectionConfig, parse_index_config, parse_text_config
from .errors import CollectionExists, CollectionNotFound, DatabaseLocked, InvalidConfig, StoreClosed
from .fsutil import fsync_dir
from .validate import check_payload

OPTIONS = ["merge_rows", "seal_rows", "wal_file_bytes"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.match(name) or name.endswith(".tmp"):
        raise InvalidConfig(f"collection name {name!r} must be 1-64 letters, digits, '_', "
                            "'-' or '.', starting with a letter or digit")
    return name


class _Opening:
    """A collection being opened by one thread; others wait for its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.collection: Collection | None = None
        self.error: BaseException | None = None

    def wait(self) -> Collection:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.collection


class Database:
    """`Database("path")` creates or opens a store; collections live under it.

    The directory is locked with an OS file lock for the life of the object: a second
    opener, in this process or another, gets `DatabaseLocked` naming the holder's pid.
    Collections open on first use (or all at once with `open_all`, as a server does at
    startup on a worker thread); opening one never blocks access to the others.
    `group_commit=False` gives every write its own fsync (for comparison only).
    """

    def __init__(self, path: str | os.PathLike[str], *, group_commit: bool = True) -> None:
        self.path = Path(path)
        self.group_commit = group_commit
        (self.path / "collections").mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.path / "LOCK", "a+")  # noqa: SIM115 - held while open
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "unknown"
            self._lock_file.close()
            raise DatabaseLocked(f"{self.path} is in use by process {holder}") from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()
        self._collections: dict[str, Collection] = {}
        self._opening: dict[str, _Opening] = {}
        self._mutex = threading.Lock()
        self._closed = False
        self._remove_leftovers()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dir(self, name: str) -> Path:
        return self.path / "collections" / name

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"database {self.path} is closed")

    def _remove_leftovers(self) -> None:
        """Remove what an interrupted create or drop left (`*.tmp` directories)."""
        for path in (self.path / "collections").iterdir():
            if path.name.endswith(".tmp"):
                shutil.rmtree(path, ignore_errors=True)

    def _exists(self, name: Any) -> bool:
        return isinstance(name, str) and bool(NAME.match(name)) and \
            not name.endswith(".tmp") and (self._dir(name) / "manifest.json").exists()

    def create_collection(self, name: str, dim: int, metric: str = "cosine",
                          index: Any = None, metadata: dict[str, Any] | None = None,
                          text: Any = True, **options: Any) -> Collection:
        """Create a collection; its dimension, metric and index type are fixed for life.

        `text` configures its text index (`TextConfig`): True (the default) indexes the
        payload fields `text`, `title` and `heading_path` with English stemming; an
        object of TextConfig's keys (fields, language, stopwords, k1, b) sets them; False
        means no text index (vector search only).

        `options` are further `CollectionConfig` fields: seal_rows (rows the growing
        segment holds before it is sealed), merge_rows (size up to which small sealed
        segments are merged) and wal_file_bytes (WAL rotation size).
        """
        name = check_name(name)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InvalidConfig(f"unknown collection option(s) {unknown}; known: {OPTIONS}")
        config = CollectionConfig(name=name, dim=dim, metric=metric,
                                  index=parse_index_config(index),
                                  text=parse_text_config(text), **options)
        check_payload(metadata or {}, "metadata")
        with self._mutex:
            self._check_open()
            target = self._dir(name)
            if target.exists() or name in self._opening:
                raise CollectionExists(f"collection {name!r} already exists")
            tmp = target.with_name(name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            Collection.create(tmp, config, metadata or {}).close()
            os.replace(tmp, target)
            fsync_dir(target.parent)
            collection = Collection.open(target, self.group_commit)
            self._collections[name] = collection
            return collection

    def get_collection(self, name: str) -> Collection:
        """The collection `name`, opened now if it is not yet (CollectionNotFound if
        there is none). Only the thread opening it waits for it."""
        with self._mutex:
            self._check_open()
            collection = self._collections.get(name)
            if collection is not None:
                return collection
            opening = self._opening.get(name)
            if opening is not None:
                opener = False
            elif not self._exists(name):
                raise CollectionNotFound(f"collection {name!r} not found")
            else:
                opening = self._opening[name] = _Opening()
                opener = True
        if not opener:
            return opening.wait()
        try:
            collection = Collection.open(self._dir(name), self.group_commit)
        except BaseException as exc:
            opening.error = exc
            with self._mutex:
                del self._opening[name]
            opening.done.set()
            raise
        with self._mutex:
            del self._opening[name]
            if self._closed:
                collection.close()
                opening.error = StoreClosed(f"database {self.path} is closed")
            else:
                self._collections[name] = collection
                opening.collection = collection
        opening.done.set()
        return opening.wait()

    def opened(self, name: str) -> Collection | None:
        """The collection if it is open already, else None; never blocks (for callers
        on an event loop, who must open collections elsewhere)."""
        return self._collections.get(name)

    def open_collections(self) -> dict[str, Collection]:
        """The collections open now, by name."""
        with self._mutex:
            return dict(self._collections)

    def open_all(self) -> dict[str, str]:
        """Open every collection (a server's startup, on a worker thread); the ones that
        failed to open, with the reason (they stay closed, and using them raises)."""
        failed = {}
        for name in self.list_collections():
            try:
                self.get_collection(name)
            except CollectionNotFound:  # dropped meanwhile
                continue
            except Exception as exc:  # reported to the caller, not raised: others go on
                failed[name] = f"{type(exc).__name__}: {exc}"
        return failed

    def __contains__(self, name: str) -> bool:
        return name in self.list_collections()

    def list_collections(self) -> list[str]:
        return sorted(p.name for p in (self.path / "collections").iterdir()
                      if (p / "manifest.json").exists() and NAME.match(p.name)
                      and not p.name.endswith(".tmp"))

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its files. A write in flight finishes first;
        later calls on the dropped collection raise CollectionNotFound."""
        while True:
            with self._mutex:
                self._check_open()
                opening = self._opening.get(name)
                if opening is None:
                    if not self._exists(name):
                        raise CollectionNotFound(f"collection {name!r} not found")
                    collection = self._collections.pop(name, None)
                    trash = self._dir(name).with_name(f"{name}.{uuid.uuid4().hex}.dropped.tmp")
                    if collection is not None:
                        collection.close(dropped=True)
                    os.replace(self._dir(name), trash)
                    fsync_dir(trash.parent)
                    break
            opening.done.wait()  # let the open finish, then drop what it opened
        shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        """Close every collection and release the directory lock."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            for collection in self._collections.values():
                collection.close()
            self._collections.clear()
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
