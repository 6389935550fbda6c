"""A collection's write path: checked batches staged under the writer lock, logged to
the WAL, published once an fdatasync covers them (group commit, `commit.py`); a failed
write or fsync rolls back every batch not yet durable. WAL replay at open goes through
the same staging, quarantining records that cannot apply.

`Writes` is one part of `Collection` (`collection.py` holds its state and locks)."""

import errno
import logging
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
from .idmap import IdView
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
    """A batch logged but not yet durable: how to undo it, and its writer's answer."""

    undo: _Undo
    result: Any


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
        matrix = prepare_vectors(vectors, len(ids), self.dim, self.metric, "vectors")
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
                if self._write(request) is not None:
                    self._syncs.drain()  # one fsync per batch, inside the lock
        self._syncs.wait(request)
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
            parts = records.encode(op)
            size = sum(map(len, parts))
            if size >= MAX_RECORD:
                raise InvalidInput(f"batch is {size} bytes in the WAL; at most "
                                   f"{MAX_RECORD - 1}: split it")
            if self._wal.needs_rotation:
                self._syncs.drain()  # a file is fsynced whole before the next one starts
            undo = self._stage(op)
        except Exception as exc:
            request.finish(error=exc)
            return None
        size_before = self._wal.size
        try:
            seq = self._wal.write([parts])
        except BaseException as exc:
            self._undo(undo)
            if not isinstance(exc, OSError):
                raise
            self._write_error = describe(exc)
            request.finish(error=_write_failed(exc))
            return None
        pending = Pending(request, seq, seq, size_before, _Staged(undo, result),
                          self._captured())
        self._syncs.add(pending)
        self._maybe_freeze()
        return pending

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
            pending.request.finish(pending.state.result)

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
                rows = range(op.first_rowid, op.first_rowid + n)
                self._changed(op.ids, self._ids.set_many(op.ids, rows), undo)
                undo.rows.add_range(op.first_rowid, op.first_rowid + n)
                rowids = np.arange(op.first_rowid, op.first_rowid + n, dtype=np.uint32)
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
        if ids:
            self._changed(ids, self._ids.set_many(ids, [None] * len(ids)), undo)

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

