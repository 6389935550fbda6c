"""Group commit: concurrent writers' batches share one fsync, and none is answered
before it is durable.

A writer stages its batch and appends it to the WAL under the collection's writer lock
(a fraction of a millisecond), then leaves the lock and waits here. One fdatasync runs
at a time, outside the lock, and makes durable every record written before it started;
while it runs, other writers stage and append theirs, and the next fsync covers them
all. When an fsync returns, the batches it covered are published together, as one
snapshot (the writer's state captured, under the writer lock, when the fsync began),
and answered. The disk's flush latency and the cost of publishing are paid once per
group, and neither inside the lock.

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

    `sync()` fdatasyncs the WAL; `capture()` returns the writer's state (called with the
    writer `lock` held, as an fsync is claimed: it includes exactly the batches that
    fsync covers); `publish(batches, state)` makes those batches visible as of `state`
    and answers them; `recover(exc)` handles a failed fsync: with the writer lock held
    it calls `take_failed()`, rolls those batches back and answers them with the error.

    Two conditions share one mutex: `_cond` announces fsyncs ending, failures and
    recoveries (what waiting writers wait for), `_joined` a batch added (what only a
    writer gathering a group waits for), so a write wakes no writer that is merely
    waiting for its fsync.
    """

    def __init__(self, lock: threading.Lock, sync: Callable[[], None],
                 capture: Callable[[], Any], publish: Callable[[list[Pending], Any], None],
                 recover: Callable[[OSError], None]) -> None:
        self._lock = lock
        self._sync = sync
        self._capture = capture
        self._publish = publish
        self._recover = recover
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._joined = threading.Condition(self._mutex)
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
            self._joined.notify_all()

    def wait(self, pending: Pending) -> None:
        """Return once `pending` is durable and published, or failed (writer lock not
        held): by waiting while an fsync runs, then running the next one if it is not
        covered yet (claimed under the writer lock, which is left before the fsync)."""
        while True:
            with self._cond:
                while not pending.request.done and (self._failure is not None or
                                                    self._syncing):
                    self._cond.wait()
                if pending.request.done:
                    return
                if not self._gathered(pending):
                    continue
            with self._lock:
                claimed = self._claim(pending)
            if claimed is not None:
                self._sync_to(*claimed, locked=False)

    def _claim(self, pending: Pending | None) -> tuple[int, Any] | None:
        """Claim the next fsync (writer lock held): the last sequence number it covers
        and the writer's state to publish once it is durable; None when there is nothing
        to claim (an fsync in flight, a failure, `pending` answered, nothing pending)."""
        with self._cond:
            if (self._syncing or self._failure is not None or not self._pending or
                    (pending is not None and pending.request.done)):
                return None
            state = self._capture()
            self._syncing = True
            return self._written, state

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
            self._joined.wait(remaining)
            if self._syncing or self._failure is not None or pending.request.done:
                return False
        return True

    def drain(self) -> None:
        """Make every written batch durable and published, or failed (writer lock held,
        so no batch is added meanwhile and a failure is recovered right here)."""
        while True:
            with self._cond:
                failure = self._failure
                if failure is None and self._syncing:
                    self._cond.wait()
                    continue
            if failure is not None:
                self._recover(failure)
                continue
            claimed = self._claim(None)
            if claimed is None:
                return
            self._sync_to(*claimed, locked=True)

    def _sync_to(self, target: int, state: Any, locked: bool) -> None:
        """Run the fsync this thread claimed, covering records up to `target`; publish
        the batches it made durable as of `state`."""
        began = time.monotonic()
        try:
            self._sync()
        except OSError as exc:
            with self._cond:
                self._syncing = False
                self._failure = self._failure or exc
                self._notify()
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
                batches = []
                while self._pending and self._pending[0].seq <= self._durable:
                    batches.append(self._pending.popleft())
                if batches:
                    self._publish(batches, state)
                self._covered = [self._covered[1], {p.writer for p in batches}]
            self._notify()

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
            self._notify()

    def _notify(self) -> None:
        self._cond.notify_all()
        self._joined.notify_all()
