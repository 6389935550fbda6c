"""Group commit: concurrent writers' batches share one fsync, and none is answered
before it is durable.

Under the collection's writer lock, the batches queued meanwhile (`WriteQueue`) are
staged together and appended to the WAL in one write (a fraction of a millisecond),
registered here as one `Pending` with the writer's state after them; their writers
wait outside the lock. One fdatasync runs at a time, outside the lock, and makes
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
    """Batches written to the WAL together but not yet known durable: their writers'
    requests in WAL order (the first one's writer leads an fsync for them all), their
    first and last sequence numbers, where the log ended before them, what undoing or
    answering them needs (`state`), and the writer's state after them (`after`: what
    publishing them shows)."""

    __slots__ = ("requests", "seq", "first_seq", "size_before", "state", "after")

    def __init__(self, requests: list[Request], first_seq: int, seq: int, size_before: int,
                 state: Any, after: Any = None) -> None:
        self.requests = requests
        self.first_seq = first_seq
        self.seq = seq
        self.size_before = size_before
        self.state = state
        self.after = after

    @property
    def request(self) -> Request:
        """The request whose writer leads an fsync for these batches."""
        return self.requests[0]


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

    def wait_idle(self) -> None:
        """Return once no fsync is running and no failed one awaits recovery (writer
        lock not held: the recovery takes it)."""
        with self._mutex:
            while self._syncing or self._failure is not None:
                self._done.wait()

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
                    _signal_all(pending.requests)
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
            self._done.notify_all()  # a writer waiting in `wait_idle` may write again
            return victims

    def notify(self) -> None:
        """Wake the writers of the batches `take_failed` returned (after `recover`
        answered them), and hand on the next fsync if batches wait for one."""
        with self._mutex:
            for pending in self._victims:
                _signal_all(pending.requests)
            self._victims = []
            self._hand_on()
            self._done.notify_all()


def _signal(request: Request) -> None:
    """Wake `request`'s writer (mutex held). At most one wake-up is outstanding: the
    writer, once awake, looks at the queue again before sleeping on the lock anew."""
    if request.wake.locked():
        request.wake.release()


def _signal_all(requests: list[Request]) -> None:
    for request in requests:
        _signal(request)


class WriteQueue:
    """Requests waiting for the writer lock, written by whichever writer holds it.

    A writer queues its request; if no writer is writing, it takes the writer lock and
    writes every queued request (its own and those queued meanwhile) until none is
    left, the requests queued by then as one group (`write(requests)`: the collection
    applies a group's batches in one step and logs them in one write). While an fsync
    runs, the writing writer first waits for it to end (`idle()`): a batch written
    meanwhile could not be durable before the next fsync anyway, and the requests that
    arrive during the fsync are then written as one group, not one by one (under the
    GIL a writer otherwise finishes writing its own batch before the next writer
    runs). The others never wait for the lock: they sleep once, until their request is
    answered (or they are handed an fsync), instead of once for the lock and once for
    the fsync. `write` returns the requests it answered at once (no-ops, errors; a
    request it cannot take is answered alone); `wake(request)` wakes their writers.
    """

    def __init__(self, lock: threading.Lock, write: Callable[[list[Request]], list[Request]],
                 wake: Callable[[Request], None], idle: Callable[[], None]) -> None:
        self._lock = lock
        self._write = write
        self._wake = wake
        self._idle = idle
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
        while True:
            self._idle()
            with self._lock:
                with self._mutex:
                    queued, self._queue = self._queue, []
                    if not queued:
                        self._writing = False
                        return
                answered = self._write(queued)
            for each in answered:
                self._wake(each)
