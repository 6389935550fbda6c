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


def test_a_writer_answered_before_it_leads_runs_no_fsync_after_the_drain():
    """#12 (`WAL fsync failed (OSError: [Errno 9] Bad file descriptor)` -> 503 in the soak):
    a writer due to run the next fsync is answered before it gets to by a drain, whose
    thread (a writer freezing the growing segment) then rotates the WAL, closing the
    file. The writer must not go on to fsync: the closed descriptor failed it, and the
    failure rolled back other writers' batches. Interleaved deterministically."""
    closed = threading.Event()
    late_syncs: list[str] = []
    recovered: list[OSError] = []

    def sync() -> None:
        if closed.is_set():
            late_syncs.append(threading.current_thread().name)
            raise OSError(errno.EBADF, "Bad file descriptor")

    def publish(batches: list[Pending], state: object) -> None:
        for pending in batches:
            pending.request.finish("published")

    lock = threading.Lock()
    queue = SyncQueue(lock, sync, publish, recovered.append)
    pending = Pending(Request("batch"), 1, 1, 0, None)
    with lock:
        queue.add(pending)  # no fsync runs: its writer is to lead the next one
        queue.drain()  # ...but a drain answers its batch first
        closed.set()  # ...and the WAL file is rotated away
    queue.wait(pending.request)  # the writer gets here only now
    assert (pending.request.result, pending.request.error) == ("published", None)
    assert late_syncs == [] and recovered == []


def test_the_next_fsync_is_handed_to_a_waiting_writer():
    """A writer whose fsync returns with another batch left uncovered hands the next
    fsync to that batch's writer, which runs it: both are answered, two fsyncs."""
    first_syncing, release_first = threading.Event(), threading.Event()
    syncs: list[str] = []
    lock = threading.Lock()
    queue: SyncQueue

    def sync() -> None:
        syncs.append(threading.current_thread().name)
        if len(syncs) == 1:
            first_syncing.set()
            assert release_first.wait(30)

    def publish(batches: list[Pending], state: object) -> None:
        for pending in batches:
            pending.request.finish(state)

    queue = SyncQueue(lock, sync, publish, lambda exc: None)
    first, second = (Pending(Request(i), i, i, 0, None, after=f"after {i}") for i in (1, 2))
    with lock:
        queue.add(first)
    leader = threading.Thread(target=queue.wait, args=(first.request,), name="first")
    leader.start()
    assert first_syncing.wait(30)
    with lock:
        queue.add(second)  # written while the first fsync runs: not covered by it
    follower = threading.Thread(target=queue.wait, args=(second.request,), name="second")
    follower.start()
    release_first.set()
    leader.join(30)
    follower.join(30)
    assert not leader.is_alive() and not follower.is_alive()
    assert syncs == ["first", "second"]
    assert (first.request.result, second.request.result) == ("after 1", "after 2")


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


def test_requests_queued_meanwhile_are_written_by_the_writer_holding_the_lock():
    """Writers that find another writing queue their request and return at once (to
    sleep until answered); the writer holding the lock writes them, in order. A write
    that raises answers that request alone, with the error, and wakes its writer."""
    writing, go_on = threading.Event(), threading.Event()
    written: list[tuple[str, int]] = []
    woken: list[int] = []

    def write(request: Request) -> Pending | None:
        written.append((threading.current_thread().name, request.work))
        if request.work == 1:
            writing.set()
            assert go_on.wait(30)
        if request.work == 3:
            raise RuntimeError("cannot stage")
        return Pending(request, request.work, request.work, 0, None)

    queue = commit.WriteQueue(threading.Lock(), write, lambda r: woken.append(r.work))
    requests = {i: Request(i) for i in range(1, 5)}
    first = threading.Thread(target=queue.submit, args=(requests[1],), name="first")
    first.start()
    assert writing.wait(30)
    for i in (2, 3, 4):
        others = threading.Thread(target=queue.submit, args=(requests[i],), name=f"w{i}")
        others.start()
        others.join(30)
        assert not others.is_alive(), "a queued writer waited for the lock"
    go_on.set()
    first.join(30)
    assert written == [("first", 1), ("first", 2), ("first", 3), ("first", 4)]
    assert woken == [3] and isinstance(requests[3].error, RuntimeError)
    assert not any(requests[i].done for i in (1, 2, 4))
