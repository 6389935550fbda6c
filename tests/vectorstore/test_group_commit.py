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


def _written_or_queued(col) -> int:
    """The writers' batches written to the WAL (after the one base record) or queued to
    be written once the running fsync ends (`WriteQueue`)."""
    return col._wal.next_seq - 2 + len(col._queued._queue)


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
              _written_or_queued(col) == WRITERS)  # every batch in, none synced
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
        _wait_for(lambda: fsync.entered.is_set() and _written_or_queued(col) == WRITERS)
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
        # batches queued while the failed fsync ran are written and synced after it:
        # they land, and a write landing clears the degraded state
        assert col.health().status == ("ok" if survivors else "degraded")
        fsync.fail_next = OSError(errno.EIO, "injected I/O error")
        with pytest.raises(WriteFailed, match="fsync failed"):
            col.upsert(["lost"], [[0, 0, 0, 1]], [{"n": 98}])
        health = col.health()
        assert health.status == "degraded" and "injected I/O error" in health.reason
        assert col.get(["lost"]) == [None]
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
    pending = Pending([Request("batch")], 1, 1, 0, None)
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
    first, second = (Pending([Request(i)], i, i, 0, None, after=f"after {i}") for i in (1, 2))
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
    sleep until answered); the writer holding the lock writes them, in order, those
    queued by then as one group. The requests the write answered at once have their
    writers woken; the others wait for their fsync."""
    writing, go_on = threading.Event(), threading.Event()
    written: list[tuple[str, list[int]]] = []
    woken: list[int] = []

    def write(requests: list[Request]) -> list[Request]:
        written.append((threading.current_thread().name, [r.work for r in requests]))
        if requests[0].work == 1:
            writing.set()
            assert go_on.wait(30)
        answered = [r for r in requests if r.work == 3]
        for request in answered:
            request.finish(error=RuntimeError("cannot stage"))
        return answered

    queue = commit.WriteQueue(threading.Lock(), write, lambda r: woken.append(r.work),
                              lambda: None)
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
    assert written == [("first", [1]), ("first", [2, 3, 4])]
    assert woken == [3] and isinstance(requests[3].error, RuntimeError)
    assert not any(requests[i].done for i in (1, 2, 4))


def _queue_in_order(col, fsync: GatedFsync, calls: list) -> tuple[list[threading.Thread], dict]:
    """Start one writer per call (a function of the collection) while an fsync is held
    at the gate, each once the one before is queued: the writer holding the queue
    waits for the fsync to end, then writes them all in this order, together."""
    results: dict = {}

    def run(i: int, call) -> None:
        try:
            results[i] = call(col)
        except Exception as exc:
            results[i] = exc

    first = threading.Thread(target=col.upsert, args=(["held"], [[1, 1, 0, 0]], [{"n": -1}]))
    first.start()
    assert fsync.entered.wait(30)
    threads = [first]
    for i, call in enumerate(calls):
        threads.append(threading.Thread(target=run, args=(i, call)))
        threads[-1].start()
        _wait_for(lambda i=i: len(col._queued._queue) == i + 1)
    return threads, results


def _state(col) -> dict:
    return {r.id: (r.payload, [round(x, 5) for x in r.vector]) for r in
            col.get(where={}, limit=None, include_vectors=True)}


OPS = [  # batches of one group; later changes of the same id win, in this order
    lambda c: c.upsert(["a", "b"], [[1, 0, 0, 0], [0, 1, 0, 0]], [{"n": 1}, {"n": 2}]),
    lambda c: c.delete(ids=["a"]),
    lambda c: c.upsert(["a"], [[0, 0, 1, 0]], [{"n": 3}], delete=["b", "nobody"]),
    lambda c: c.delete(where={"n": 3}),  # selects what the batches before it staged
    lambda c: c.upsert(["c", "a"], [[0, 0, 0, 1], [1, 0, 1, 0]], [{"n": 4}, {"n": 5}]),
    lambda c: c.delete(ids=["zzz"]),  # changes nothing: answered at once
    lambda c: c.upsert(["b"], [[1, 1, 1, 1]], [{"n": 6}], delete=["c"]),
]


def test_a_group_applies_its_batches_in_order_and_replays_the_same(tmp_path, monkeypatch):
    """Batches written as one group (one apply, one log write) end exactly as applied
    one by one, in order: a later upsert or delete of an id wins, a delete sees the
    upserts before it in the group, a delete by filter selects what they staged; each
    writer gets its own answer, and WAL replay rebuilds the same state."""
    with Database(tmp_path / "oracle", group_commit=False) as db:
        oracle = db.create_collection("c", dim=4)
        oracle.upsert(["held"], [[1, 1, 0, 0]], [{"n": -1}])
        expected_results = {i: op(oracle) for i, op in enumerate(OPS)}
        expected = _state(oracle)
    assert expected_results == {0: None, 1: 1, 2: None, 3: 1, 4: None, 5: 0, 6: None}
    with Database(tmp_path / "grouped") as db:
        col = db.create_collection("c", dim=4)
        fsync = GatedFsync()
        monkeypatch.setattr(os, "fdatasync", fsync)
        threads, results = _queue_in_order(col, fsync, OPS)
        assert col.count() == 0 and results == {}
        fsync.gate.set()
        for t in threads:
            t.join(30)
        assert results == expected_results
        assert _state(col) == expected
        assert fsync.calls <= 3, "the queued batches share their fsyncs"
    monkeypatch.undo()
    with Database(tmp_path / "grouped") as db:
        assert _state(db.get_collection("c")) == expected


def test_a_batch_that_cannot_apply_fails_alone_and_its_group_lands(tmp_path, monkeypatch):
    """If applying a group fails (here the payload index refuses one batch's rows),
    the group is undone and its batches applied one by one: that batch fails with the
    error, nothing of it is stored, and the others land and survive a restart."""
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4)
        add = col._index.add

        def refusing(first_row, payloads):
            if any("boom" in p for p in payloads):
                raise RuntimeError("index refused the batch")
            add(first_row, payloads)

        monkeypatch.setattr(col._index, "add", refusing)
        fsync = GatedFsync()
        monkeypatch.setattr(os, "fdatasync", fsync)
        threads, results = _queue_in_order(col, fsync, [
            lambda c: c.upsert(["a"], [[1, 0, 0, 0]], [{"n": 1}]),
            lambda c: c.upsert(["a", "b"], [[0, 1, 0, 0], [0, 0, 1, 0]], [{"n": 2}, {"boom": 1}]),
            lambda c: c.upsert(["c"], [[0, 0, 0, 1]], [{"n": 3}], delete=["held"]),
        ])
        fsync.gate.set()
        for t in threads:
            t.join(30)
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], RuntimeError)
        assert {r.id: r.payload for r in col.get(where={}, limit=None)} == {
            "a": {"n": 1}, "c": {"n": 3}}
    monkeypatch.undo()
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert {r.id: r.payload for r in col.get(where={}, limit=None)} == {
            "a": {"n": 1}, "c": {"n": 3}}
        assert col.count({"n": 2}) == 0


def test_batches_from_one_thread_keep_their_own_vectors(tmp_path):
    """A thread's writes prepare their vectors in one reused scratch matrix: each batch
    stored (in memory and in the WAL) must keep its own vectors after the next one."""
    rng = np.random.default_rng(7)
    batches = [rng.normal(size=(n, 8)).astype(np.float32) for n in (3, 5, 1, 4)]
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, metric="cosine")
        for b, vectors in enumerate(batches):
            col.upsert([f"{b}-{i}" for i in range(len(vectors))], vectors)
        expected = {f"{b}-{i}": v / np.linalg.norm(v)
                    for b, vectors in enumerate(batches) for i, v in enumerate(vectors)}

        def stored(col) -> dict:
            return {r.id: np.asarray(r.vector) for r in
                    col.get(where={}, limit=None, include_vectors=True)}

        for rid, vector in stored(col).items():
            np.testing.assert_allclose(vector, expected[rid], rtol=1e-6, atol=1e-7)
    with Database(tmp_path) as db:
        for rid, vector in stored(db.get_collection("c")).items():
            np.testing.assert_allclose(vector, expected[rid], rtol=1e-6, atol=1e-7)
