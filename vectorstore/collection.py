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
"""

import errno
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pyroaring import BitMap

from . import records
from .commit import Pending, Request, SyncQueue
from .compaction import SegmentStats, plan_compaction
from .config import CollectionConfig, parse_text_config
from .errors import (
    CollectionNotFound,
    CollectionSuperseded,
    InvalidConfig,
    InvalidInput,
    StorageFull,
    StoreClosed,
    WriteFailed,
)
from .filters import compile_filter
from .filters import validate as validate_filter
from .fsutil import fsync_tree
from .idmap import IdMap, IdView
from .maintenance import Health, Maintenance, describe
from .manifest import NAME as MANIFEST
from .manifest import Manifest, read_manifest, write_manifest
from .memory import cache_shares, segment_memory
from .memory import report as memory_report
from .metrics import METRICS
from .payloads import PayloadIndex, key_value
from .search import Hit, plan_search, run_search
from .segment import GrowingSegment, GrowingView, SealedSegment, with_text, write_segment
from .snapshot import Snapshot, local_positions, rows_array
from .text.analyzer import Analyzer
from .text.postings import GrowingPostings, merge_postings
from .text.search import TextStats, statistics
from .validate import check_ids, check_payload, check_payloads, check_vectors
from .wal import MAX_RECORD, WriteAheadLog

log = logging.getLogger("vectorstore.collection")

MAX_K = 10_000
MAX_PREALLOCATED = 1 << 16
"""Rows a growing segment reserves room for up front (it grows past them if needed)."""


@dataclass(frozen=True)
class Record:
    id: str
    vector: np.ndarray | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Upsert:
    """A checked upsert waiting for group commit (vectors prepared by the metric)."""

    ids: list[str]
    vectors: np.ndarray
    payloads: list[bytes]
    objects: list[dict[str, Any]]
    delete: list[str]


@dataclass(frozen=True)
class _Delete:
    """A checked delete waiting for group commit: by ids, or by a validated filter."""

    ids: list[str] | None
    where: dict[str, Any] | None


@dataclass
class _Undo:
    """What staging one logged operation changed, to take it back."""

    length: int
    next_rowid: int
    ids: list[tuple[str, int | None]] = field(default_factory=list)
    rows: BitMap = field(default_factory=BitMap)
    dead: BitMap = field(default_factory=BitMap)


@dataclass(frozen=True)
class _Staged:
    """A batch logged but not yet durable: how to undo it, and the writer's state just
    after it, to publish once it is durable."""

    undo: _Undo
    growing: GrowingView
    ids: IdView
    row_limit: int
    result: Any


@dataclass(frozen=True)
class _Committed:
    """The writer's state as of its last commit: all that snapshots may show of it."""

    growing: GrowingView
    ids: IdView
    row_limit: int
    dead: BitMap


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link an immutable file, or copy it where links cannot go."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_failed(exc: OSError, maybe_kept: bool = False) -> WriteFailed:
    kind = StorageFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else WriteFailed
    if maybe_kept:
        error = kind(f"write not acknowledged, the WAL fsync failed ({describe(exc)}): it "
                     "is not visible now, and the disk may or may not have kept it")
    else:
        error = kind(f"write not applied, nothing of it is stored: {describe(exc)}")
    error.__cause__ = exc
    return error


class Collection:
    """Records of one fixed dimension and metric; open it through `Database`.

    Locks, always taken in this order:
    - `_write_lock`: one writer at a time (the group-commit leader, freezes, close);
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

    # ---- opening ----------------------------------------------------------------

    def _remove_orphans(self) -> None:
        """Drop segment directories a crashed seal or compaction left unreferenced."""
        keep = set(self._manifest.segments)
        for path in (self.directory / "segments").iterdir():
            if path.name not in keep:
                shutil.rmtree(path)

    def _load_sealed(self) -> None:
        pairs = []
        for seg in self._sealed:
            for local, row in enumerate(seg.rowids.tolist()):
                if row in self._dead:
                    continue
                rid, payload = seg.record(local)
                pairs.append((rid, row))
                self._index.add(row, [payload])
        self._ids.load(pairs)

    def _replay(self, after_seq: int) -> None:
        """Apply the WAL after the checkpoint. A record that cannot be decoded, fails
        the write path's checks or cannot be applied is quarantined with the reason and
        replay goes on: a collection always opens."""
        for seq, payload in self._wal.recover(after_seq):
            try:
                op = records.decode(payload)
            except Exception as exc:  # whatever the record holds, it must not stop the open
                self._quarantine(seq, payload, f"undecodable record: {describe(exc)}")
                continue
            try:
                op = self._checked(op)
            except InvalidInput as exc:
                self._quarantine(seq, payload, f"record fails the write checks: {exc}")
                continue
            try:
                self._stage(op)
            except Exception as exc:
                self._quarantine(seq, payload, f"record could not be applied: {describe(exc)}")
        with self._state_lock:
            self._commit()

    def _checked(self, op: records.Upsert | records.Delete) -> records.Upsert | records.Delete:
        """A decoded record put through the write path's checks."""
        if isinstance(op, records.Delete):
            return records.Delete(check_ids(op.ids, "delete", unique=False))
        ids = check_ids(op.ids)
        vectors = check_vectors(op.vectors, len(ids), self.dim, self.metric, "vectors")
        return replace(op, ids=ids, vectors=vectors, payloads=check_payloads(op.objects, len(ids)),
                       deletes=check_ids(op.deletes, "delete", unique=False))

    def _quarantine(self, seq: int, payload: bytes, reason: str) -> None:
        self._quarantined += 1
        span = records.row_span(payload)
        if span is not None:  # never reuse its rows, should it apply on a later open
            self._next_rowid = max(self._next_rowid, span[1])
        try:
            path = self._wal.quarantine(seq, payload, reason)
        except OSError as exc:
            path = f"(not copied: {describe(exc)})"
        log.error("collection %r: WAL record %d quarantined, %s; copy at %s",
                  self.name, seq, reason, path)

    # ---- writes -----------------------------------------------------------------

    def upsert(self, ids: list[str], vectors: Any, payloads: list[dict[str, Any]] | None = None,
               *, delete: list[str] | None = None) -> None:
        """Insert or replace records, and remove the records `delete` names (those not
        also upserted), as one atomic batch; durable (fsync'd) when this returns.

        The batch is checked whole first: on any error nothing of it is applied. It is
        one WAL record and one published snapshot, so a reader sees the collection
        before it or after it, never in between, and a crash keeps all of it or none.
        """
        ids = check_ids(ids)
        gone = [] if delete is None else check_ids(delete, "delete", unique=False)
        matrix = self._check_vectors(vectors, len(ids), "vectors")
        encoded = check_payloads(payloads, len(ids))
        if not ids and not gone:
            self._check_open()
            return
        objects = payloads if payloads is not None else [{}] * len(ids)
        self._submit(_Upsert(ids, self.metric.prepare(matrix), encoded, list(objects), gone))

    def delete(self, ids: list[str] | None = None, where: dict[str, Any] | None = None) -> int:
        """Delete records by id or by filter; returns how many live records went."""
        if (ids is None) == (where is None):
            raise InvalidInput("delete takes exactly one of ids or where")
        if ids is not None:
            ids = check_ids(ids)
        else:
            validate_filter(where)
        return self._submit(_Delete(ids, where))

    def _submit(self, work: _Upsert | _Delete) -> Any:
        """Stage and log `work` under the writer lock, then wait until it is durable
        (group commit: `commit.py`); its result, or its error raised here."""
        self._check_open()
        request = Request(work)
        with self._write_lock:
            pending = self._write(request)
            if pending is not None and not self._grouped:
                self._syncs.drain()  # one fsync per batch, inside the lock
        if pending is not None:
            self._syncs.wait(pending)
        if request.error is not None:
            raise request.error
        return request.result

    def _write(self, request: Request) -> Pending | None:
        """Stage a request and append its WAL record (writer lock held); the pending
        batch, or None when the request is answered already (a no-op, or an error)."""
        if self._closed:
            request.finish(error=self._closed_error())
            return None
        try:
            op, result = self._plan(request.work)
            if op is None:
                request.finish(result)
                return None
            data = records.encode(op)
            if len(data) >= MAX_RECORD:
                raise InvalidInput(f"batch is {len(data)} bytes in the WAL; at most "
                                   f"{MAX_RECORD - 1}: split it")
            if self._wal.needs_rotation:
                self._syncs.drain()  # a file is fsynced whole before the next one starts
            undo = self._stage(op)
        except Exception as exc:
            request.finish(error=exc)
            return None
        size_before = self._wal.size
        try:
            seq = self._wal.write([data])
        except BaseException as exc:
            self._undo(undo)
            if not isinstance(exc, OSError):
                raise
            self._write_error = describe(exc)
            request.finish(error=_write_failed(exc))
            return None
        state = _Staged(undo, self._growing.view(), self._ids.view(), self._next_rowid, result)
        pending = Pending(request, seq, seq, size_before, state)
        self._syncs.add(pending)
        self._maybe_freeze()
        return pending

    def _publish_durable(self, pending: Pending) -> None:
        """Show a batch now durable and answer its writer (called in WAL order)."""
        staged = pending.state
        with self._state_lock:
            self._committed = _Committed(staged.growing, staged.ids, staged.row_limit,
                                         self._committed.dead | staged.undo.dead)
            self._publish()
        self._write_error = None
        pending.request.finish(staged.result)

    def _recover(self, exc: OSError) -> None:
        """An fsync failed (writer lock held): roll back every batch not known durable,
        newest first, cut them off the WAL and fail their writers. Whether the disk kept
        any of them is unknown, so the error says so."""
        victims = self._syncs.take_failed()
        for pending in reversed(victims):
            self._undo(pending.state.undo)
        self._write_error = describe(exc)
        try:
            if victims:
                self._wal.cut_back(victims[0].size_before, victims[0].first_seq)
        except OSError as cut:
            log.error("collection %r: WAL cut back failed: %s", self.name, describe(cut))
        for pending in victims:
            pending.request.finish(error=_write_failed(exc, maybe_kept=True))
        self._syncs.notify()

    def _plan(self, work: _Upsert | _Delete) -> tuple[records.Upsert | records.Delete | None,
                                                       Any]:
        """The WAL record of a request against the writer's current state (None when
        it changes nothing) and the request's result."""
        if isinstance(work, _Upsert):
            upserted = set(work.ids)
            gone = [rid for rid in dict.fromkeys(work.delete)
                    if rid not in upserted and rid in self._ids]
            if not work.ids and not gone:
                return None, None
            return records.Upsert(self._next_rowid, work.ids, work.vectors, work.payloads,
                                  work.objects, gone), None
        ids = work.ids if work.where is None else self._select(self._working(), work.where)
        live = [rid for rid in ids if rid in self._ids]
        return (records.Delete(live) if live else None), len(live)

    def _stage(self, op: records.Upsert | records.Delete) -> _Undo:
        """Apply one logged operation to the writer's state, unseen by readers until
        the next commit (live writes and WAL replay alike). All or nothing: on any
        error what it changed is undone and the error raised."""
        undo = _Undo(self._growing.length, self._next_rowid)
        try:
            self._remove(op.deletes if isinstance(op, records.Upsert) else op.ids, undo)
            if isinstance(op, records.Upsert):
                n = len(op.ids)
                rowids = np.arange(op.first_rowid, op.first_rowid + n, dtype=np.uint32)
                for rid, row in zip(op.ids, rowids.tolist(), strict=True):
                    old = self._ids.set(rid, row)
                    undo.ids.append((rid, old))
                    if old is not None:
                        undo.dead.add(old)
                undo.rows.add_range(op.first_rowid, op.first_rowid + n)
                self._index.add(op.first_rowid, op.objects)
                self._growing.append(rowids, op.vectors, op.ids, op.payloads, op.objects)
                self._next_rowid = max(self._next_rowid, op.first_rowid + n)
            with self._state_lock:
                self._dead |= undo.dead
        except BaseException:
            self._undo(undo)
            raise
        return undo

    def _remove(self, ids: list[str], undo: _Undo) -> None:
        for rid in ids:
            old = self._ids.set(rid, None)
            if old is not None:
                undo.ids.append((rid, old))
                undo.dead.add(old)

    def _undo(self, undo: _Undo) -> None:
        for rid, old in reversed(undo.ids):
            self._ids.set(rid, old)
        if undo.rows:
            self._index.drop_rows(undo.rows)
        self._growing.truncate(undo.length)
        self._next_rowid = undo.next_rowid
        with self._state_lock:
            self._dead -= undo.dead

    def _commit(self) -> None:
        """Make the writer's state visible: record it as committed and publish (state
        lock held, or at open). Only committed state is ever published, so a seal or a
        compaction publishing meanwhile never shows a staged batch."""
        self._committed = _Committed(self._growing.view(), self._ids.view(), self._next_rowid,
                                     BitMap(self._dead))
        self._publish()

    def _publish(self) -> None:
        c = self._committed
        self._snapshot = Snapshot(self._sealed, tuple(v for v, _ in self._frozen), c.growing,
                                  c.dead, c.ids, c.row_limit, self._analyzer)

    def _working(self) -> Snapshot:
        """A snapshot of the writer's state including staged batches (writer lock held):
        what a delete by filter selects from."""
        with self._state_lock:
            return Snapshot(self._sealed, tuple(v for v, _ in self._frozen),
                            self._growing.view(), BitMap(self._dead), self._ids.view(),
                            self._next_rowid)

    # ---- sealing and compaction (the maintenance thread) -------------------------

    def _new_growing(self) -> GrowingSegment:
        """An empty growing segment with room for a whole segment's rows (np.empty:
        memory is taken as rows are written), so appends never copy it under the
        writer lock."""
        return GrowingSegment(self.config.dim, self.metric, self._analyzer,
                              capacity=min(self.config.seal_rows, MAX_PREALLOCATED))

    def _maybe_freeze(self, force: bool = False) -> None:
        """Freeze the growing segment for sealing once it is full (writer lock held)."""
        if self._growing.length == 0 or (not force and
                                         self._growing.length < self.config.seal_rows):
            return
        self._syncs.drain()  # every staged batch durable and shown: freeze what readers see
        if self._growing.length == 0:  # a failed fsync rolled everything back
            return
        with self._state_lock:
            self._frozen.append((self._growing.view(), self._wal.next_seq - 1))
            self._growing = self._new_growing()
            self._commit()
        try:
            self._wal.rotate()
        except OSError as exc:  # the next append starts the new file instead
            log.warning("collection %r: WAL rotation failed: %s", self.name, describe(exc))
        self._maintenance.kick()

    def _maintain(self) -> None:
        """One maintenance pass: seal every frozen segment, then merge small ones."""
        while self._frozen and not self._dropped:
            self._seal_oldest()
        if not self._dropped:
            self._compact(force=False)

    def _segment_dir(self, number: int) -> Path:
        """A fresh directory name for segment `number` (leftovers of a failed attempt,
        never in the manifest, are removed)."""
        path = self.directory / "segments" / f"{number:012d}"
        shutil.rmtree(path, ignore_errors=True)
        return path

    def _seal_oldest(self) -> None:
        with self._maintenance_lock:
            view, end_seq = self._frozen[0]
            number = self._manifest.next_segment
            seg = write_segment(self._segment_dir(number), view.rowids, view.vectors,
                                view.ids[:len(view)], view.payload_bytes(), self.metric,
                                self.config.index,
                                None if view.text is None else view.text.sealed())
            self._install([seg], [], BitMap(), sealed_frozen=True, next_segment=number + 1,
                          checkpoint_seq=end_seq, next_rowid=int(view.rowids[-1]) + 1)
            self._wal.retire(end_seq)

    def _install(self, news: list[SealedSegment], olds: list[SealedSegment], dropped: BitMap,
                 sealed_frozen: bool = False, **changes: Any) -> None:
        """Swap sealed segments: the manifest first (so a failure leaves memory and disk
        as they were, and the new files are removed), then memory (maintenance lock held).
        `sealed_frozen`: the new segment is the oldest frozen one, which leaves the list."""
        sealed = [seg for seg in self._sealed if seg not in olds] + news
        sealed.sort(key=lambda s: int(s.rowids[0]))
        try:
            self._write_manifest(segments=tuple(seg.name for seg in sealed), dropped=dropped,
                                 **changes)
        except BaseException:
            for seg in news:
                shutil.rmtree(seg.directory, ignore_errors=True)
            raise
        with self._state_lock:
            self._sealed = tuple(sealed)
            if sealed_frozen:
                self._frozen.pop(0)
            if dropped:
                self._dead -= dropped
                self._committed = replace(self._committed, dead=self._committed.dead - dropped)
            self._publish()
        self._apportion_memory()

    def _buffer_bytes(self) -> int:
        """RAM the write buffer may take before it is sealed (seal_rows float32 rows)."""
        return self.config.seal_rows * self.dim * 4

    def _apportion_memory(self) -> None:
        """Give the diskann segments' node caches what the memory budget leaves after
        every other resident byte (no-op without a budget)."""
        if self.memory_budget is None:
            return
        sealed = [segment_memory(seg) for seg in self._sealed]
        fixed = self._buffer_bytes() + sum(s.resident_bytes - s.cache_bytes for s in sealed)
        cached = [seg for seg in self._sealed if hasattr(seg.index, "resize_cache")]
        shares = cache_shares(self.memory_budget, fixed, [len(seg) for seg in cached])
        for seg, share in zip(cached, shares, strict=True):
            seg.index.resize_cache(share)

    def _write_manifest(self, dropped: BitMap | None = None, **changes: Any) -> None:
        """Persist the manifest with the committed tombstones (less `dropped`) and
        `changes` (maintenance lock held).

        Tombstones may run ahead of the checkpoint: replaying the WAL after it re-applies
        the same deletes, so they are idempotent. Staged, not yet durable deletes are
        never written.
        """
        with self._state_lock:
            dead = self._committed.dead - (dropped or BitMap())
            changes.setdefault("segments", tuple(seg.name for seg in self._sealed))
        manifest = replace(self._manifest, tombstones=dead, **changes)
        write_manifest(self.directory, manifest)
        self._manifest = manifest

    def flush(self) -> None:
        """Seal the growing segment now and wait until every pending seal is on disk.

        Raises MaintenanceFailed if a seal fails meanwhile (the data stays in the WAL and
        the worker retries) instead of waiting for ever."""
        with self._write_lock:
            self._check_open()
            self._maybe_freeze(force=True)
        self._maintenance.wait(lambda: not self._frozen)

    def build_text_index(self, text: Any = True) -> None:
        """(Re)build the text index from the stored payloads with `text` (True for the
        defaults, a TextConfig or an object of its keys): for a collection created before
        text indexes existed, or to change its fields or analyzer.

        Writes wait until it is done; searches go on against the old snapshot. Each
        sealed segment is copied (hard links) with new postings, then the manifest
        swaps config and segments at once, so a crash leaves the old index or the new.
        """
        config = parse_text_config(text)
        if config is None:
            raise InvalidConfig("build_text_index needs a text configuration, e.g. True")
        analyzer = Analyzer(config)
        with self._write_lock:
            self._check_open()
            self._maybe_freeze(force=True)
            self._syncs.drain()
            self._maintenance.wait(lambda: not self._frozen)
            with self._maintenance_lock:
                olds, news = self._sealed, []
                number = self._manifest.next_segment
                for seg in olds:
                    postings = GrowingPostings(analyzer)
                    postings.append(seg.payloads())
                    news.append(with_text(seg, self._segment_dir(number),
                                          postings.view().sealed()))
                    number += 1
                config = replace(self.config, text=config)
                try:
                    self._write_manifest(segments=tuple(seg.name for seg in news),
                                         config=config, next_segment=number)
                except BaseException:
                    for seg in news:
                        shutil.rmtree(seg.directory, ignore_errors=True)
                    raise
                with self._state_lock:  # one snapshot: segments, analyzer, growing rows
                    self.config, self._analyzer, self._sealed = config, analyzer, tuple(news)
                    self._growing = self._new_growing()
                    self._commit()
                for seg in olds:
                    shutil.rmtree(seg.directory, ignore_errors=True)

    def compact(self) -> None:
        """Rewrite sealed segments without their dead rows and merge small ones."""
        self.flush()
        self._compact(force=True)

    def checkpoint(self, target: Path) -> None:
        """Write a copy of this collection as of one moment to the new directory `target`,
        openable like the original (a backup, or a replica catching up from a peer).

        Writes and maintenance wait meanwhile: the sealed segments, immutable, are
        hard-linked (copied across file systems), the manifest and the WAL are copied.
        Records staged by a write whose fsync is still running are copied too: the copy
        may hold a batch not yet acknowledged, never lack one that was.
        """
        with self._write_lock, self._maintenance_lock:
            self._check_open()
            target.mkdir(parents=True)
            shutil.copytree(self.directory / "segments", target / "segments",
                            copy_function=_link_or_copy)
            shutil.copytree(self.directory / "wal", target / "wal")
            shutil.copy2(self.directory / MANIFEST, target / MANIFEST)
        fsync_tree(target)

    def _compact(self, force: bool) -> None:
        with self._maintenance_lock:
            snap = self._snapshot
            stats = [SegmentStats(len(seg), local_positions(seg.rowids, snap.dead_rows()).size)
                     for seg in snap.sealed]
            plan = plan_compaction(stats, self.config.index.merge_target(self.config.merge_rows),
                                   force=force)
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
        number = self._manifest.next_segment
        news = []
        if sum(live.size for live in keep):
            news.append(write_segment(
                self._segment_dir(number),
                np.concatenate([seg.rowids[live] for seg, live in zip(olds, keep, strict=True)]),
                [(seg.vectors, live) for seg, live in zip(olds, keep, strict=True)],
                [seg.record_id(i) for seg, live in zip(olds, keep, strict=True) for i in live],
                [seg.payload_bytes(i) for seg, live in zip(olds, keep, strict=True)
                 for i in live],
                self.metric, self.config.index,
                None if self._analyzer is None else
                merge_postings([(seg.text, live) for seg, live in zip(olds, keep, strict=True)])))
        self._install(news, olds, dropped, next_segment=number + len(news))
        self._index.drop_rows(dropped)
        for seg in olds:
            shutil.rmtree(seg.directory, ignore_errors=True)

    # ---- reads ------------------------------------------------------------------

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

    def _snap(self) -> Snapshot:
        """The current snapshot, for one read to answer from (a superseded collection's
        last one: reads that hold it finish; `Database` hands out the new generation)."""
        if not self._superseded:
            self._check_open()
        return self._snapshot

    def _check_vectors(self, vectors: Any, n: int | None, what: str) -> np.ndarray:
        return check_vectors(vectors, n, self.dim, self.metric, what)

    def _allowed(self, snap: Snapshot, where: dict[str, Any] | None) -> BitMap | None:
        if where is None:
            return None
        return snap.visible(compile_filter(where, self._index))

    def _select(self, snap: Snapshot, where: dict[str, Any]) -> list[str]:
        """Ids of the records of `snap` matching `where`, in insertion order."""
        found = snap.locate(rows_array(self._allowed(snap, where)))
        return [seg.record_id(local) for seg, local in filter(None, found)]

    def search(self, vector: Any = None, k: int = 10, where: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None, *, text: str | list[str] | None = None,
               mode: str | None = None, fusion: dict[str, Any] | None = None,
               text_stats: list[TextStats] | None = None) -> list[Hit] | list[list[Hit]]:
        """Top-k records, best first, among records matching `where`: by a query `vector`,
        by a `text` query (BM25F over the text index), or both fused (`search.py`).

        One vector and/or one string -> a list of hits; a matrix (nq, dim) and/or a list
        of nq strings -> one list per query. `mode` is "vector", "text" or "hybrid";
        None chooses hybrid when a vector and a searchable text are given and the
        collection has a text index, else the one given. `params` are the vector index's
        knobs; `fusion` the hybrid knobs (`fusion.Fusion`: method, weights, rrf_k, depth,
        coverage). `text_stats` (one per text query) are BM25 statistics to score with
        instead of this collection's: a distributed collection's shards score with the
        sums of theirs (`text_stats`), so their scores compare.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 < k <= MAX_K:
            raise InvalidInput(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if params is not None and not isinstance(params, dict):
            raise InvalidInput("params must be an object")
        queries = None if vector is None else \
            self.metric.prepare(self._check_vectors(vector, None, "query"))
        snap = self._snap()
        plan = plan_search(queries, np.ndim(vector) == 1, text, mode, fusion, snap.analyzer)
        masks = snap.masks(self._allowed(snap, where))
        return run_search(snap, plan, int(k), masks, params or {}, self.metric, text_stats)

    def text_stats(self, text: str | list[str]) -> list[TextStats]:
        """The BM25 statistics of each text query over this collection (live rows, their
        weighted length, each query term's document frequency), checked as `search`
        checks a text query. Those of disjoint collections add up (`TextStats.total`)."""
        snap = self._snap()
        plan = plan_search(None, False, text, "text", None, snap.analyzer)
        return [statistics(snap, query) for query in plan.texts]

    def get(self, ids: list[str] | None = None, where: dict[str, Any] | None = None,
            limit: int | None = 100, offset: int = 0, include_vectors: bool = True
            ) -> list[Record | None] | list[Record]:
        """Records by id (None where absent, in the order asked) or by filter (ordered
        by insertion, paged with limit/offset)."""
        snap = self._snap()
        if ids is not None:
            ids = check_ids(ids)
            rows = [snap.ids.get(rid) for rid in ids]
            known = np.array([r for r in rows if r is not None], dtype=np.uint32)
            located = iter(snap.locate(known))
            return [None if r is None else self._record(next(located), include_vectors)
                    for r in rows]
        allowed = self._allowed(snap, where if where is not None else {})
        wanted = rows_array(allowed)[offset:None if limit is None else offset + limit]
        return [self._record(found, include_vectors) for found in snap.locate(wanted) if found]

    def _record(self, found: tuple[Any, int] | None, include_vectors: bool) -> Record | None:
        if found is None:
            return None
        seg, local = found
        rid, payload = seg.record(local)
        return Record(rid, seg.vector(local) if include_vectors else None, payload)

    def count(self, where: dict[str, Any] | None = None) -> int:
        """Live records, or live records matching `where`."""
        snap = self._snap()
        if where is None:
            return snap.count
        return len(self._allowed(snap, where))

    def facet(self, field: str) -> dict[Any, int]:
        """Distinct values of a payload field with the number of live records holding
        each, most frequent first."""
        snap = self._snap()
        counts = {key_value(key): len(snap.visible(rows)) for key, rows in
                  self._index.facet(field).items()}
        return dict(sorted(((v, c) for v, c in counts.items() if c),
                           key=lambda item: (-item[1], str(item[0]))))

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
