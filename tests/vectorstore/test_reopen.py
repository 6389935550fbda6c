"""Reopening: a sealed segment's payload index is read from its own files, not rebuilt
from payloads, and a segment written before those files existed still opens, answers
filters and facets, and compacts into segments that carry them."""

import numpy as np

from vectorstore import Database
from vectorstore.payload_slices import FILES

PAYLOADS = [{"color": ["red", "green", "blue"][i % 3], "n": i % 7, "half": i % 2 == 0,
             "date": f"2024-0{1 + i % 9}-01", "tags": ["a", "b"][: i % 3],
             "meta": {"k": i % 4}, "gone": None} for i in range(60)]
FILTERS = [{"color": "red"}, {"n": {"$gte": 2, "$lt": 5}}, {"n": 3.0}, {"half": True},
           {"date": {"$lte": "2024-04-01"}}, {"tags": "b"}, {"meta.k": {"$in": [0, 3]}},
           {"gone": None}, {"tags": {"$exists": False}}, {"$not": {"color": "blue"}},
           {"color": {"$nin": ["red", "green"]}, "n": {"$ne": 1}}]
FIELDS = ["color", "n", "half", "date", "tags", "meta.k", "gone", "missing"]


def _answers(col) -> tuple:
    return ([sorted(r.id for r in col.get(where=w, limit=None)) for w in FILTERS],
            [col.facet(f) for f in FIELDS], col.count())


def _fill(path) -> tuple:
    with Database(path) as db:
        col = db.create_collection("c", dim=4, seal_rows=20)
        vectors = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
        col.upsert([f"r{i}" for i in range(60)], vectors, PAYLOADS)
        col.delete([f"r{i}" for i in range(0, 60, 9)])
        col.flush()
        return _answers(col)


def _segments(path) -> list:
    return sorted((path / "collections" / "c" / "segments").iterdir())


def test_reopened_segments_answer_from_their_payload_slices(tmp_path):
    expected = _fill(tmp_path)
    assert all((seg / name).exists() for seg in _segments(tmp_path) for name in FILES)
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert not col._index.equal and len(col._index.slices) == len(_segments(tmp_path))
        assert _answers(col) == expected


def test_segments_written_without_payload_slices_still_open(tmp_path):
    expected = _fill(tmp_path)
    for seg in _segments(tmp_path):
        for name in FILES:
            (seg / name).unlink()
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert not col._index.slices
        assert _answers(col) == expected
        col.upsert(["new"], np.ones((1, 4), dtype=np.float32), [{"color": "red", "n": 3}])
        col.compact()
        after = _answers(col)
    assert all((seg / name).exists() for seg in _segments(tmp_path) for name in FILES)
    with Database(tmp_path) as db:
        assert _answers(db.get_collection("c")) == after
