"""A collection: durable writes through the WAL, reads from immutable snapshots.

Write path: check the whole batch (`validate.py`); under the writer lock stage it in
memory (id map, payload index, growing segment, tombstones: nothing readers can see)
and append its record to the WAL; then wait, outside the lock, for an fdatasync that
covers it (group commit, `commit.py`), after which it is published and answered. A
failed write or fsync rolls back every batch not yet durable and fails its writer;
acknowledged data is untouched. When the growing segment reaches
`seal_rows` it is frozen and the maintenance thread (`maintenance.py`) seals it into
an indexed on-disk segment, swaps the manifest and retires the WAL before it.
Read path: take the current snapshot, compile the filter to a bitmap, search every
segment with its mask and merge the top k (`search.py`: by vector, by text, or both
fused). Every read answers from one snapshot.

`Collection` owns the state and the locks; its behaviour comes in three parts, one
module each: `collection_writes.py` (write path, group commit, replay),
`collection_reads.py` (search, get, count, facet) and `collection_segments.py` (freeze,
seal, compaction, text-index rebuild, checkpoint, manifest).
"""

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyroaring import BitMap

from .collection_reads import MAX_K, Reads, Record
from .collection_segments import Segments
from .collection_writes import Writes
from .commit import SyncQueue, WriteQueue
from .config import CollectionConfig
from .errors import CollectionNotFound, CollectionSuperseded, StoreClosed
from .idmap import IdMap
from .maintenance import Health, Maintenance
from .manifest import Manifest, read_manifest, write_manifest
from .memory import report as memory_report
from .memory import segment_memory
from .metrics import METRICS
from .payloads import PayloadIndex
from .segment import GrowingView, SealedSegment
from .text.analyzer import Analyzer
from .text.postings import load_kernels
from .validate import check_payload
from .wal import WriteAheadLog

__all__ = ["MAX_K", "Collection", "Record"]


class Collection(Writes, Reads, Segments):
    """Records of one fixed dimension and metric; open it through `Database`.

    Locks, always taken in this order:
    - `_write_lock`: one writer at a time (the writer writing the queued requests, an
      fsync's recovery, freezes, close); the write queue's mutex is held only to queue
      or take requests;
    - `_maintenance_lock`: one seal, compaction or manifest write at a time;
    - `_state_lock`: swaps of the segment lists, tombstones, committed state and the
      published snapshot (held briefly, never around I/O);
    - the payload index's own lock, innermost.
    """

    def __init__(self, directory: Path, manifest: Manifest, group_commit: bool = True,
                 memory_budget: int | None = None) -> None:
        self.directory = directory
        self.memory_budget = memory_budget
        self.config = manifest.config
        self.metric = METRICS[manifest.config.metric]
        self._manifest = manifest
        self._write_lock = threading.Lock()
        self._maintenance_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False
        self._dropped = False
        self._superseded = False
        self._write_error: str | None = None
        self._quarantined = 0
        self._index = PayloadIndex()
        self._ids = IdMap()
        self._analyzer = None if self.config.text is None else Analyzer(self.config.text)
        if self._analyzer is not None:
            load_kernels(self._analyzer)
        self._sealed = tuple(SealedSegment(directory / "segments" / name, self.metric,
                                           self.config.index, self._analyzer is not None)
                             for name in manifest.segments)
        self._frozen: list[tuple[GrowingView, int]] = []
        self._growing = self._new_growing()
        self._dead = BitMap(manifest.tombstones)
        self._next_rowid = manifest.next_rowid
        self._remove_orphans()
        self._load_sealed()
        self._apportion_memory()
        self._wal = WriteAheadLog(directory / "wal", self.config.wal_file_bytes)
        self._replay(manifest.checkpoint_seq)
        self._grouped = group_commit
        self._syncs = SyncQueue(self._write_lock, self._wal.sync, self._publish_durable,
                                self._recover)
        self._queued = WriteQueue(self._write_lock, self._write, self._syncs.wake,
                                  self._syncs.wait_idle)
        self._maintenance = Maintenance(self.config.name, self._maintain)
        with self._write_lock:
            self._maybe_freeze()

    @classmethod
    def create(cls, directory: Path, config: CollectionConfig,
               metadata: dict[str, Any]) -> "Collection":
        (directory / "segments").mkdir(parents=True)
        write_manifest(directory, Manifest(config=config, metadata=dict(metadata)))
        return cls(directory, read_manifest(directory))

    @classmethod
    def open(cls, directory: Path, group_commit: bool = True,
             memory_budget: int | None = None) -> "Collection":
        """Open an existing collection; with `memory_budget` (bytes), its diskann
        segments' node caches share what the rest leaves of it (`memory.py`)."""
        return cls(directory, read_manifest(directory), group_commit, memory_budget)

    # ---- properties -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def index_config(self) -> Any:
        return self.config.index

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._manifest.metadata)

    def update_metadata(self, values: dict[str, Any]) -> None:
        """Merge `values` into the collection's metadata and persist it."""
        check_payload(values, "metadata")
        with self._maintenance_lock:
            self._write_manifest(metadata={**self._manifest.metadata, **values})

    # ---- open, closed, health -----------------------------------------------------

    def _closed_error(self) -> Exception:
        if self._superseded:
            return CollectionSuperseded(
                f"collection {self.name!r} was replaced by a new generation (reindexed): "
                "get it from the database again")
        if self._dropped:
            return CollectionNotFound(f"collection {self.name!r} not found (dropped)")
        return StoreClosed(f"collection {self.name!r} is closed")

    def _check_open(self) -> None:
        if self._closed:
            raise self._closed_error()

    def health(self) -> Health:
        """`ok`, or `degraded` with the reason: background sealing failing, the last
        write failing, or WAL records quarantined at open."""
        health = self._maintenance.health()
        if health.status != "ok":
            return health
        if self._write_error is not None:
            return replace(health, status="degraded",
                           reason=f"the last write failed: {self._write_error}")
        if self._quarantined:
            return replace(health, status="degraded",
                           reason=f"{self._quarantined} WAL record(s) quarantined at open "
                                  f"(see {self.directory / 'quarantine'})")
        return health

    def stats(self) -> dict[str, Any]:
        self._check_open()
        snap = self._snap()
        health = self.health()
        return {
            "name": self.name, "dim": self.dim, "metric": self.config.metric,
            "index": self.config.index.type, "count": snap.count,
            "sealed_segments": len(snap.sealed), "sealed_rows": sum(map(len, snap.sealed)),
            "growing_rows": len(snap.growing) + sum(map(len, snap.frozen)),
            "deleted_rows": len(snap.dead),
            "text_index": "none" if snap.analyzer is None else "bm25f",
            "text_bytes": sum(seg.text_bytes() for seg in snap.sealed),
            "disk_bytes": self._wal.disk_bytes() + sum(seg.disk_bytes() for seg in snap.sealed),
            "memory": memory_report([segment_memory(seg) for seg in snap.sealed],
                                    self._buffer_bytes(), self.memory_budget),
            "health": health.status, "health_reason": health.reason,
            "maintenance_failures": health.failures_total, "quarantined": self._quarantined,
        }

    def supersede(self, switch: Callable[[], None]) -> None:
        """Hand over to a new generation: wait for the writes in flight, run `switch` while
        no write can start (`Database.promote` makes the new generation current in it),
        then refuse writes for good (CollectionSuperseded) and release the WAL. Reads go
        on from the last snapshot, so a search holding this object never fails; the
        files may then be removed (sealed segments stay mapped)."""
        with self._write_lock:
            self._check_open()
            self._syncs.drain()
            switch()
            self._closed = self._superseded = True
        self._maintenance.stop(drain=False)
        self._wal.close()

    def close(self, dropped: bool = False) -> None:
        """Stop taking writes (an in-flight group finishes first), let the maintenance
        thread finish a pending seal unless `dropped`, release files. The WAL already
        holds every acknowledged write. After a drop, every call raises
        CollectionNotFound."""
        with self._write_lock:
            if self._closed:
                return
            self._closed, self._dropped = True, dropped
            self._syncs.drain()
        self._maintenance.stop(drain=not dropped)
        self._wal.close()
