"""Group commit: concurrent writers' batches share one WAL fsync.

Leader/follower over the collection's writer lock (as in LevelDB's write queue): a
writer queues its request, then takes the writer lock. Whoever holds it takes every
request queued so far and commits them as a group: one WAL write, one fdatasync, one
published snapshot. Requests queued while that fsync runs wait on the lock; the next
holder finds its own request either done (answered by the previous group) or still
queued, and then commits it with everything queued behind it. No request is answered
before the group holding it is durable.

With `grouped=False` every request is committed alone (one fsync each): the baseline
the writes benchmark compares against.
"""

import threading
from collections.abc import Callable
from typing import Any

MAX_GROUP = 256
"""Requests per group, so one leader never holds the lock for an unbounded write."""


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


class GroupCommit:
    """Batches requests for `commit(group)`, which must finish every request it is given.

    `lock` is the writer lock that `commit` runs under."""

    def __init__(self, lock: threading.Lock, commit: Callable[[list[Request]], None],
                 grouped: bool = True) -> None:
        self._lock = lock
        self._commit = commit
        self.grouped = grouped
        self._queue: list[Request] = []
        self._queue_lock = threading.Lock()

    def submit(self, work: Any) -> Any:
        """Queue `work`, wait until its group is committed; its result, or its error
        raised here."""
        request = Request(work)
        with self._queue_lock:
            self._queue.append(request)
        with self._lock:
            if not request.done:
                self._run(self._take(request))
        if request.error is not None:
            raise request.error
        return request.result

    def _take(self, request: Request) -> list[Request]:
        with self._queue_lock:
            if not self.grouped:
                self._queue.remove(request)
                return [request]
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            if request not in group:  # more than MAX_GROUP queued ahead: it joins too
                self._queue.remove(request)
                group.append(request)
        return group

    def _run(self, group: list[Request]) -> None:
        try:
            self._commit(group)
        except BaseException as exc:  # a bug in commit: no request may wait forever
            for request in group:
                if not request.done:
                    request.finish(error=exc)
            raise
