"""A database is a directory of collections, owned by one process at a time.

Layout: `collections/<name>/` holds a collection's files (`manifest.json`, `wal/`,
`segments/`), or, once it has been rebuilt (`stage` then `promote`, as `sleuth reindex`
does), its generations `gen-000001/`, `gen-000002/`... and a `GENERATION` file naming the
current one. A new generation is built beside the current one while that one serves, and
becomes current by rewriting `GENERATION` atomically: a crash leaves one or the other, whole.
"""

import fcntl
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .collection import Collection
from .config import CollectionConfig, parse_index_config, parse_text_config
from .errors import (
    CollectionBusy,
    CollectionExists,
    CollectionNotFound,
    CorruptFile,
    DatabaseLocked,
    InvalidConfig,
    StoreClosed,
)
from .fsutil import atomic_write, fsync_dir
from .validate import check_payload

OPTIONS = ["merge_rows", "seal_rows", "wal_file_bytes"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
GENERATION = "GENERATION"
_GENERATION_DIR = re.compile(r"^gen-(\d{6})$")


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
    `memory_budget` (bytes) is given to each collection it opens: the node caches of
    its diskann segments share what the rest leaves, and `stats()["memory"]` shows
    where the bytes are.
    """

    def __init__(self, path: str | os.PathLike[str], *, group_commit: bool = True,
                 memory_budget: int | None = None) -> None:
        self.path = Path(path)
        self.group_commit = group_commit
        if memory_budget is not None and (not isinstance(memory_budget, int) or
                                          isinstance(memory_budget, bool) or memory_budget < 0):
            raise InvalidConfig(f"memory_budget must be a number of bytes >= 0, got "
                                f"{memory_budget!r}")
        self.memory_budget = memory_budget
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
        self._staging: dict[str, Collection | None] = {}
        """Staged generations by collection name (None while one is being opened)."""
        self._mutex = threading.Lock()
        self._closed = False
        self._remove_leftovers()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dir(self, name: str) -> Path:
        return self.path / "collections" / name

    def _generation(self, name: str) -> int:
        """The current generation of `name`: 0 for files directly in its directory."""
        pointer = self._dir(name) / GENERATION
        try:
            text = pointer.read_text().strip()
        except FileNotFoundError:
            return 0
        match = _GENERATION_DIR.match(text)
        if match is None:
            raise CorruptFile(f"{pointer}: not a generation name ({text[:40]!r})")
        return int(match.group(1))

    def _generation_dir(self, name: str, generation: int) -> Path:
        root = self._dir(name)
        return root if generation == 0 else root / f"gen-{generation:06d}"

    def _current_dir(self, name: str) -> Path:
        return self._generation_dir(name, self._generation(name))

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"database {self.path} is closed")

    def _remove_leftovers(self) -> None:
        """Remove what an interrupted create, drop or promote left: `*.tmp` directories,
        and generations older than a collection's current one."""
        for path in (self.path / "collections").iterdir():
            if path.name.endswith(".tmp"):
                shutil.rmtree(path, ignore_errors=True)
                continue
            for staging in path.glob("gen-*.tmp"):
                shutil.rmtree(staging, ignore_errors=True)
            if (path / GENERATION).exists():
                self._remove_older(path.name, self._generation(path.name))

    def _remove_older(self, name: str, current: int) -> None:
        """Delete the generations of `name` before `current` (generation 0 is every
        entry of its directory that is not a generation)."""
        for path in self._dir(name).iterdir():
            match = _GENERATION_DIR.match(path.name)
            if path.name == GENERATION or (match and int(match.group(1)) >= current):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _exists(self, name: Any) -> bool:
        return isinstance(name, str) and bool(NAME.match(name)) and \
            not name.endswith(".tmp") and (self._current_dir(name) / "manifest.json").exists()

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
            collection = Collection.open(target, self.group_commit, self.memory_budget)
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
            collection = Collection.open(self._current_dir(name), self.group_commit,
                                         self.memory_budget)
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

    # ---- generations: rebuild a collection beside itself, then switch -----------

    def stage(self, name: str, config: CollectionConfig,
              metadata: dict[str, Any] | None = None) -> Collection:
        """A new, empty generation of collection `name` (its next one), built beside the
        current one, which goes on serving: fill it, then `promote` it. `config` is the
        new generation's (its name must be `name`). A staged generation left by an
        earlier run is dropped first (`staged` resumes it instead). The staged
        generation is this process's until `promote`, `unstage` or `release`; staging
        it again meanwhile raises CollectionBusy."""
        check_payload(metadata or {}, "metadata")
        if config.name != name:
            raise InvalidConfig(f"a generation of {name!r} must be configured with that "
                                f"name, not {config.name!r}")
        with self._mutex:
            target = self._claim(name)
            try:
                shutil.rmtree(target, ignore_errors=True)
                tmp = target.with_name(target.name + ".tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                Collection.create(tmp, config, metadata or {}).close()
                os.replace(tmp, target)
                fsync_dir(target.parent)
                collection = self._staging[name] = Collection.open(target, self.group_commit,
                                                                    self.memory_budget)
            except BaseException:
                del self._staging[name]
                raise
            return collection

    def staged(self, name: str) -> Collection | None:
        """The staged generation of `name` an earlier run left (to resume filling it),
        opened and claimed as `stage` does; None if there is none."""
        with self._mutex:
            target = self._claim(name)
            if not (target / "manifest.json").exists():
                del self._staging[name]
                return None
            try:
                collection = self._staging[name] = Collection.open(target, self.group_commit,
                                                                    self.memory_budget)
            except BaseException:
                del self._staging[name]
                raise
            return collection

    def _claim(self, name: str) -> Path:
        """Reserve staging for `name` (mutex held); the directory of its next generation."""
        self._check_open()
        if not self._exists(name):
            raise CollectionNotFound(f"collection {name!r} not found")
        if name in self._staging:
            raise CollectionBusy(f"collection {name!r} is already being rebuilt (reindexed) "
                                 "in this process")
        self._staging[name] = None
        return self._generation_dir(name, self._generation(name) + 1)

    def release(self, name: str) -> None:
        """Close the staged generation of `name` and give up the claim, keeping its files
        (a later `staged` resumes it)."""
        with self._mutex:
            staged = self._staging.pop(name, None)
        if staged is not None:
            staged.close()

    def unstage(self, name: str) -> None:
        """Drop the staged generation of `name` (its files too), giving up the claim."""
        with self._mutex:
            staged = self._staging.pop(name, None)
            if staged is not None:
                staged.close(dropped=True)
                shutil.rmtree(staged.directory, ignore_errors=True)

    def promote(self, name: str,
                final: Callable[[Collection, Collection], None] | None = None) -> Collection:
        """Make the staged generation of `name` its current one and drop the old.

        Writes to the current generation wait while `final(current, staged)` runs (for the
        last changes to be carried over), then the switch is one atomic rewrite of the
        `GENERATION` file. From then on `get_collection` gives the new generation; the old
        object refuses writes (CollectionSuperseded) while searches holding it finish,
        and its files are removed. A crash before the rewrite keeps the old generation
        current (the staged one stays, to resume); after it, the new one."""
        staged = self._staging.get(name)
        if staged is None:
            raise InvalidConfig(f"collection {name!r} has no staged generation to promote")
        current = self.get_collection(name)
        generation = self._generation(name) + 1

        def switch() -> None:  # no database lock here: `close` and `drop` take it first
            if final is not None:
                final(current, staged)
            self._check_open()
            atomic_write(self._dir(name) / GENERATION, f"gen-{generation:06d}\n".encode())
            if self._collections.get(name) is current:
                self._collections[name] = staged

        current.supersede(switch)
        with self._mutex:
            self._staging.pop(name, None)
            if self._collections.get(name) is not staged:  # dropped or closed meanwhile
                staged.close(dropped=True)
                return staged
        self._remove_older(name, generation)
        return staged

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
                      if ((p / "manifest.json").exists() or (p / GENERATION).exists())
                      and NAME.match(p.name) and not p.name.endswith(".tmp"))

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
                    staged = self._staging.pop(name, None)
                    if staged is not None:
                        staged.close(dropped=True)
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
            for collection in list(self._collections.values()):
                collection.close()
            for staged in list(self._staging.values()):
                if staged is not None:
                    staged.close()
            self._collections.clear()
            self._staging.clear()
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
