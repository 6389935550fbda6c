"""One copy of one shard: a Ray actor owning an ordinary store collection on its node.

The collection lives in `<root>/<node id>/<collection>/shard-<s>/replica-<r>`: a restart
on the same node reopens it (WAL replay), a restart on another node starts empty. Either
way the replica serves no read until its shard coordinator (`shard.py`) has brought it up
to date and told it to serve: a restarted replica may have missed writes.

Writes arrive one at a time from the coordinator, tagged with the incarnation they are
meant for; a replica that restarted since refuses them (`StaleIncarnation`), so a write
can never land on a copy that is not known to be complete.
"""

import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from cluster.errors import NotServing, StaleIncarnation
from cluster.spec import COMPLETE_KEY, STALE_KEY, CollectionSpec, Write
from vectorstore import Database
from vectorstore.collection import Collection
from vectorstore.fsutil import fsync_tree

CHUNK_BYTES = 8 << 20
"""Bytes per call when a catching-up replica copies a peer's files through the object store."""


@dataclass(frozen=True)
class ReplicaState:
    """What a replica tells its coordinator: who it is now and what it holds."""

    replica: int
    incarnation: str
    node: str
    complete: bool
    """False until it was first declared up to date (a new, empty copy)."""
    stale: tuple[int, ...]
    """Replicas of the shard this copy knows to have missed writes."""
    serving: bool
    count: int
    disk_bytes: int
    health: str


class Replica:
    """A shard's copy on one node (run as a Ray actor by `actors.py`)."""

    def __init__(self, spec: CollectionSpec, shard: int, replica: int) -> None:
        self.spec = spec
        self.replica = replica
        self.node = ray.get_runtime_context().get_node_id()
        self.directory = (Path(spec.root) / self.node[:16] / spec.name / f"shard-{shard}"
                          / f"replica-{replica}")
        self.incarnation = uuid.uuid4().hex
        self.serving = False
        self._lock = threading.Lock()
        """Held while the collection is swapped for a peer's copy."""
        self.db, self.collection = self._open()

    def _open(self) -> tuple[Database, Collection]:
        db = Database(self.directory)
        if self.spec.name in db:
            return db, db.get_collection(self.spec.name)
        config = self.spec.config()
        collection = db.create_collection(
            self.spec.name, config.dim, config.metric, self.spec.index,
            metadata={**self.spec.metadata, COMPLETE_KEY: False, STALE_KEY: []},
            text=self.spec.text or False, **self.spec.options)
        return db, collection

    # ---- coordination ------------------------------------------------------------

    def state(self) -> ReplicaState:
        metadata = self.collection.metadata
        stats = self.collection.stats()
        return ReplicaState(self.replica, self.incarnation, self.node,
                            bool(metadata.get(COMPLETE_KEY)),
                            tuple(metadata.get(STALE_KEY, ())), self.serving,
                            stats["count"], stats["disk_bytes"], stats["health"])

    def apply(self, incarnation: str, write: Write) -> int | None:
        """Carry out one write of the shard (in the coordinator's order)."""
        self._check(incarnation)
        with self._lock:
            return write.apply(self.collection)

    def serve(self, incarnation: str) -> None:
        """Declared up to date by the coordinator: answer reads from now on."""
        self._check(incarnation)
        if not self.collection.metadata.get(COMPLETE_KEY):
            self.collection.update_metadata({COMPLETE_KEY: True})
        self.serving = True

    def stop(self) -> None:
        """Fallen behind (a write failed or timed out here): answer no read."""
        self.serving = False

    def _serving(self) -> None:
        if not self.serving:
            raise NotServing(f"replica {self.replica} of {self.spec.name!r} is catching up")

    def _check(self, incarnation: str) -> None:
        if incarnation != self.incarnation:
            raise StaleIncarnation(f"replica {self.replica} of {self.spec.name!r} restarted")

    # ---- catching up from a peer ---------------------------------------------------

    def checkpoint(self) -> tuple[str, list[tuple[str, int]]]:
        """A consistent copy of this replica's collection (hard links where possible),
        kept until `release`; its token and entries (relative path, size in bytes, or
        -1 for a directory)."""
        token = uuid.uuid4().hex
        target = self._checkpoints() / token
        self.collection.checkpoint(target)
        entries = [(str(p.relative_to(target)), p.stat().st_size if p.is_file() else -1)
                   for p in sorted(target.rglob("*"))]
        return token, entries

    def read_file(self, token: str, path: str, offset: int) -> bytes:
        with open(self._checkpoints() / token / path, "rb") as f:
            f.seek(offset)
            return f.read(CHUNK_BYTES)

    def release(self, token: str) -> None:
        shutil.rmtree(self._checkpoints() / token, ignore_errors=True)

    def _checkpoints(self) -> Path:
        return self.directory / "checkpoints"

    def install(self, incarnation: str, peer: Any, token: str,
                entries: list[tuple[str, int]]) -> int:
        """Replace this copy by a peer's checkpoint, copied file by file through the
        object store, then reopen it (the WAL replays); answers the records it holds.
        If the copy cannot be opened, the previous one is put back."""
        self._check(incarnation)
        incoming = self.directory / "incoming"
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir()
        for path, size in entries:
            if size < 0:
                (incoming / path).mkdir(parents=True, exist_ok=True)
            else:
                self._fetch(peer, token, path, size, incoming / path)
        fsync_tree(incoming)
        live = self.directory / "collections" / self.spec.name
        previous = self.directory / "previous"
        shutil.rmtree(previous, ignore_errors=True)
        with self._lock:
            self.db.close()
            os.replace(live, previous)
            os.replace(incoming, live)
            try:
                self.db, self.collection = self._open()
            except BaseException:
                shutil.rmtree(live)
                os.replace(previous, live)
                self.db, self.collection = self._open()
                raise
        shutil.rmtree(previous, ignore_errors=True)
        return self.collection.count()

    @staticmethod
    def _fetch(peer: Any, token: str, path: str, size: int, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as f:
            offset = 0
            while offset < size:
                data = ray.get(peer.read_file.remote(token, path, offset))
                f.write(data)
                offset += len(data)

    # ---- reads ---------------------------------------------------------------------

    def read(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A read of the collection (`READS`: search, get, count, ...), refused
        unless this copy is serving."""
        self._serving()
        if method not in READS:
            raise ValueError(f"not a read: {method}")
        return getattr(self.collection, method)(*args, **kwargs)

    def reads(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Several reads in one call (a hybrid search's two rankings)."""
        return [self.read(method, **kwargs) for method, kwargs in calls]

    def metadata(self) -> dict[str, Any]:
        """The collection's metadata (its shard's bookkeeping keys included)."""
        self._serving()
        return self.collection.metadata

    def maintain(self, method: str) -> None:
        """`flush` or `compact` this copy."""
        if method not in ("flush", "compact"):
            raise ValueError(f"not a maintenance call: {method}")
        getattr(self.collection, method)()

    def drop(self) -> None:
        """Delete this copy and its directory (the collection is being dropped)."""
        self.db.drop_collection(self.spec.name)
        self.db.close()
        shutil.rmtree(self.directory, ignore_errors=True)


READS = frozenset({"search", "text_stats", "get", "count", "facet", "stats", "health"})
