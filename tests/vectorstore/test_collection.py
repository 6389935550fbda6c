"""Targeted tests of the collection's lifecycle: seals, checkpoints, reopen, compaction,
locking and concurrent readers."""

import threading

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.errors import (
    CollectionExists,
    CollectionNotFound,
    DatabaseLocked,
    InvalidQuery,
)


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_checkpointed_delete_survives_reopen(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=10, merge_rows=10)
        col.upsert([f"a{i}" for i in range(10)], _vectors(10))
        col.flush()
        col.delete(ids=["a3"])
        col.upsert([f"b{i}" for i in range(10)], _vectors(10, seed=1))
        col.flush()
        assert col.stats()["sealed_segments"] == 2
        assert not list((tmp_path / "collections/c/wal").glob("*.wal"))[:-1]
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert col.count() == 19
        assert col.get(["a3"]) == [None]
        assert "a3" not in {h.id for h in col.search(_vectors(10)[3], k=19)}


def test_overwrite_moves_record_and_keeps_one_copy(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, metric="l2", seal_rows=5)
        col.upsert(["x"] + [f"f{i}" for i in range(5)], _vectors(6), [{"v": 1}] + [{}] * 5)
        col.flush()
        new = _vectors(1, seed=9)
        col.upsert(["x"], new, [{"v": 2}])
        hits = col.search(new[0], k=6)
        assert [h.id for h in hits].count("x") == 1
        assert hits[0].id == "x" and hits[0].score == pytest.approx(0, abs=1e-5)
        assert col.get(["x"])[0].payload == {"v": 2}
        assert col.count() == 6


def test_compaction_reclaims_dead_rows(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=1000)
        col.upsert([str(i) for i in range(400)], _vectors(400), [{"i": i} for i in range(400)])
        col.flush()
        before = col.stats()["disk_bytes"]
        col.delete(where={"i": {"$lt": 300}})
        col.compact()
        stats = col.stats()
        assert stats["count"] == 100 and stats["deleted_rows"] == 0
        assert stats["sealed_rows"] == 100 and stats["disk_bytes"] < before
        assert col.count({"i": {"$lt": 300}}) == 0
        assert sorted(int(r.id) for r in col.get(where={}, limit=None)) == list(range(300, 400))


def test_a_collection_at_or_below_merge_rows_converges_to_one_graph(tmp_path):
    """hnsw segments merge as soon as two are small (the first one's graph grows by the
    other's rows), so sealing five segments' worth of rows ends as one graph; past
    merge_rows a second segment starts."""
    vectors = _vectors(1200, dim=16)
    queries = _vectors(50, dim=16, seed=7)
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=16, seal_rows=200, merge_rows=1000)
        for start in range(0, 1000, 100):
            col.upsert([str(i) for i in range(start, start + 100)], vectors[start:start + 100])
        col.flush()
        stats = col.stats()
        assert stats["sealed_segments"] == 1 and stats["sealed_rows"] == 1000
        unit = vectors[:1000] / np.linalg.norm(vectors[:1000], axis=1, keepdims=True)
        truth = np.argsort(-(queries @ unit.T), axis=1)[:, :10]
        found = [{int(h.id) for h in col.search(q, k=10)} for q in queries]
        hits = sum(len(f & set(t.tolist())) for f, t in zip(found, truth, strict=True))
        assert hits / truth.size >= 0.95
        col.upsert([str(i) for i in range(1000, 1200)], vectors[1000:])
        col.flush()
        assert col.stats()["sealed_segments"] == 2


def test_past_merge_rows_full_graphs_grow_into_older_ones(tmp_path):
    """Past merge_rows an hnsw collection does not stay one graph per merge_rows: full
    segments are grown into the older full one (`compaction.plan_growth`), so ten
    merge_rows' worth of rows end as a few graphs, each row still found once."""
    vectors = _vectors(1000, dim=16)
    queries = _vectors(50, dim=16, seed=7)
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=16, seal_rows=50, merge_rows=100)
        for start in range(0, 1000, 100):
            col.upsert([str(i) for i in range(start, start + 100)], vectors[start:start + 100],
                       [{"i": i} for i in range(start, start + 100)])
        col.flush()
        stats = col.stats()
        assert stats["sealed_rows"] == 1000 and stats["sealed_segments"] <= 3
        assert col.count({"i": {"$gte": 500}}) == 500
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        truth = np.argsort(-(queries @ unit.T), axis=1)[:, :10]
        found = [{int(h.id) for h in col.search(q, k=10)} for q in queries]
        hits = sum(len(f & set(t.tolist())) for f, t in zip(found, truth, strict=True))
        assert hits / truth.size >= 0.95


def test_search_returns_whole_payloads_chosen_fields_or_ids_and_scores_only(tmp_path):
    vectors = _vectors(15)
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=10)
        payloads = [{"i": i, "name": f"n{i}", "tags": ["a", i]} for i in range(15)]
        col.upsert([str(i) for i in range(10)], vectors[:10], payloads[:10])
        col.flush()
        col.upsert([str(i) for i in range(10, 15)], vectors[10:], payloads[10:])  # growing
        for query in (vectors[3], vectors[12]):
            whole = col.search(query, k=8)
            bare = col.search(query, k=8, payload=False)
            some = col.search(query, k=8, payload=["name", "absent"])
            assert [(h.id, h.score) for h in bare] == [(h.id, h.score) for h in whole]
            assert [h.payload for h in whole] == [payloads[int(h.id)] for h in whole]
            assert all(h.payload == {} for h in bare)
            assert [h.payload for h in some] == [{"name": h.payload["name"]} for h in whole]
        for bad in ("name", 1, ["name", 2]):
            with pytest.raises(InvalidQuery, match="payload"):
                col.search(vectors[0], payload=bad)


def test_small_segments_merge_in_the_background_and_on_compact(tmp_path):
    """Indexes that cannot grow (flat here) merge once four small segments pile up."""
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, index="flat", seal_rows=50, merge_rows=1000)
        for batch in range(3):
            col.upsert([f"{batch}-{i}" for i in range(10)], _vectors(10, seed=batch))
            col.flush()
        assert col.stats()["sealed_segments"] == 3
        col.upsert([f"3-{i}" for i in range(10)], _vectors(10, seed=3))
        col.flush()
        assert col.stats()["sealed_segments"] == 1
        col.upsert([f"4-{i}" for i in range(10)], _vectors(10, seed=4))
        col.flush()
        assert col.stats()["sealed_segments"] == 2
        col.compact()
        assert col.stats()["sealed_segments"] == 1 and col.count() == 50
        query = _vectors(10, seed=4)[2]
        assert col.search(query, k=1)[0].id == "4-2"


def test_second_opener_is_refused_with_the_holder(tmp_path):
    db = Database(tmp_path)
    try:
        with pytest.raises(DatabaseLocked, match=r"process \d+"):
            Database(tmp_path)
    finally:
        db.close()
    Database(tmp_path).close()


def test_collection_catalogue(tmp_path):
    with Database(tmp_path) as db:
        db.create_collection("a", dim=3, metadata={"model": "m"})
        db.create_collection("b", dim=5, metric="l2", index={"type": "flat"})
        with pytest.raises(CollectionExists):
            db.create_collection("a", dim=3)
        assert db.list_collections() == ["a", "b"]
        db.drop_collection("a")
        assert db.list_collections() == ["b"] and "a" not in db
        with pytest.raises(CollectionNotFound):
            db.get_collection("a")
        with pytest.raises(CollectionNotFound):
            db.drop_collection("a")
    with Database(tmp_path) as db:
        col = db.get_collection("b")
        assert (col.dim, col.config.metric) == (5, "l2")


def test_metadata_persists(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=3, metadata={"model": "mini", "dim": 3})
        col.update_metadata({"owner": "me"})
    with Database(tmp_path) as db:
        assert db.get_collection("c").metadata == {"model": "mini", "dim": 3, "owner": "me"}


def test_readers_run_during_writes_and_seals(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=200)
        base = _vectors(50, seed=5)
        col.upsert([f"base{i}" for i in range(50)], base, [{"base": True}] * 50)
        errors: list[BaseException] = []
        stop = threading.Event()

        def reader() -> None:
            try:
                while not stop.is_set():
                    hits = col.search(base[7], k=1, where={"base": True})
                    assert hits[0].id == "base7"
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for batch in range(20):
            col.upsert([f"w{batch}-{i}" for i in range(100)], _vectors(100, seed=100 + batch))
        stop.set()
        for t in threads:
            t.join()
        col.flush()
        assert not errors
        assert col.count() == 2050 and col.stats()["sealed_rows"] == 2050


def test_facet_counts_live_values(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8)
        col.upsert([str(i) for i in range(6)], _vectors(6),
                   [{"src": "a.pdf"}] * 3 + [{"src": "b.md"}] * 2 + [{"src": 3}])
        col.delete(ids=["0"])
        assert col.facet("src") == {"a.pdf": 2, "b.md": 2, 3: 1}
