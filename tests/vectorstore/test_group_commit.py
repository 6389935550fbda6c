"""Group commit: concurrent writers share fsyncs, nobody is answered (nor any reader
shown the batch) before it is durable, and a failed fsync rolls back every batch that
was not yet durable while acknowledged data stays."""

import errno
import os
import threading
import time

import numpy as np
import pytest

from vectorstore import Database, commit
from vectorstore.commit import Pending, Request, SyncQueue
from vectorstore.errors import WriteFailed

WRITERS = 6


class GatedFsync:
    """os.fdatasync replaced: counts calls and blocks them until `release()`; can fail
    the next call instead."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail_next: OSError | None = None
        self._real = os.fdatasync

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.entered.set()
        self.gate.wait(30)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self._real(fd)


@pytest.fixture
def col(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=1000)
        col.upsert(["base"], [[1, 0, 0, 0]], [{"n": 0}])
        yield col


def _writers(col, results: dict) -> list[threading.Thread]:
    def write(i: int) -> None:
        try:
            col.upsert([f"w{i}"], [[0, 1, 0, i]], [{"n": i + 1}])
            results[i] = "ok"
        except WriteFailed as exc:
            results[i] = exc

    return [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]


def _wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_no_writer_is_answered_nor_any_reader_shown_a_batch_before_its_fsync(col, monkeypatch):
    fsync = GatedFsync()
    monkeypatch.setattr(os, "fdatasync", fsync)
    results: dict = {}
    threads = _writers(col, results)
    for t in threads:
        t.start()
    fsync.entered.wait(30)
    wal = col.directory / "wal"
    _wait_for(lambda: sum(p.stat().st_size for p in wal.glob("*.wal")) > 0 and
              col._wal.next_seq == 2 + WRITERS)  # every batch written, none synced
    assert results == {}
    assert col.count() == 1 and col.get([f"w{i}" for i in range(WRITERS)]) == [None] * WRITERS
    assert [h.id for h in col.search([0, 1, 0, 0], k=10)] == ["base"]
    fsync.gate.set()
    for t in threads:
        t.join(30)
    assert results == {i: "ok" for i in range(WRITERS)}
    assert col.count() == 1 + WRITERS
    assert fsync.calls <= 2, "the batches written during the first fsync share the next"


def test_a_failed_fsync_fails_every_batch_not_yet_durable(tmp_path, monkeypatch):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=1000)
        col.upsert(["base"], [[1, 0, 0, 0]], [{"n": 0}])
        fsync = GatedFsync()
        fsync.fail_next = OSError(errno.EIO, "injected I/O error")
        monkeypatch.setattr(os, "fdatasync", fsync)
        results: dict = {}
        threads = _writers(col, results)
        for t in threads:
            t.start()
        _wait_for(lambda: col._wal.next_seq == 2 + WRITERS)
        fsync.gate.set()
        for t in threads:
            t.join(30)
        failed = [i for i, r in results.items() if r != "ok"]
        assert failed, "the batch under the failed fsync must fail"
        for i in failed:
            assert "fsync failed" in str(results[i])
        survivors = {f"w{i}" for i, r in results.items() if r == "ok"}
        assert col.count() == 1 + len(survivors)
        assert {r.id for r in col.get(where={}, limit=None)} == {"base"} | survivors
        health = col.health()
        assert health.status == "degraded" and "injected I/O error" in health.reason
        col.upsert(["after"], [[0, 0, 1, 0]], [{"n": 99}])  # writes go on
        assert col.health().status == "ok"
    monkeypatch.undo()
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert {r.id for r in col.get(where={}, limit=None)} == {"base", "after"} | survivors


def test_one_fsync_per_batch_switch(tmp_path, monkeypatch):
    with Database(tmp_path, group_commit=False) as db:
        col = db.create_collection("c", dim=4)
        fsync = GatedFsync()
        fsync.gate.set()
        monkeypatch.setattr(os, "fdatasync", fsync)
        results: dict = {}
        threads = _writers(col, results)
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == {i: "ok" for i in range(WRITERS)}
        assert fsync.calls == WRITERS


def test_writes_from_many_threads_all_land(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=64)

        def write(t: int) -> None:
            for b in range(20):
                ids = [f"{t}-{b}-{i}" for i in range(5)]
                col.upsert(ids, np.random.default_rng(t * 100 + b).normal(size=(5, 4)),
                           [{"t": t, "b": b}] * 5)

        threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert col.count() == 8 * 20 * 5
        col.flush()
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert col.count() == 800 and col.count({"t": 3}) == 100


def test_a_writer_answered_while_it_gathers_runs_no_fsync_after_the_drain(monkeypatch):
    """#12 (`WAL fsync failed (OSError: [Errno 9] Bad file descriptor)` -> 503 in the soak):
    a writer waiting for others to join its group is answered meanwhile by a drain, whose
    thread (a writer freezing the growing segment) then rotates the WAL, closing the file.
    The waiter must not go on to fsync: the closed descriptor failed it, and the failure
    rolled back other writers' batches. Interleaved deterministically: the gathering
    writer's wait lets the drain and the close run."""
    monkeypatch.setattr(commit, "MAX_DELAY", 10.0)  # a gather waits until woken
    closed, gathering = threading.Event(), threading.Event()
    late_syncs: list[str] = []
    recovered: list[OSError] = []

    def sync() -> None:
        if closed.is_set():
            late_syncs.append(threading.current_thread().name)
            raise OSError(errno.EBADF, "Bad file descriptor")

    class Interleaved(threading.Condition):
        def wait(self, timeout=None):
            if threading.current_thread().name == "gatherer" and not gathering.is_set():
                gathering.set()  # the condition is released: the drain runs now
                return super().wait_for(closed.is_set)
            return super().wait(timeout)

    lock = threading.Lock()
    def publish(batches: list[Pending], state: object) -> None:
        for pending in batches:
            pending.request.finish("published")

    queue = SyncQueue(lock, sync, lambda: None, publish, recovered.append)
    queue._joined = Interleaved(queue._mutex)  # what a gathering writer waits on
    queue._covered, queue._sync_seconds = [{-1}, {-2}], 60.0  # two writers to wait for
    pending = Pending(Request("batch"), 1, 1, 0, None)
    with lock:
        queue.add(pending)
    gatherer = threading.Thread(target=queue.wait, args=(pending,), name="gatherer")
    gatherer.start()
    assert gathering.wait(30), "the writer never waited to gather a group"
    with lock:
        queue.drain()  # answers the gathering writer's batch
        closed.set()  # ...and the WAL file is rotated away
        queue.notify()
    gatherer.join(30)
    assert not gatherer.is_alive()
    assert (pending.request.result, pending.request.error) == ("published", None)
    assert late_syncs == [] and recovered == []


def test_writers_racing_wal_rotations_all_land(tmp_path, monkeypatch):
    """A bounded stress loop over the same race through a collection: 8 writers, a freeze
    and a WAL rotation every 32 rows, fsync and close slowed (both release the GIL) so
    gathers and rotations overlap. Before the fix about one run in seven failed writes
    with EBADF here; every write must land."""
    real_sync, real_close = os.fdatasync, os.close

    def slow_sync(fd: int) -> None:
        time.sleep(0.003)
        real_sync(fd)

    def slow_close(fd: int) -> None:
        real_close(fd)
        time.sleep(0.002)

    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=32)
        monkeypatch.setattr(os, "fdatasync", slow_sync)
        monkeypatch.setattr(os, "close", slow_close)
        failures: list[Exception] = []

        def write(t: int) -> None:
            vectors = np.random.default_rng(t).normal(size=(100, 4))
            for b in range(100):
                try:
                    col.upsert([f"{t}-{b}"], vectors[b:b + 1], [{"t": t}])
                except WriteFailed as exc:
                    failures.append(exc)

        threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        monkeypatch.undo()
        assert failures == [] and col.health().status == "ok"
        assert col.count() == 800
