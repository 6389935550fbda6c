"""Group commit: concurrent writers' batches share one fsync, and none is answered
before it is durable.

A writer stages its batch and appends it to the WAL under the collection's writer lock
(a fraction of a millisecond), then leaves the lock and waits here. One fdatasync runs
at a time, outside the lock, and makes durable every record written before it started;
while it runs, other writers stage and append theirs, and the next fsync covers them
all. When an fsync returns, every batch it covered is published in WAL order and
answered. The disk's flush latency is paid once per group, and never inside the lock.

If an fsync fails, nothing not yet durable may be answered: `recover` (under the writer
lock) rolls every such batch back, cuts the WAL back and fails their writers. Since
fsyncs never overlap, a failure cannot be masked by another fsync's success.
"""

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

MAX_DELAY = 0.002
"""Longest wait for more writers to join a group before its fsync (seconds)."""


class Request:
    """One writer's request: `work` for the committer; `result` or `error` once done."""

    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work: Any) -> None:
        self.work = work
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True


class Pending:
    """A batch written to the WAL but not yet known durable: its last sequence number,
    where the log ended before it, and what publishing or undoing it needs."""

    __slots__ = ("request", "seq", "first_seq", "size_before", "state", "writer")

    def __init__(self, request: Request, first_seq: int, seq: int, size_before: int,
                 state: Any) -> None:
        self.writer = threading.get_ident()
        self.request = request
        self.first_seq = first_seq
        self.seq = seq
        self.size_before = size_before
        self.state = state


class SyncQueue:
    """The batches written but not yet durable, in WAL order, and the fsyncs that make
    them so.

    `sync()` fdatasyncs the WAL; `publish(pending)` makes a durable batch visible and
    answers it (called in WAL order); `recover(exc)` handles a failed fsync: with the
    writer `lock` held it calls `take_failed()`, rolls those batches back and answers
    them with the error.
    """

    def __init__(self, lock: threading.Lock, sync: Callable[[], None],
                 publish: Callable[[Pending], None],
                 recover: Callable[[OSError], None]) -> None:
        self._lock = lock
        self._sync = sync
        self._publish = publish
        self._recover = recover
        self._cond = threading.Condition()
        self._pending: deque[Pending] = deque()
        self._written = 0
        self._durable = 0
        self._syncing = False
        self._failure: OSError | None = None
        self._covered: list[set[int]] = [set(), set()]
        self._sync_seconds = 0.0

    def add(self, pending: Pending) -> None:
        """Register a batch just written to the WAL (writer lock held)."""
        with self._cond:
            self._pending.append(pending)
            self._written = pending.seq
            self._cond.notify_all()

    def wait(self, pending: Pending) -> None:
        """Return once `pending` is durable and published, or failed (writer lock not
        held): by waiting while an fsync runs, then running the next one if it is not
        covered yet."""
        while True:
            with self._cond:
                while not pending.request.done and (self._failure is not None or
                                                    self._syncing):
                    self._cond.wait()
                if pending.request.done:
                    return
                if not self._gathered(pending):
                    continue
                self._syncing = True
                target = self._written
            self._sync_to(target, locked=False)

    def _gathered(self, pending: Pending) -> bool:
        """Before an fsync (condition held): wait a little for the writers of the last
        two groups to join this one (at most half an fsync, at most MAX_DELAY); False if
        the state changed meanwhile (another fsync started, a failure, or `pending`
        answered). The last matters: a writer answered by a `drain` while it gathered
        must not fsync after it, because the drainer may have rotated or closed the WAL
        since (an fsync on the closed file failed live writers with EBADF, #12)."""
        expected = len(self._covered[0] | self._covered[1])
        deadline = time.monotonic() + min(MAX_DELAY, self._sync_seconds / 2)
        while len({p.writer for p in self._pending}) < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
            if self._syncing or self._failure is not None or pending.request.done:
                return False
        return True

    def drain(self) -> None:
        """Make every written batch durable and published, or failed (writer lock held,
        so no batch is added meanwhile and a failure is recovered right here)."""
        while True:
            with self._cond:
                failure = self._failure
                if failure is None:
                    if self._syncing:
                        self._cond.wait()
                        continue
                    if not self._pending:
                        return
                    self._syncing = True
                    target = self._written
            if failure is not None:
                self._recover(failure)
            else:
                self._sync_to(target, locked=True)

    def _sync_to(self, target: int, locked: bool) -> None:
        """Run the fsync this thread claimed, covering records up to `target`."""
        began = time.monotonic()
        try:
            self._sync()
        except OSError as exc:
            with self._cond:
                self._syncing = False
                self._failure = self._failure or exc
                self._cond.notify_all()
            if locked:
                self._recover(exc)
            else:
                with self._lock:
                    self._recover(exc)
            return
        with self._cond:
            self._syncing = False
            self._sync_seconds = time.monotonic() - began
            if self._failure is None:
                self._durable = max(self._durable, target)
                writers = set()
                while self._pending and self._pending[0].seq <= self._durable:
                    writers.add(self._pending[0].writer)
                    self._publish(self._pending.popleft())
                self._covered = [self._covered[1], writers]
            self._cond.notify_all()

    def take_failed(self) -> list[Pending]:
        """In `recover` (writer lock held): every batch not known durable, oldest first,
        once no fsync is in flight. Clears the failure; an empty list when another
        thread has recovered already."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            victims, self._pending = list(self._pending), deque()
            if victims:
                self._written = self._durable = victims[0].first_seq - 1
            self._failure = None
            return victims

    def notify(self) -> None:
        """Wake waiters (after `recover` answered the failed batches)."""
        with self._cond:
            self._cond.notify_all()
