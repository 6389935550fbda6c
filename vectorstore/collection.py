"""A collection: durable writes through the WAL, reads from immutable snapshots.

Write path: validate the whole batch, append it to the WAL (fsync), apply it to the
growing segment, tombstones and payload index, publish a new snapshot. When the growing
segment reaches `seal_rows` it is frozen and a background thread seals it into an
indexed on-disk segment, swaps the manifest and retires the WAL before it.
Read path: take the current snapshot, compile the filter to a bitmap, search every
segment with its mask and merge the top k.
"""

import queue
import shutil
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pyroaring import BitMap

from . import records
from .compaction import SegmentStats, plan_compaction
from .config import CollectionConfig
from .errors import DimensionMismatch, InvalidInput, StoreClosed
from .filters import compile_filter
from .manifest import Manifest, read_manifest, write_manifest
from .metrics import METRICS
from .payloads import PayloadIndex, key_value, validate_payloads
from .segment import GrowingSegment, GrowingView, SealedSegment, write_segment
from .snapshot import Snapshot, local_positions, rows_array
from .wal import WriteAheadLog

MAX_K = 10_000


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Record:
    id: str
    vector: np.ndarray | None
    payload: dict[str, Any]


def _check_ids(ids: Any, what: str = "ids", unique: bool = True) -> list[str]:
    if isinstance(ids, str) or not isinstance(ids, list | tuple):
        raise InvalidInput(f"{what} must be a list of strings, got {type(ids).__name__}")
    seen: set[str] = set()
    for i, rid in enumerate(ids):
        if not isinstance(rid, str) or not rid:
            raise InvalidInput(f"{what}[{i}] must be a non-empty string, got {rid!r}")
        if unique and rid in seen:
            raise InvalidInput(f"{what}[{i}] {rid!r} appears twice in the batch")
        seen.add(rid)
    return list(ids)


class Collection:
    """Records of one fixed dimension and metric; open it through `Database`."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory
        self.config = manifest.config
        self.metric = METRICS[manifest.config.metric]
        self._manifest = manifest
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._maintenance_lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._closed = False
        self._index = PayloadIndex()
        self._ids: dict[str, int] = {}
        self._sealed = tuple(SealedSegment(directory / "segments" / name, self.metric,
                                           self.config.index) for name in manifest.segments)
        self._frozen: list[tuple[GrowingView, int]] = []
        self._growing = GrowingSegment(self.config.dim, self.metric)
        self._dead = BitMap(manifest.tombstones)
        self._next_rowid = manifest.next_rowid
        self._remove_orphans()
        self._load_sealed()
        self._commit()
        self._wal = WriteAheadLog(directory / "wal", self.config.wal_file_bytes)
        for _, payload in self._wal.recover(manifest.checkpoint_seq):
            self._apply(records.decode(payload))
        self._seal_queue: queue.Queue[bool] = queue.Queue()
        self._sealer = threading.Thread(target=self._seal_loop, daemon=True,
                                        name=f"seal-{self.config.name}")
        self._sealer.start()
        self._maybe_freeze()

    @classmethod
    def create(cls, directory: Path, config: CollectionConfig,
               metadata: dict[str, Any]) -> "Collection":
        (directory / "segments").mkdir(parents=True)
        write_manifest(directory, Manifest(config=config, metadata=dict(metadata)))
        return cls(directory, read_manifest(directory))

    @classmethod
    def open(cls, directory: Path) -> "Collection":
        return cls(directory, read_manifest(directory))

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
        validate_payloads([values], 1)
        self._write_manifest(metadata=values)

    # ---- opening ----------------------------------------------------------------

    def _remove_orphans(self) -> None:
        """Drop segment directories a crashed seal or compaction left unreferenced."""
        keep = set(self._manifest.segments)
        for path in (self.directory / "segments").iterdir():
            if path.name not in keep:
                shutil.rmtree(path)

    def _load_sealed(self) -> None:
        for seg in self._sealed:
            for local, row in enumerate(seg.rowids.tolist()):
                if row in self._dead:
                    continue
                rid, payload = seg.record(local)
                self._ids[rid] = row
                self._index.add(row, payload)

    # ---- writes -----------------------------------------------------------------

    def upsert(self, ids: list[str], vectors: Any, payloads: list[dict[str, Any]] | None = None,
               *, delete: list[str] | None = None) -> None:
        """Insert or replace records, and remove the records `delete` names (those not
        also upserted), as one atomic batch; durable (fsync'd) when this returns.

        The batch is checked whole first: on any error nothing of it is applied. It is
        one WAL record and one published snapshot, so a reader sees the collection
        before it or after it, never in between, and a crash keeps all of it or none.
        """
        ids = _check_ids(ids)
        gone = [] if delete is None else _check_ids(delete, "delete", unique=False)
        matrix = self._check_vectors(vectors, len(ids), "vectors")
        payloads = validate_payloads(payloads, len(ids))
        if not ids and not gone:
            return
        with self._write_lock:
            self._check_open()
            upserted = set(ids)
            gone = [rid for rid in dict.fromkeys(gone) if rid not in upserted and rid in self._ids]
            if not ids and not gone:
                return
            op = records.Upsert(self._next_rowid, ids, self.metric.prepare(matrix), payloads,
                                gone)
            self._wal.append(records.encode_upsert(op))
            self._apply(op)
            self._maybe_freeze()

    def delete(self, ids: list[str] | None = None, where: dict[str, Any] | None = None) -> int:
        """Delete records by id or by filter; returns how many live records went."""
        if (ids is None) == (where is None):
            raise InvalidInput("delete takes exactly one of ids or where")
        if ids is not None:
            ids = _check_ids(ids)
        with self._write_lock:
            self._check_open()
            if where is not None:
                ids = [rec.id for rec in self.get(where=where, limit=None)]
            live = [rid for rid in ids if rid in self._ids]
            if not live:
                return 0
            op = records.Delete(live)
            self._wal.append(records.encode_delete(op))
            self._apply(op)
            return len(live)

    def _apply(self, op: records.Upsert | records.Delete) -> None:
        """Apply one logged operation to memory (live writes and WAL replay alike)."""
        dead = BitMap()
        if isinstance(op, records.Delete):
            for rid in op.ids:
                row = self._ids.pop(rid, None)
                if row is not None:
                    dead.add(row)
        else:
            for rid in op.deletes:
                row = self._ids.pop(rid, None)
                if row is not None:
                    dead.add(row)
            n = len(op.ids)
            rowids = np.arange(op.first_rowid, op.first_rowid + n, dtype=np.uint32)
            for rid, row, payload in zip(op.ids, rowids.tolist(), op.payloads, strict=True):
                old = self._ids.get(rid)
                if old is not None:
                    dead.add(old)
                self._ids[rid] = row
                self._index.add(row, payload)
            self._growing.append(rowids, op.vectors, op.ids, op.payloads)
            self._next_rowid = max(self._next_rowid, op.first_rowid + n)
        with self._state_lock:
            if dead:
                self._dead = self._dead | dead
            self._commit()

    def _commit(self) -> None:
        """Make the writer's state visible: record the growing buffer's length, the live
        count and the row limit, then publish (state lock held, or at open).

        Only what a commit recorded is published, so a seal or compaction publishing
        while a write is being applied never exposes half of it."""
        self._committed = (self._growing.view(), len(self._ids), self._next_rowid)
        self._publish()

    def _publish(self) -> None:
        growing, count, row_limit = self._committed
        self._snapshot = Snapshot(self._sealed, tuple(v for v, _ in self._frozen), growing,
                                  BitMap(self._dead), count, row_limit)

    # ---- sealing ----------------------------------------------------------------

    def _maybe_freeze(self, force: bool = False) -> None:
        """Freeze the growing segment for sealing once it is full (writer lock held)."""
        if self._growing.length == 0 or (not force and
                                         self._growing.length < self.config.seal_rows):
            return
        with self._state_lock:
            self._frozen.append((self._growing.view(), self._wal.next_seq - 1))
            self._growing = GrowingSegment(self.config.dim, self.metric)
            self._commit()
        self._wal.rotate()
        self._seal_queue.put(True)

    def _seal_loop(self) -> None:
        while self._seal_queue.get():
            try:
                self._seal_oldest()
                self._compact(force=False)
            finally:
                self._seal_queue.task_done()
        self._seal_queue.task_done()

    def _seal_oldest(self) -> None:
        with self._maintenance_lock:
            view, end_seq = self._frozen[0]
            name = f"{self._manifest.next_segment:012d}"
            seg = write_segment(self.directory / "segments" / name, view.rowids, view.vectors,
                                view.ids[:len(view)], view.payload_bytes(), self.metric,
                                self.config.index)
            with self._state_lock:
                self._sealed = (*self._sealed, seg)
                self._frozen.pop(0)
                self._publish()
            self._write_manifest(next_segment=self._manifest.next_segment + 1,
                                 checkpoint_seq=end_seq,
                                 next_rowid=int(view.rowids[-1]) + 1)
            self._wal.retire(end_seq)

    def _write_manifest(self, metadata: dict[str, Any] | None = None, **changes: Any) -> None:
        """Persist the manifest with the current segments and tombstones, merging
        `metadata` into the stored metadata.

        Tombstones may run ahead of the checkpoint: replaying the WAL after it re-applies
        the same deletes, so they are idempotent.
        """
        with self._manifest_lock:
            with self._state_lock:
                segments = tuple(seg.name for seg in self._sealed)
                dead = BitMap(self._dead)
            if metadata:
                changes["metadata"] = {**self._manifest.metadata, **metadata}
            manifest = replace(self._manifest, segments=segments, tombstones=dead, **changes)
            write_manifest(self.directory, manifest)
            self._manifest = manifest

    def flush(self) -> None:
        """Seal the growing segment now and wait until every pending seal is on disk."""
        with self._write_lock:
            self._check_open()
            self._maybe_freeze(force=True)
        self._seal_queue.join()

    def compact(self) -> None:
        """Rewrite sealed segments without their dead rows and merge small ones."""
        self.flush()
        self._compact(force=True)

    def _compact(self, force: bool) -> None:
        with self._maintenance_lock:
            snap = self._snapshot
            stats = [SegmentStats(len(seg), local_positions(seg.rowids, snap.dead_rows()).size)
                     for seg in snap.sealed]
            plan = plan_compaction(stats, self.config.merge_rows, force=force)
            for group in reversed(plan):
                self._rewrite(snap, group)

    def _rewrite(self, snap: Snapshot, group: list[int]) -> None:
        """Replace the sealed segments at positions `group` by one holding their live
        rows (maintenance lock held)."""
        olds = [snap.sealed[i] for i in group]
        dead = [local_positions(seg.rowids, snap.dead_rows()) for seg in olds]
        keep = [np.setdiff1d(np.arange(len(seg)), gone)
                for seg, gone in zip(olds, dead, strict=True)]
        dropped = BitMap(np.concatenate([seg.rowids[gone] for seg, gone in
                                         zip(olds, dead, strict=True)]))
        new = None
        if sum(live.size for live in keep):
            name = f"{self._manifest.next_segment:012d}"
            new = write_segment(
                self.directory / "segments" / name,
                np.concatenate([seg.rowids[live] for seg, live in zip(olds, keep, strict=True)]),
                np.concatenate([seg.vectors[live] for seg, live in zip(olds, keep, strict=True)]),
                [seg.record_id(i) for seg, live in zip(olds, keep, strict=True) for i in live],
                [seg.payload_bytes(i) for seg, live in zip(olds, keep, strict=True)
                 for i in live],
                self.metric, self.config.index)
        with self._state_lock:
            sealed = [seg for seg in self._sealed if seg not in olds]
            if new is not None:
                sealed.append(new)
            self._sealed = tuple(sorted(sealed, key=lambda s: int(s.rowids[0])))
            self._dead = self._dead - dropped
            self._publish()
        self._index.drop_rows(dropped)
        self._write_manifest(next_segment=self._manifest.next_segment + (new is not None))
        for seg in olds:
            shutil.rmtree(seg.directory, ignore_errors=True)

    # ---- reads ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(f"collection {self.name!r} is closed")

    def _check_vectors(self, vectors: Any, n: int | None, what: str) -> np.ndarray:
        try:
            matrix = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{what} must be numbers: {exc}") from None
        if matrix.ndim == 1 and n is None:
            matrix = matrix[None, :]
        if n == 0 and matrix.size == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if matrix.ndim != 2 or (n is not None and matrix.shape[0] != n and matrix.size):
            raise InvalidInput(f"{what} must have shape ({n if n is not None else 'n'}, "
                               f"{self.dim}), got {matrix.shape}")
        if matrix.size and matrix.shape[1] != self.dim:
            raise DimensionMismatch(f"{what} have dimension {matrix.shape[1]}, collection "
                                    f"{self.name!r} expects {self.dim}")
        bad = ~np.isfinite(matrix).all(axis=1) if matrix.size else np.zeros(0, bool)
        if bad.any():
            raise InvalidInput(f"{what}[{int(np.flatnonzero(bad)[0])}] contains NaN or inf")
        return matrix

    def _allowed(self, snap: Snapshot, where: dict[str, Any] | None) -> BitMap | None:
        if where is None:
            return None
        return snap.visible(compile_filter(where, self._index))

    def search(self, vectors: Any, k: int = 10, where: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None) -> list[Hit] | list[list[Hit]]:
        """Top-k records for one query vector (-> list of hits) or a matrix of queries
        (-> one list per query), best first, among records matching `where`."""
        single = np.ndim(vectors) == 1
        queries = self.metric.prepare(self._check_vectors(vectors, None, "query"))
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 < k <= MAX_K:
            raise InvalidInput(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if params is not None and not isinstance(params, dict):
            raise InvalidInput("params must be an object")
        snap = self._snapshot
        masks = snap.masks(self._allowed(snap, where))
        found_d, found_seg, found_row = [], [], []
        for pos, (seg, mask) in enumerate(zip(snap.segments, masks, strict=True)):
            if len(seg) == 0 or (mask is not None and not mask.any()):
                continue
            rows, dist = seg.search(queries, int(k), mask, params or {})
            found_d.append(dist)
            found_row.append(rows)
            found_seg.append(np.full(rows.shape, pos))
        hits = [self._merge(snap, q, found_d, found_seg, found_row, int(k))
                for q in range(queries.shape[0])]
        return hits[0] if single else hits

    def _merge(self, snap: Snapshot, q: int, dists: list, segs: list, rows: list,
               k: int) -> list[Hit]:
        if not dists:
            return []
        dist = np.concatenate([d[q] for d in dists])
        seg = np.concatenate([s[q] for s in segs])
        row = np.concatenate([r[q] for r in rows])
        order = np.argsort(dist, kind="stable")[:k]
        order = order[row[order] >= 0]
        scores = self.metric.score(dist[order])
        out = []
        for i, score in zip(order.tolist(), scores.tolist(), strict=True):
            rid, payload = snap.segments[seg[i]].record(int(row[i]))
            out.append(Hit(rid, score, payload))
        return out

    def get(self, ids: list[str] | None = None, where: dict[str, Any] | None = None,
            limit: int | None = 100, offset: int = 0, include_vectors: bool = True
            ) -> list[Record | None] | list[Record]:
        """Records by id (None where absent, in the order asked) or by filter (ordered
        by insertion, paged with limit/offset)."""
        snap = self._snapshot
        if ids is not None:
            ids = _check_ids(ids)
            rows = [self._ids.get(rid) for rid in ids]
            known = np.array([r for r in rows if r is not None], dtype=np.uint32)
            located = iter(snap.locate(known))
            return [None if r is None else self._record(*next(located), include_vectors)
                    for r in rows]
        allowed = self._allowed(snap, where if where is not None else {})
        wanted = rows_array(allowed)[offset:None if limit is None else offset + limit]
        return [self._record(seg, local, include_vectors)
                for seg, local in snap.locate(wanted)]

    def _record(self, seg: Any, local: int, include_vectors: bool) -> Record:
        rid, payload = seg.record(local)
        return Record(rid, seg.vector(local) if include_vectors else None, payload)

    def count(self, where: dict[str, Any] | None = None) -> int:
        """Live records, or live records matching `where`."""
        snap = self._snapshot
        if where is None:
            return snap.count
        return len(self._allowed(snap, where))

    def facet(self, field: str) -> dict[Any, int]:
        """Distinct values of a payload field with the number of live records holding
        each, most frequent first."""
        snap = self._snapshot
        counts = {key_value(key): len(snap.visible(rows)) for key, rows in
                  self._index.facet(field).items()}
        return dict(sorted(((v, c) for v, c in counts.items() if c),
                           key=lambda item: (-item[1], str(item[0]))))

    def stats(self) -> dict[str, Any]:
        snap = self._snapshot
        wal_bytes = sum(p.stat().st_size for p in (self.directory / "wal").glob("*.wal"))
        return {
            "name": self.name, "dim": self.dim, "metric": self.config.metric,
            "index": self.config.index.type, "count": snap.count,
            "sealed_segments": len(snap.sealed), "sealed_rows": sum(map(len, snap.sealed)),
            "growing_rows": len(snap.growing) + sum(map(len, snap.frozen)),
            "deleted_rows": len(snap.dead),
            "disk_bytes": wal_bytes + sum(seg.disk_bytes() for seg in snap.sealed),
        }

    def close(self) -> None:
        """Finish pending seals and release files; the WAL already holds every write."""
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
        self._seal_queue.put(False)
        self._sealer.join()
        self._wal.close()
