"""Poison inputs through the library: each is refused whole with a ValueError, or
accepted and then readable, searchable, listable and filterable, also after a reopen.
Nothing acknowledged may break the collection."""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vectorstore import Database
from vectorstore.errors import InvalidFilter, InvalidInput

from .poison import DEEP_FILTERS, FINE_PAYLOADS, POISON_PAYLOADS, as_stored, hostile_payloads

BASE = {"a": {"n": 1}, "b": {"n": 2}}


def _open(path, metric: str = "cosine", seal_rows: int = 4):
    db = Database(path)
    col = db.get_collection("c") if "c" in db else \
        db.create_collection("c", dim=2, metric=metric, seal_rows=seal_rows)
    return db, col


def _intact(col, extra: dict[str, dict] | None = None) -> None:
    """The collection holds BASE (plus `extra`) and every read path works on it."""
    expected = {**BASE, **(extra or {})}
    assert col.count() == len(expected)
    got = col.get(sorted(expected))
    assert [r.payload for r in got] == [expected[rid] for rid in sorted(expected)]
    hits = col.search([1.0, 0.5], k=len(expected) + 3)
    assert {h.id: h.payload for h in hits} == expected
    assert all(np.isfinite(h.score) for h in hits)
    listed = col.get(where={}, limit=None, include_vectors=False)
    assert {r.id: r.payload for r in listed} == expected
    assert col.count({"n": {"$in": [1, 2]}}) == 2
    facet = col.facet("n")
    assert (facet[1], facet[2]) == (1, 1)
    col.stats()


@pytest.fixture
def store(tmp_path):
    db, col = _open(tmp_path)
    col.upsert(list(BASE), [[1, 0], [0, 1]], list(BASE.values()))
    yield tmp_path, db, col
    db.close()


@pytest.mark.parametrize("case", sorted(POISON_PAYLOADS))
def test_poison_payload_is_refused_whole(store, case):
    path, db, col = store
    with pytest.raises(InvalidInput) as info:
        col.upsert(["x", "y"], [[1, 1], [1, 2]], [{"fine": True}, POISON_PAYLOADS[case]])
    message = str(info.value)
    assert message.startswith("payloads[1]"), message
    message.encode("utf-8")  # the message itself is valid Unicode
    _intact(col)
    col.upsert(["z"], [[2, 1]], [{"after": 1}])  # the next write lands normally
    col.flush()
    db.close()
    db, col = _open(path)
    _intact(col, {"z": {"after": 1}})
    db.close()


@pytest.mark.parametrize("case", sorted(FINE_PAYLOADS))
def test_odd_payload_is_stored_and_read_back(store, case):
    path, db, col = store
    payload = FINE_PAYLOADS[case]
    col.upsert(["x"], [[1, 1]], [payload])
    _intact(col, {"x": as_stored(payload)})
    col.flush()
    _intact(col, {"x": as_stored(payload)})
    db.close()
    db, col = _open(path)
    _intact(col, {"x": as_stored(payload)})
    db.close()


@pytest.mark.parametrize("case", ["metadata", "update"])
def test_collection_metadata_is_checked_like_payloads(tmp_path, case):
    with Database(tmp_path) as db:
        if case == "metadata":
            with pytest.raises(InvalidInput, match="metadata.s: invalid Unicode"):
                db.create_collection("c", dim=2, metadata={"s": "\udc00"})
            assert db.list_collections() == []
        else:
            col = db.create_collection("c", dim=2)
            with pytest.raises(InvalidInput, match="metadata.n: integer out of range"):
                col.update_metadata({"n": 10**400})
            assert col.metadata == {}


@pytest.mark.parametrize("case", sorted(DEEP_FILTERS))
def test_deep_filters_are_refused_cleanly(store, case):
    _, _, col = store
    where = DEEP_FILTERS[case]
    for call in (lambda: col.search([1, 0], k=2, where=where), lambda: col.count(where),
                 lambda: col.get(where=where), lambda: col.delete(where=where)):
        with pytest.raises(InvalidFilter, match="nested deeper than 32"):
            call()
    _intact(col)


def test_32_levels_of_filter_are_fine(store):
    _, _, col = store
    where: dict = {"n": 1}
    for _ in range(16):
        where = {"$not": {"$not": where}}
    assert [h.id for h in col.search([1, 0], k=5, where=where)] == ["a"]


@pytest.mark.parametrize("metric", ["dot", "l2"])
@pytest.mark.parametrize("vector", [[3e38, 3e38], [2e18, 0], [1e39, 1]])
def test_vectors_whose_scores_would_overflow_are_refused(tmp_path, metric, vector):
    db, col = _open(tmp_path, metric)
    col.upsert(["a"], [[1, 0]])
    with pytest.raises(InvalidInput, match=r"vectors\[1\]"):
        col.upsert(["ok", "big"], [[1, 1], vector])
    with pytest.raises(InvalidInput, match="query"):
        col.search(vector, k=1)
    assert col.count() == 1
    db.close()


def test_largest_allowed_vectors_score_finitely(tmp_path):
    for metric in ("dot", "l2"):
        with Database(tmp_path / metric) as db:
            col = db.create_collection("c", dim=2, metric=metric, seal_rows=2)
            big = [[1e18, 0], [-7e17, -7e17], [0, 1e18]]
            col.upsert(["a", "b", "c"], big)
            col.flush()
            for query in big:
                hits = col.search(query, k=3)
                assert len(hits) == 3 and all(np.isfinite(h.score) for h in hits)


def test_huge_finite_vectors_are_fine_with_cosine(tmp_path):
    db, col = _open(tmp_path, "cosine")
    col.upsert(["big"], [[3e38, 3e38]])
    (hit,) = col.search([1, 1], k=1)
    assert hit.id == "big" and hit.score == pytest.approx(1.0)
    np.testing.assert_allclose(col.get(["big"])[0].vector, [2**-0.5, 2**-0.5], rtol=1e-6)
    db.close()


def test_ids_are_checked(store):
    _, _, col = store
    for ids, message in [(["\udc00"], r"ids\[0\]: invalid Unicode"),
                         (["x" * 513], r"ids\[0\] has 513 characters")]:
        with pytest.raises(InvalidInput, match=message):
            col.upsert(ids, [[1, 1]])
    col.upsert(["é" * 512], [[1, 1]], [{"n": 3}])
    assert col.get(["é" * 512])[0].payload == {"n": 3}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(batch=st.lists(hostile_payloads, min_size=1, max_size=4))
def test_hostile_payloads_are_refused_or_kept(tmp_path_factory, batch):
    path = tmp_path_factory.mktemp("hostile")
    db, col = _open(path)
    col.upsert(list(BASE), [[1, 0], [0, 1]], list(BASE.values()))
    ids = [f"h{i}" for i in range(len(batch))]
    tagged = [{**p, "tag": i} for i, p in enumerate(batch)]
    try:
        col.upsert(ids, np.ones((len(ids), 2)), tagged)
    except InvalidInput as exc:
        event("refused")
        str(exc).encode("utf-8")
        _intact(col)
        db.close()
        return
    event("accepted")
    expected = {rid: as_stored(p) for rid, p in zip(ids, tagged, strict=True)}
    for i, rid in enumerate(ids):
        assert [r.id for r in col.get(where={"tag": i}, include_vectors=False)] == [rid]
    for attempt in range(2):
        got = col.get(ids, include_vectors=False)
        assert [r.payload for r in got] == [expected[rid] for rid in ids]
        hits = col.search([1, 1], k=10)
        assert {h.id: h.payload for h in hits} == {**BASE, **expected}
        if attempt == 0:
            col.flush()
            db.close()
            db, col = _open(path)
    db.close()
