"""Group commit: concurrent writers' batches share one fsync, and none is answered
before it is durable.

A writer stages its batch and appends it to the WAL under the collection's writer lock
(a fraction of a millisecond), registers it here with the writer's state after it, then
leaves the lock and waits. One fdatasync runs at a time, outside the lock, and makes
durable every record written before it started; while it runs, other writers stage and
append theirs, and the next fsync covers them all. When an fsync returns, the batches
it covered are published together, as one snapshot (the state registered with the
newest of them), and answered. The disk's flush latency and the cost of publishing are
paid once per group, and neither inside the lock.

Who runs the next fsync: a writer registering a batch while no fsync runs and none is
due leads it; a writer whose fsync returns with batches left uncovered hands the next
one to the oldest of their writers. Each writer sleeps on its own lock and is woken
once, when its batch is answered or when it is handed the next fsync: with eight
writers, a batch costs two thread switches, not one per writer per fsync (what a
shared condition's notify_all cost: ~9 per batch, a third of a small batch's CPU).

If an fsync fails, nothing not yet durable may be answered: `recover` (under the writer
lock) rolls every such batch back, cuts the WAL back and fails their writers. Since
fsyncs never overlap, a failure cannot be masked by another fsync's success.
"""

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class Request:
    """One writer's request: `work` for the committer; `result` or `error` once done;
    the lock its writer sleeps on (held until the writer is to wake)."""

    __slots__ = ("work", "done", "result", "error", "wake")

    def __init__(self, work: Any) -> None:
        self.work = work
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()
        self.wake.acquire()

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True


class Pending:
    """A batch written to the WAL but not yet known durable: its last sequence number,
    where the log ended before it, what undoing or answering it needs (`state`), and the
    writer's state after it (`after`: what publishing it shows)."""

    __slots__ = ("request", "seq", "first_seq", "size_before", "state", "after")

    def __init__(self, request: Request, first_seq: int, seq: int, size_before: int,
                 state: Any, after: Any = None) -> None:
        self.request = request
        self.first_seq = first_seq
        self.seq = seq
        self.size_before = size_before
        self.state = state
        self.after = after


class SyncQueue:
    """The batches written but not yet durable, in WAL order, and the fsyncs that make
    them so.

    `sync()` fdatasyncs the WAL; `publish(batches, after)` makes those batches visible
    as of `after` (the newest one's) and answers them; `recover(exc)` handles a failed
    fsync: with the writer `lock` held it calls `take_failed()`, rolls those batches
    back, answers them with the error and calls `notify()`.

    One mutex guards the queue. `_leader` is the batch whose writer is to run the next
    fsync (None while one runs, or when nothing waits); `_done` (a condition on the
    mutex) announces fsyncs ending, for `drain` and `take_failed`, the only waiters on
    it.
    """

    def __init__(self, lock: threading.Lock, sync: Callable[[], None],
                 publish: Callable[[list[Pending], Any], None],
                 recover: Callable[[OSError], None]) -> None:
        self._lock = lock
        self._sync = sync
        self._publish = publish
        self._recover = recover
        self._mutex = threading.Lock()
        self._done = threading.Condition(self._mutex)
        self._pending: deque[Pending] = deque()
        self._leader: Pending | None = None
        self._syncing = False
        self._failure: OSError | None = None
        self._victims: list[Pending] = []

    def add(self, pending: Pending) -> None:
        """Register a batch just written to the WAL (writer lock held); its writer
        leads the next fsync if none runs and none is due."""
        with self._mutex:
            self._pending.append(pending)
            if self._leader is None and not self._syncing:
                self._leader = pending
                _signal(pending.request)

    def wake(self, request: Request) -> None:
        """Wake the writer of a request answered without a batch to wait for (a no-op,
        or an error before the WAL)."""
        with self._mutex:
            _signal(request)

    def wait(self, request: Request) -> None:
        """Return once `request` is answered: its batch durable and published, or
        failed (writer lock not held); run the fsync this writer is handed meanwhile."""
        while True:
            with self._mutex:
                if request.done:
                    return
                claimed = None
                leader = self._leader
                if (leader is not None and leader.request is request and not self._syncing
                        and self._failure is None):
                    claimed = self._claim()
            if claimed is None:
                request.wake.acquire()  # until answered, or handed the next fsync
            else:
                self._sync_to(claimed, locked=False)

    def _claim(self) -> Pending:
        """Start an fsync (mutex held): it covers every batch registered so far; the
        newest of them, whose state publishing shows."""
        self._leader = None
        self._syncing = True
        return self._pending[-1]

    def drain(self) -> None:
        """Make every written batch durable and published, or failed (writer lock held,
        so no batch is added meanwhile and a failure is recovered right here)."""
        while True:
            with self._mutex:
                failure = self._failure
                if failure is None and self._syncing:
                    self._done.wait()
                    continue
                if failure is None:
                    if not self._pending:
                        return
                    claimed = self._claim()
            if failure is not None:
                self._recover(failure)
                continue
            self._sync_to(claimed, locked=True)

    def _sync_to(self, newest: Pending, locked: bool) -> None:
        """Run the fsync this thread claimed, covering every batch up to `newest`;
        publish them as of its state, wake their writers and hand on the next fsync."""
        try:
            self._sync()
        except OSError as exc:
            with self._mutex:
                self._syncing = False
                self._failure = self._failure or exc
                self._done.notify_all()
            if locked:
                self._recover(exc)
            else:
                with self._lock:
                    self._recover(exc)
            return
        with self._mutex:
            self._syncing = False
            if self._failure is None:
                batches = []
                while self._pending and self._pending[0].seq <= newest.seq:
                    batches.append(self._pending.popleft())
                if batches:
                    self._publish(batches, batches[-1].after)
                for pending in batches:
                    _signal(pending.request)
                self._hand_on()
            self._done.notify_all()

    def _hand_on(self) -> None:
        """After an fsync (mutex held): give the next one to the oldest batch left
        uncovered, unless a live writer is already due to run it."""
        if self._leader is not None and self._leader.request.done:
            self._leader = None
        if self._pending and self._failure is None:
            if self._leader is None:
                self._leader = self._pending[0]
            _signal(self._leader.request)

    def take_failed(self) -> list[Pending]:
        """In `recover` (writer lock held): every batch not known durable, oldest first,
        once no fsync is in flight. Clears the failure; an empty list when another
        thread has recovered already."""
        with self._mutex:
            while self._syncing:
                self._done.wait()
            victims, self._pending = list(self._pending), deque()
            self._victims += victims
            self._leader = None
            self._failure = None
            return victims

    def notify(self) -> None:
        """Wake the writers of the batches `take_failed` returned (after `recover`
        answered them), and hand on the next fsync if batches wait for one."""
        with self._mutex:
            for pending in self._victims:
                _signal(pending.request)
            self._victims = []
            self._hand_on()
            self._done.notify_all()


def _signal(request: Request) -> None:
    """Wake `request`'s writer (mutex held). At most one wake-up is outstanding: the
    writer, once awake, looks at the queue again before sleeping on the lock anew."""
    if request.wake.locked():
        request.wake.release()


class WriteQueue:
    """Requests waiting for the writer lock, written by whichever writer holds it.

    A writer queues its request; if no writer is writing, it takes the writer lock and
    writes every queued request (its own and those queued meanwhile) until none is
    left. The others never wait for the lock: they sleep once, until their request is
    answered (or they are handed an fsync), instead of once for the lock and once for
    the fsync. `write(request)` stages and logs one request (writer lock held),
    returning its pending batch, or None when it answered the request at once; then
    `wake(request)` wakes its writer.
    """

    def __init__(self, lock: threading.Lock, write: Callable[[Request], Pending | None],
                 wake: Callable[[Request], None]) -> None:
        self._lock = lock
        self._write = write
        self._wake = wake
        self._mutex = threading.Lock()
        self._queue: list[Request] = []
        self._writing = False

    def submit(self, request: Request) -> None:
        """Queue `request`; write the queue if no writer is writing it. The request may
        not be written yet on return: wait for it (`SyncQueue.wait`)."""
        with self._mutex:
            self._queue.append(request)
            if self._writing:
                return
            self._writing = True
        with self._lock:
            while True:
                with self._mutex:
                    queued, self._queue = self._queue, []
                    if not queued:
                        self._writing = False
                        return
                for each in queued:
                    try:
                        answered = self._write(each) is None
                    except BaseException as exc:  # raised in the request's own thread
                        answered = not each.done
                        if answered:
                            each.finish(error=exc)
                    if answered:
                        self._wake(each)
