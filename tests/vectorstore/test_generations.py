"""Generations: a collection rebuilt beside itself (stage), then switched to (promote)."""

import threading
from dataclasses import replace

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.errors import (
    CollectionBusy,
    CollectionNotFound,
    CollectionSuperseded,
    InvalidConfig,
)

DIM = 8


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _fill(col, n: int, seed: int, tag: str) -> np.ndarray:
    vectors = _vectors(n, seed)
    col.upsert([f"r{i}" for i in range(n)], vectors, [{"tag": tag, "i": i} for i in range(n)])
    return vectors


@pytest.fixture
def db(tmp_path):
    with Database(tmp_path / "data") as database:
        yield database


def _restage(db, name="docs"):
    current = db.get_collection(name)
    return db.stage(name, replace(current.config), {"made": "new"})


def test_promote_switches_and_old_object_reads_but_refuses_writes(db, tmp_path):
    old = db.create_collection("docs", dim=DIM, seal_rows=50)
    _fill(old, 120, 1, "old")
    staged = _restage(db)
    assert db.get_collection("docs") is old and db.list_collections() == ["docs"]
    new_vectors = _fill(staged, 120, 2, "new")
    staged.flush()
    promoted = db.promote("docs")
    assert db.get_collection("docs") is promoted is staged
    assert promoted.metadata == {"made": "new"} and promoted.name == "docs"
    hits = promoted.search(new_vectors[7], k=1)
    assert hits[0].id == "r7" and hits[0].payload["tag"] == "new"
    # a search that held the old object still answers, from its last snapshot
    assert old.search(new_vectors[7], k=3)[0].payload["tag"] == "old"
    assert old.count() == 120
    with pytest.raises(CollectionSuperseded, match="get it from the database again"):
        old.upsert(["x"], _vectors(1, 3))
    root = tmp_path / "data" / "collections" / "docs"
    assert sorted(p.name for p in root.iterdir()) == ["GENERATION", "gen-000001"]
    db.close()
    with Database(tmp_path / "data") as again:
        col = again.get_collection("docs")
        assert col.count() == 120 and col.get(ids=["r7"])[0].payload["tag"] == "new"
        staged = _restage(again)  # and once more: generation 2 replaces 1
        _fill(staged, 5, 4, "third")
        again.promote("docs")
        assert again.get_collection("docs").count() == 5
        assert sorted(p.name for p in root.iterdir()) == ["GENERATION", "gen-000002"]


def test_staged_survives_release_and_reopen_and_claims_are_exclusive(db, tmp_path):
    _fill(db.create_collection("docs", dim=DIM), 10, 1, "old")
    staged = _restage(db)
    _fill(staged, 4, 2, "new")
    with pytest.raises(CollectionBusy, match="already being rebuilt"):
        db.staged("docs")
    with pytest.raises(CollectionBusy):
        _restage(db)
    db.release("docs")
    with pytest.raises(InvalidConfig, match="no staged generation"):
        db.promote("docs")
    db.close()
    with Database(tmp_path / "data") as again:
        left = again.staged("docs")
        assert left is not None and left.count() == 4 and left.metadata == {"made": "new"}
        assert again.get_collection("docs").count() == 10  # still the current one
        again.unstage("docs")
        assert again.staged("docs") is None
        again.release("docs")  # nothing claimed: harmless
        assert sorted(p.name for p in (tmp_path / "data/collections/docs").iterdir()) == [
            "manifest.json", "segments", "wal"]


def test_bad_stage_requests(db):
    with pytest.raises(CollectionNotFound):
        db.staged("nope")
    col = db.create_collection("docs", dim=DIM)
    with pytest.raises(InvalidConfig, match="must be configured with that name"):
        db.stage("docs", replace(col.config, name="other"))
    assert db.staged("docs") is None  # the failed stage left no claim


def test_writes_wait_for_the_final_step_then_are_told_to_reopen(db):
    old = db.create_collection("docs", dim=DIM)
    _fill(old, 10, 1, "old")
    staged = _restage(db)
    in_final, release = threading.Event(), threading.Event()
    outcome = []

    def final(current, new):
        assert current is old and new is staged
        in_final.set()
        assert release.wait(10)
        records = current.get(where={}, limit=None)
        new.upsert([r.id for r in records], np.stack([r.vector for r in records]),
                   [r.payload for r in records])

    def writer():
        assert in_final.wait(10)
        try:
            old.upsert(["late"], _vectors(1, 9))
            outcome.append("written")
        except CollectionSuperseded:
            outcome.append("superseded")

    thread = threading.Thread(target=writer)
    thread.start()
    promoter = threading.Thread(target=db.promote, args=("docs", final))
    promoter.start()
    assert in_final.wait(10)
    assert old.search(_vectors(1, 5)[0], k=1)  # searches go on meanwhile
    release.set()
    promoter.join(10)
    thread.join(10)
    assert outcome == ["superseded"]  # it waited, then was refused: nothing lost silently
    assert db.get_collection("docs").count() == 10


def test_failed_final_step_keeps_the_current_generation(db):
    old = db.create_collection("docs", dim=DIM)
    _fill(old, 10, 1, "old")
    _restage(db)

    def final(current, new):
        raise RuntimeError("catch-up failed")

    with pytest.raises(RuntimeError):
        db.promote("docs", final)
    assert db.get_collection("docs") is old
    old.upsert(["more"], _vectors(1, 2))  # still writable
    assert old.count() == 11
    db.unstage("docs")


def test_drop_takes_the_staged_generation_along(db, tmp_path):
    _fill(db.create_collection("docs", dim=DIM), 3, 1, "old")
    _restage(db)
    db.drop_collection("docs")
    assert "docs" not in db and not (tmp_path / "data/collections/docs").exists()
    with pytest.raises(CollectionNotFound):
        db.staged("docs")


def test_leftovers_of_interrupted_runs_are_removed_on_open(tmp_path):
    data = tmp_path / "data"
    with Database(data) as db:
        _fill(db.create_collection("docs", dim=DIM), 3, 1, "old")
        staged = _restage(db)
        _fill(staged, 2, 2, "new")
        db.promote("docs")
    root = data / "collections" / "docs"
    # a crash after the switch, before the old files went: they are removed on open
    (root / "gen-000000-junk").mkdir()
    (root / "manifest.json").write_text("{}")
    (root / "gen-000002.tmp").mkdir()
    with Database(data) as db:
        assert db.get_collection("docs").count() == 2
    assert sorted(p.name for p in root.iterdir()) == ["GENERATION", "gen-000001"]
