"""A collection's write path: checked batches staged under the writer lock, logged to
the WAL, published once an fdatasync covers them (group commit, `commit.py`); a failed
write or fsync rolls back every batch not yet durable. WAL replay at open goes through
the same staging, quarantining records that cannot apply.

`Writes` is one part of `Collection` (`collection.py` holds its state and locks)."""

import errno
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from pyroaring import BitMap

from . import records
from .commit import Pending, Request
from .errors import (
    InvalidInput,
    StorageFull,
    WriteFailed,
)
from .idmap import IdMap, IdView
from .maintenance import describe
from .segment import GrowingSegment, GrowingView
from .snapshot import Snapshot
from .validate import (
    check_delete,
    check_ids,
    check_payloads,
    check_vectors,
    prepare_vectors,
)
from .wal import MAX_RECORD

log = logging.getLogger("vectorstore.collection")


class _Upsert(NamedTuple):
    """A checked upsert waiting for group commit (vectors prepared by the metric). The
    per-write records here are named tuples: a frozen dataclass costs ~4x more to
    build, a few microseconds per write in all."""

    ids: list[str]
    vectors: np.ndarray
    payloads: list[bytes]
    objects: list[dict[str, Any]]
    delete: list[str]


class _Delete(NamedTuple):
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


class _Staged(NamedTuple):
    """Batches logged together but not yet durable: how to undo them, and each
    writer's answer (in the order of `Pending.requests`)."""

    undo: _Undo
    results: list[Any]


class _Group:
    """Requests planned to be applied in one step and logged in one write: each one's
    WAL record, and rows numbered on from `next_rowid`. `live` answers whether an id is
    live after the group's batches so far (so a later batch's deletes see them); the
    ids they changed are gathered only once a batch with deletes asks."""

    __slots__ = ("requests", "ops", "parts", "results", "next_rowid", "_changed")

    def __init__(self, next_rowid: int) -> None:
        self.requests: list[Request] = []
        self.ops: list[records.Upsert | records.Delete] = []
        self.parts: list[records.Parts] = []
        self.results: list[Any] = []
        self.next_rowid = next_rowid
        self._changed: dict[str, bool] | None = None

    def add(self, request: Request, op: records.Upsert | records.Delete,
            parts: records.Parts, result: Any) -> None:
        self.requests.append(request)
        self.ops.append(op)
        self.parts.append(parts)
        self.results.append(result)
        if isinstance(op, records.Upsert):
            self.next_rowid = op.first_rowid + len(op.ids)
        if self._changed is not None:
            _note(self._changed, op)

    def live(self, rid: str, ids: IdMap) -> bool:
        if self._changed is None:
            self._changed = {}
            for op in self.ops:
                _note(self._changed, op)
        state = self._changed.get(rid)
        return rid in ids if state is None else state


def _note(changed: dict[str, bool], op: records.Upsert | records.Delete) -> None:
    """Record in `changed` which ids `op` makes live (True) or removes (False)."""
    if isinstance(op, records.Upsert):
        changed.update(dict.fromkeys(op.deletes, False))
        changed.update(dict.fromkeys(op.ids, True))
    else:
        changed.update(dict.fromkeys(op.ids, False))


class _Written(NamedTuple):
    """The writer's state just after a batch (`_captured` as it is registered for
    group commit): what publishing it, with the batches before it, shows. The growing
    segment's view is built only when published (once per fsync, not per batch)."""

    growing: GrowingSegment
    length: int
    ids: IdView
    row_limit: int


@dataclass(frozen=True)
class _Committed:
    """The writer's state as of its last commit: all that snapshots may show of it."""

    growing: GrowingView
    ids: IdView
    row_limit: int
    dead: BitMap


_SCRATCH_BYTES = 1 << 20
_scratches = threading.local()


def _scratch(rows: int, dim: int) -> np.ndarray | None:
    """This thread's scratch matrix for a write's prepared (normalised) vectors, or None
    for a write above _SCRATCH_BYTES.

    Prepared vectors live only until their write is staged (copied into the growing
    segment) and logged, all before its writer is answered, and a thread has one write
    in flight at a time, so a thread can reuse one matrix. A new ~15 KB array per
    10-row batch cost ~10 us more than the division itself under concurrent writers:
    it mostly landed on memory the allocator had just taken from the kernel, whose
    first touch faults pages in."""
    size = rows * dim
    if size * 4 > _SCRATCH_BYTES:
        return None
    buffer = getattr(_scratches, "buffer", None)
    if buffer is None or buffer.shape[0] < size:
        buffer = _scratches.buffer = np.empty(max(size, 4096), dtype=np.float32)
    return buffer[:size].reshape(rows, dim)


def _write_failed(exc: OSError, maybe_kept: bool = False) -> WriteFailed:
    kind = StorageFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else WriteFailed
    if maybe_kept:
        error = kind(f"write not acknowledged, the WAL fsync failed ({describe(exc)}): it "
                     "is not visible now, and the disk may or may not have kept it")
    else:
        error = kind(f"write not applied, nothing of it is stored: {describe(exc)}")
    error.__cause__ = exc
    return error


class Writes:
    """Upsert, delete, group commit, rollback and WAL replay."""

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
                self._stage([op])
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
        return op._replace(ids=ids, vectors=vectors,
                           payloads=check_payloads(op.objects, len(ids)),
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
        matrix = prepare_vectors(vectors, len(ids), self.dim, self.metric, "vectors",
                                 _scratch(len(ids), self.dim))
        encoded = check_payloads(payloads, len(ids))
        if not ids and not gone:
            self._check_open()
            return
        objects = payloads if payloads is not None else [{}] * len(ids)
        self._submit(_Upsert(ids, matrix, encoded, list(objects), gone))

    def delete(self, ids: list[str] | None = None, where: dict[str, Any] | None = None) -> int:
        """Delete records by id or by filter; returns how many live records went."""
        return self._submit(_Delete(check_delete(ids, where), where))

    def _submit(self, work: _Upsert | _Delete) -> Any:
        """Stage and log `work` under the writer lock, then wait until it is durable
        (group commit: `commit.py`; the writer holding the lock writes the requests
        queued for it); its result, or its error raised here."""
        self._check_open()
        request = Request(work)
        if self._grouped:
            self._queued.submit(request)
        else:
            with self._write_lock:
                if not self._write([request]):
                    self._syncs.drain()  # one fsync per batch, inside the lock
        self._syncs.wait(request)
        if request.error is not None:
            raise request.error
        return request.result

    def _write(self, requests: list[Request]) -> list[Request]:
        """Stage requests and append their WAL records (writer lock held), in order, as
        few groups as can be: each group is applied in one step and logged in one
        write, its batches still one record each. A request that fails its checks
        against the current state, or changes nothing, is answered alone; a delete by
        filter starts a new group (it selects from the state the batches before it
        staged). Returns the requests answered at once."""
        answered: list[Request] = []
        if self._closed:
            for request in requests:
                request.finish(error=self._closed_error())
            return requests
        group = self._new_group()
        for request in requests:
            work = request.work
            if isinstance(work, _Delete) and work.where is not None and group.ops:
                answered += self._apply(group)
                group = self._new_group()
            try:
                op, result = self._plan(work, group)
                if op is None:
                    request.finish(result)
                    answered.append(request)
                    continue
                parts = records.encode(op)
                size = sum(map(len, parts))
                if size >= MAX_RECORD:
                    raise InvalidInput(f"batch is {size} bytes in the WAL; at most "
                                       f"{MAX_RECORD - 1}: split it")
            except Exception as exc:
                request.finish(error=exc)
                answered.append(request)
                continue
            group.add(request, op, parts, result)
        if group.ops:
            answered += self._apply(group)
        return answered

    def _new_group(self) -> _Group:
        if self._wal.needs_rotation:
            self._syncs.drain()  # a file is fsynced whole before the next one starts
        return _Group(self._next_rowid)

    def _apply(self, group: _Group) -> list[Request]:
        """Stage a planned group as one step and append its records in one write;
        register it for group commit. Returns the requests answered at once: all of
        them if the log write fails. If staging the group fails (its batches passed
        every check, so it should not), it is undone and its requests are written one
        by one, so one that cannot apply fails alone."""
        try:
            undo = self._stage(group.ops)
        except Exception as exc:
            if len(group.requests) == 1:
                group.requests[0].finish(error=exc)
                return group.requests
            return [answered for request in group.requests for answered in
                    self._write([request])]
        size_before = self._wal.size
        try:
            first = self._wal.write(group.parts)
        except BaseException as exc:
            self._undo(undo)
            if isinstance(exc, OSError):
                self._write_error = describe(exc)
            for request in group.requests:
                request.finish(error=_write_failed(exc) if isinstance(exc, OSError) else exc)
            return group.requests
        self._syncs.add(Pending(group.requests, first, first + len(group.ops) - 1,
                                size_before, _Staged(undo, group.results), self._captured()))
        self._maybe_freeze()
        return []

    def _captured(self) -> _Written:
        """The writer's state now (writer lock held), to publish once the batches
        written so far are durable."""
        return _Written(self._growing, self._growing.length, self._ids.view(),
                        self._next_rowid)

    def _publish_durable(self, batches: list[Pending], state: _Written) -> None:
        """Show batches now durable, as of `state`, and answer their writers (called in
        WAL order, once per fsync)."""
        with self._state_lock:
            dead = self._committed.dead
            for pending in batches:
                if pending.state.undo.dead:
                    dead = dead | pending.state.undo.dead
            self._committed = _Committed(state.growing.view(state.length), state.ids,
                                         state.row_limit, dead)
            self._publish()
        self._write_error = None
        for pending in batches:
            for request, result in zip(pending.requests, pending.state.results, strict=True):
                request.finish(result)

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
            for request in pending.requests:
                request.finish(error=_write_failed(exc, maybe_kept=True))
        self._syncs.notify()

    def _plan(self, work: _Upsert | _Delete, group: _Group
              ) -> tuple[records.Upsert | records.Delete | None, Any]:
        """The WAL record of a request against the writer's current state and the
        batches planned before it in `group` (None when it changes nothing), and the
        request's result."""
        if isinstance(work, _Upsert):
            gone: list[str] = []
            if work.delete:
                upserted = set(work.ids)
                gone = [rid for rid in dict.fromkeys(work.delete)
                        if rid not in upserted and group.live(rid, self._ids)]
            if not work.ids and not gone:
                return None, None
            return records.Upsert(group.next_rowid, work.ids, work.vectors, work.payloads,
                                  work.objects, gone), None
        ids = work.ids if work.where is None else self._select(self._working(), work.where)
        gone = [rid for rid in ids if group.live(rid, self._ids)]
        return (records.Delete(gone) if gone else None), len(gone)

    def _stage(self, ops: list[records.Upsert | records.Delete]) -> _Undo:
        """Apply logged operations, in order, to the writer's state, unseen by readers
        until the next commit (a live group, or one record in WAL replay), as one step:
        the id map changes in one call, the new rows (numbered consecutively from the
        first upsert's, as `_Group` plans them) are appended, indexed and analysed in
        one call each. All or nothing: on any error what it changed is undone and the
        error raised."""
        undo = _Undo(self._growing.length, self._next_rowid)
        try:
            rids: list[str] = []
            rows: list[int | None] = []
            upserts = []
            for op in ops:
                if isinstance(op, records.Upsert):
                    if op.deletes:
                        rids += op.deletes
                        rows += [None] * len(op.deletes)
                    rids += op.ids
                    rows += range(op.first_rowid, op.first_rowid + len(op.ids))
                    if op.ids:
                        upserts.append(op)
                else:
                    rids += op.ids
                    rows += [None] * len(op.ids)
            self._changed(rids, self._ids.set_many(rids, rows), undo)
            if upserts:
                first = upserts[0].first_rowid
                end = first + sum(len(op.ids) for op in upserts)
                undo.rows.add_range(first, end)
                objects = [obj for op in upserts for obj in op.objects]
                self._index.add(first, objects)
                self._growing.append(np.arange(first, end, dtype=np.uint32),
                                     [op.vectors for op in upserts],
                                     [rid for op in upserts for rid in op.ids],
                                     [data for op in upserts for data in op.payloads],
                                     objects)
                self._next_rowid = max(self._next_rowid, end)
            if undo.dead:
                with self._state_lock:
                    self._dead |= undo.dead
        except BaseException:
            self._undo(undo)
            raise
        return undo

    @staticmethod
    def _changed(ids: list[str], olds: list[int | None], undo: _Undo) -> None:
        """Note in `undo` the rows `ids` had before a change (`IdMap.set_many`)."""
        undo.ids.extend(zip(ids, olds, strict=True))
        dead = [old for old in olds if old is not None]
        if dead:
            undo.dead.update(dead)

    def _undo(self, undo: _Undo) -> None:
        changes = undo.ids[::-1]
        self._ids.set_many([rid for rid, _ in changes], [old for _, old in changes])
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

