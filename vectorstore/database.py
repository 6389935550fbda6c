"""A database is a directory of collections, owned by one process at a time."""

import fcntl
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from .collection import Collection
from .config import CollectionConfig, parse_index_config
from .errors import CollectionExists, CollectionNotFound, DatabaseLocked, InvalidConfig, StoreClosed
from .fsutil import fsync_dir
from .payloads import validate_payloads

OPTIONS = ["merge_rows", "seal_rows", "wal_file_bytes"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.match(name) or name.endswith(".tmp"):
        raise InvalidConfig(f"collection name {name!r} must be 1-64 letters, digits, '_', "
                            "'-' or '.', starting with a letter or digit")
    return name


class Database:
    """`Database("path")` creates or opens a store; collections live under it.

    The directory is locked with an OS file lock for the life of the object: a second
    opener, in this process or another, gets `DatabaseLocked` naming the holder's pid.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
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
        self._mutex = threading.Lock()
        self._closed = False

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dir(self, name: str) -> Path:
        return self.path / "collections" / name

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"database {self.path} is closed")

    def create_collection(self, name: str, dim: int, metric: str = "cosine",
                          index: Any = None, metadata: dict[str, Any] | None = None,
                          **options: Any) -> Collection:
        """Create a collection; its dimension, metric and index type are fixed for life.

        `options` are further `CollectionConfig` fields: seal_rows (rows the growing
        segment holds before it is sealed), merge_rows (size up to which small sealed
        segments are merged) and wal_file_bytes (WAL rotation size).
        """
        name = _check_name(name)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InvalidConfig(f"unknown collection option(s) {unknown}; known: {OPTIONS}")
        config = CollectionConfig(name=name, dim=dim, metric=metric,
                                  index=parse_index_config(index), **options)
        validate_payloads([metadata or {}], 1)
        with self._mutex:
            self._check_open()
            target = self._dir(name)
            if target.exists():
                raise CollectionExists(f"collection {name!r} already exists")
            tmp = target.with_name(name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            Collection.create(tmp, config, metadata or {}).close()
            os.replace(tmp, target)
            fsync_dir(target.parent)
            collection = Collection.open(target)
            self._collections[name] = collection
            return collection

    def get_collection(self, name: str) -> Collection:
        with self._mutex:
            self._check_open()
            if name not in self._collections:
                if not isinstance(name, str) or not NAME.match(name) or \
                        not (self._dir(name) / "manifest.json").exists():
                    raise CollectionNotFound(f"collection {name!r} not found")
                self._collections[name] = Collection.open(self._dir(name))
            return self._collections[name]

    def __contains__(self, name: str) -> bool:
        return name in self.list_collections()

    def list_collections(self) -> list[str]:
        return sorted(p.name for p in (self.path / "collections").iterdir()
                      if (p / "manifest.json").exists() and NAME.match(p.name)
                      and not p.name.endswith(".tmp"))

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its files."""
        with self._mutex:
            self._check_open()
            if not (self._dir(name) / "manifest.json").exists() or not NAME.match(name):
                raise CollectionNotFound(f"collection {name!r} not found")
            collection = self._collections.pop(name, None)
            if collection is not None:
                collection.close()
            trash = self._dir(name).with_name(name + ".dropped.tmp")
            os.replace(self._dir(name), trash)
            fsync_dir(trash.parent)
            shutil.rmtree(trash)

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
