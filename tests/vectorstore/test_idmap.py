"""The id map against a dict: every view answers as the map did when it was taken,
however many changes, folds and views came after."""

import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorstore import idmap
from vectorstore.idmap import IdMap
from vectorstore.idtable import IdTable

IDS = [f"r{i}" for i in range(12)]

changes = st.lists(  # batches of (id, row or None), a view taken after some of them
    st.tuples(st.lists(st.tuples(st.sampled_from(IDS), st.none() | st.integers(0, 99)),
                       max_size=6),
              st.booleans()),
    max_size=40)


@pytest.mark.parametrize("fold_min", [1, 3, 1000])  # fold often, sometimes never
def test_views_answer_as_of_their_moment(monkeypatch, fold_min):
    monkeypatch.setattr(idmap, "_FOLD_MIN", fold_min)
    check_views()


@settings(max_examples=200, deadline=None)
@given(loaded=st.lists(st.sampled_from(IDS), unique=True, max_size=6), batches=changes)
def check_views(loaded, batches):
    ids = IdMap()
    ids.load(IdTable.from_pairs((rid, 1000 + i) for i, rid in enumerate(loaded)))
    oracle = {rid: 1000 + i for i, rid in enumerate(loaded)}
    views = [(ids.view(), dict(oracle))]
    for batch, take_view in batches:
        olds = ids.set_many([rid for rid, _ in batch], [row for _, row in batch])
        for (rid, row), old in zip(batch, olds, strict=True):
            assert old == oracle.get(rid)
            if row is None:
                oracle.pop(rid, None)
            else:
                oracle[rid] = row
        assert len(ids) == len(oracle)
        assert all(ids.get(rid) == oracle.get(rid) for rid in IDS)
        if take_view:
            views.append((ids.view(), dict(oracle)))
    for view, then in views:
        assert len(view) == len(then)
        assert all(view.get(rid) == then.get(rid) for rid in IDS)


def test_set_is_set_many_of_one():
    ids = IdMap()
    assert ids.set("a", 1) is None and ids.set("a", None) == 1 and "a" not in ids


def test_a_view_read_while_the_writer_changes_its_ids():
    """Readers look ids up in their views while the writer changes the same ids (and
    folds them into new bases): a view must answer as of its moment throughout, never
    fail, never see a base changed under it. Thread
    switches are forced as often as the interpreter allows, for a bounded count of
    changes."""
    ids = IdMap()
    ids.load(IdTable.from_pairs([("a", 0), ("b", 1)]))
    view = ids.view()
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                assert (view.get("a"), view.get("b"), len(view)) == (0, 1, 2)
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=read)
    try:
        reader.start()
        for i in range(20_000):
            ids.set_many(["a", "b"], [i + 2, i + 3])
    finally:
        stop.set()
        reader.join(30)
        sys.setswitchinterval(interval)
    assert errors == []
