"""Background sealing and compaction failures: logged, retried with backoff, reported by
health() and stats(); flush() raises instead of hanging; nothing acknowledged is lost,
and once the cause is gone the worker catches up by itself."""

import logging
import time

import numpy as np
import pytest

from vectorstore import Database, collection_segments
from vectorstore.errors import MaintenanceFailed


class FailingWrites:
    """write_segment replaced: fails while `broken`, counting attempts."""

    def __init__(self, real) -> None:
        self.real = real
        self.broken = True
        self.attempts = 0

    def __call__(self, *args, **kwargs):
        self.attempts += 1
        if self.broken:
            raise OSError(28, "No space left on device (injected)")
        return self.real(*args, **kwargs)


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def failing(monkeypatch):
    writes = FailingWrites(collection_segments.write_segment)
    monkeypatch.setattr(collection_segments, "write_segment", writes)
    return writes


def test_a_failing_seal_is_reported_retried_and_caught_up(tmp_path, failing, caplog):
    caplog.set_level(logging.ERROR, "vectorstore.maintenance")
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=10)
        vectors = np.random.default_rng(0).normal(size=(30, 4))
        col.upsert([f"r{i}" for i in range(30)], vectors, [{"i": i} for i in range(30)])
        # retried in the background; a failure counts once its attempt has been recorded
        _wait_for(lambda: failing.attempts >= 2 and col.health().failures >= 2)
        stats = col.stats()
        assert stats["health"] == "degraded" and stats["maintenance_failures"] >= 2
        assert "No space left on device (injected)" in stats["health_reason"]
        assert "background pass failed" in caplog.text and "injected" in caplog.text
        started = time.monotonic()
        with pytest.raises(MaintenanceFailed, match="injected.*safe in the WAL"):
            col.flush()
        assert time.monotonic() - started < 30
        assert col.count() == 30 and col.get(["r7"])[0].payload == {"i": 7}
        assert [h.id for h in col.search(vectors[5], k=1)] == ["r5"]
        failing.broken = False
        col.flush()  # the worker succeeds now; flush waits for it
        assert col.health().status == "ok" and col.stats()["sealed_segments"] >= 1
        assert col.count() == 30
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert col.count() == 30 and col.get(["r29"])[0].payload == {"i": 29}


def test_failures_are_retried_with_growing_backoff(tmp_path, failing):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=5)
        col.upsert([f"r{i}" for i in range(5)], np.eye(4)[[0, 1, 2, 3, 0]])
        _wait_for(lambda: failing.attempts >= 3, seconds=30)
        attempts = failing.attempts
        time.sleep(1.0)  # backoff 0.5, 1, 2, 4 s: few attempts in a second now
        assert failing.attempts - attempts <= 2
        assert col.health().failures >= 3


def test_a_failing_compaction_is_reported_and_nothing_lost(tmp_path, monkeypatch):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, index="flat", seal_rows=4, merge_rows=100)
        for batch in range(3):
            col.upsert([f"{batch}-{i}" for i in range(4)], np.eye(4))
            col.flush()
        col.delete(ids=["0-0", "1-1"])
        failing = FailingWrites(collection_segments.write_segment)
        monkeypatch.setattr(collection_segments, "write_segment", failing)
        with pytest.raises(OSError, match="injected"):
            col.compact()
        assert col.count() == 10 and col.stats()["sealed_segments"] == 3
        assert sorted(r.id for r in col.get(where={}, limit=None)) == sorted(
            f"{b}-{i}" for b in range(3) for i in range(4) if f"{b}-{i}" not in ("0-0", "1-1"))
        failing.broken = False
        col.compact()
        assert col.count() == 10 and col.stats()["sealed_segments"] == 1


def test_stats_answer_while_files_vanish(tmp_path):
    """A compaction retiring a segment or a seal retiring WAL files between listing and
    stat() must not make stats() fail (it once answered 500 through the API)."""
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=4)
        col.upsert([f"r{i}" for i in range(6)], np.eye(4)[[0, 1, 2, 3, 0, 1]])
        col.flush()
        before = col.stats()["disk_bytes"]
        (segment,) = (tmp_path / "collections/c/segments").iterdir()
        vanished = sorted(segment.iterdir())[0]
        size = vanished.stat().st_size
        vanished.rename(tmp_path / "elsewhere")
        for wal in (tmp_path / "collections/c/wal").glob("*.wal"):
            wal.rename(tmp_path / wal.name)
        stats = col.stats()
        assert stats["disk_bytes"] <= before - size and stats["count"] == 6
