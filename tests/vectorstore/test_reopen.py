"""Reopening: a sealed segment's payload index is read from its own files, not rebuilt
from payloads, and a segment written before those files existed still opens, answers
filters and facets, and compacts into segments that carry them; every file's checksum
is still verified at open."""

import zlib

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.arrayfile import HEADER, HEADER_SIZE, read_array, write_array
from vectorstore.errors import CorruptFile
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


def test_every_file_is_still_checked_at_open(tmp_path):
    """Reopening is fast without skipping checksums: a flipped byte in the vectors, the
    largest file, still refuses the open and names the file."""
    _fill(tmp_path)
    path = _segments(tmp_path)[0] / "vectors.arr"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10
    path.write_bytes(bytes(data))
    with Database(tmp_path) as db, pytest.raises(CorruptFile, match="vectors.arr"):
        db.get_collection("c")


def test_array_checksums_stay_zlib_crc32(tmp_path):
    """isal computes the array files' CRC-32: the value zlib gives, so files written
    before it and after it read alike."""
    data = np.arange(1000, dtype=np.float32)
    write_array(tmp_path / "a.arr", data)
    crc = HEADER.unpack((tmp_path / "a.arr").read_bytes()[:HEADER_SIZE])[4]
    assert crc == zlib.crc32(data.tobytes())
    assert np.array_equal(read_array(tmp_path / "a.arr"), data)
