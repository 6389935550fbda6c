"""The background worker that seals and compacts a collection, and reports its health.

A failed pass (disk full, an I/O error, a bug) never kills the thread: the error is
logged with its traceback, published (`health()`: degraded, with the reason), and the
pass retried with exponential backoff until it succeeds. Nothing is lost meanwhile:
rows waiting to be sealed stay searchable in memory and durable in the WAL, which is
retired only after a seal reached the manifest. Whoever waits on the worker (`flush`)
gets the failure raised instead of waiting forever.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import MaintenanceFailed, StoreClosed

log = logging.getLogger("vectorstore.maintenance")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 60.0


@dataclass(frozen=True)
class Health:
    """A collection's background health: `ok`, or `degraded` with the reason."""

    status: str
    reason: str | None = None
    failures: int = 0
    """Failed passes in a row (0 when the last pass succeeded)."""
    failures_total: int = 0
    since: float | None = None
    """Unix time of the first failure of the current run of failures."""


def describe(exc: BaseException) -> str:
    """One line naming the error's type and message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Maintenance:
    """Runs `step` (one pass of sealing and compaction) on its own thread whenever
    kicked, retrying failed passes with backoff."""

    def __init__(self, name: str, step: Callable[[], None]) -> None:
        self._name = name
        self._step = step
        self._cond = threading.Condition()
        self._kicked = False
        self._stopping = False
        self._drain = True
        self._failures = 0
        self._failures_total = 0
        self._reason: str | None = None
        self._since: float | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"maint-{name}")
        self._thread.start()

    def kick(self) -> None:
        """Ask for a pass now (also cuts a retry's backoff short)."""
        with self._cond:
            self._kicked = True
            self._cond.notify_all()

    def health(self) -> Health:
        with self._cond:
            if self._reason is None:
                return Health("ok", failures_total=self._failures_total)
            return Health("degraded", f"background sealing/compaction failing: {self._reason}",
                          self._failures, self._failures_total, self._since)

    def wait(self, done: Callable[[], bool]) -> None:
        """Kick a pass and wait until `done()` holds (checked after each pass); raise
        MaintenanceFailed if a pass fails first, StoreClosed if the worker stops."""
        with self._cond:
            failures = self._failures_total
            self._kicked = True
            self._cond.notify_all()
            while not done():
                if self._failures_total > failures:
                    raise MaintenanceFailed(
                        f"collection {self._name!r}: {self._reason}; every acknowledged "
                        "write is safe in the WAL and the worker keeps retrying")
                if self._stopping:
                    raise StoreClosed(f"collection {self._name!r} is closing")
                self._cond.wait()

    def stop(self, drain: bool) -> None:
        """Stop the thread; with `drain`, after one more pass if one was asked for and the
        worker is not failing (a failing worker stops at once: the WAL keeps the rest)."""
        with self._cond:
            self._stopping, self._drain = True, drain
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while self._next():
            try:
                self._step()
            except Exception as exc:  # any failure is logged, published and retried
                log.exception("collection %r: background pass failed", self._name)
                self._record(exc)
            else:
                self._record(None)

    def _next(self) -> bool:
        """Wait for a kick or the end of a backoff; False when the thread should end."""
        with self._cond:
            deadline = None
            if self._failures:
                delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
                deadline = time.monotonic() + delay
            while not self._kicked and not self._stopping:
                if deadline is None:
                    self._cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._stopping:
                run_last = self._drain and self._kicked and not self._failures
                self._kicked = False
                self._drain = False
                return run_last
            self._kicked = False
            return True

    def _record(self, exc: Exception | None) -> None:
        with self._cond:
            if exc is None:
                self._failures, self._reason, self._since = 0, None, None
            else:
                self._failures += 1
                self._failures_total += 1
                self._reason = describe(exc)
                self._since = self._since or time.time()
            self._cond.notify_all()
