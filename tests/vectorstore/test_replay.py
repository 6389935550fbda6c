"""Replay never refuses to open a collection: a WAL record it cannot decode or apply (as
older versions could log: integers beyond float range, payloads nested ~950 deep, a
lone surrogate, bytes that are not JSON) is quarantined with its reason, the records
around it are applied, and its row ids are never reused. And applying a batch that
fails halfway is rolled back whole."""

import json
import logging

import numpy as np
import pytest

from vectorstore import Database, payloads
from vectorstore.records import UPSERT_HEAD
from vectorstore.wal import WriteAheadLog

DIM = 2


def _raw_upsert(first_rowid: int, ids: list[str], meta_text: bytes) -> bytes:
    vectors = np.ones((len(ids), DIM), dtype=np.float32)
    return UPSERT_HEAD.pack(b"U", len(ids), DIM, first_rowid, len(meta_text)) + meta_text + \
        vectors.tobytes()


def _meta(ids: list[str], payload_text: str) -> bytes:
    return f'{{"ids": {json.dumps(ids)}, "payloads": [{payload_text}]}}'.encode()


POISON = {
    "int beyond float range": _meta(["p1"], '{"n": 1' + "0" * 400 + "}"),
    "nested 950 deep": _meta(["p2"], '{"d": ' + "[" * 950 + "]" * 950 + "}"),
    "nested 5000 deep": _meta(["p3"], '{"d": ' + "[" * 5000 + "]" * 5000 + "}"),
    "lone surrogate": _meta(["p4"], '{"s": "\\udc00"}'),
    "not json": b"\xff\xfe not json at all",
}


def test_poison_records_are_quarantined_and_the_collection_opens(tmp_path, caplog):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=DIM)
        col.upsert(["a"], [[1, 0]], [{"n": 1}])
    wal = WriteAheadLog(tmp_path / "collections/c/wal", 64 << 20)
    list(wal.recover(0))
    for row, meta in enumerate(POISON.values(), start=100):
        wal.append(_raw_upsert(row * 10, [f"x{row}"], meta))
    wal.append(_raw_upsert(5000, ["b"], _meta(["b"], '{"n": 2}')))
    wal.close()

    caplog.set_level(logging.ERROR, "vectorstore.collection")
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert col.count() == 2
        assert [r.payload for r in col.get(["a", "b"])] == [{"n": 1}, {"n": 2}]
        stats = col.stats()
        assert stats["quarantined"] == len(POISON) and stats["health"] == "degraded"
        assert "quarantined" in stats["health_reason"]
        reasons = sorted((tmp_path / "collections/c/quarantine").glob("*.txt"))
        assert len(reasons) == len(POISON)
        text = " ".join(path.read_text() for path in reasons)
        assert "fails the write checks: payloads[0].n: integer out of range" in text
        assert "fails the write checks: payloads[0].s: invalid Unicode" in text
        assert text.count("undecodable record: RecursionError") == 2  # the nested ones
        assert "undecodable record: JSONDecodeError" in text
        assert caplog.text.count("quarantined") == len(POISON)
        col.upsert(["c"], [[0, 1]], [{"n": 3}])
        assert col.count() == 3
        assert {h.id for h in col.search([1, 1], k=5)} == {"a", "b", "c"}
        col.flush()
    with Database(tmp_path) as db:  # the poison was checkpointed away with the seal
        col = db.get_collection("c")
        assert col.count() == 3 and col.stats()["quarantined"] == 0


def test_a_batch_failing_halfway_through_applying_is_rolled_back_whole(tmp_path, monkeypatch):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=DIM)
        col.upsert(["a", "b"], [[1, 0], [0, 1]], [{"n": 1}, {"n": 2}])
        real = payloads.PayloadIndex.add

        def fail_on_boom(self, first_row, batch):
            if any("boom" in p for p in batch):
                raise MemoryError("injected while indexing")
            return real(self, first_row, batch)

        monkeypatch.setattr(payloads.PayloadIndex, "add", fail_on_boom)
        with pytest.raises(MemoryError, match="injected"):
            col.upsert(["a", "new"], [[5, 5], [6, 6]], [{"n": 10}, {"boom": 1}],
                       delete=["b"])
        assert col.count() == 2
        assert [r.payload for r in col.get(["a", "b"])] == [{"n": 1}, {"n": 2}]
        assert col.get(["new"]) == [None]
        assert col.count({"n": 10}) == 0 and col.count({"n": {"$in": [1, 2]}}) == 2
        col.upsert(["c"], [[1, 1]], [{"n": 3}])  # the rows it had taken are reused cleanly
        assert col.count() == 3 and col.count({"n": 3}) == 1
    monkeypatch.undo()
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert sorted(r.id for r in col.get(where={}, limit=None)) == ["a", "b", "c"]
        assert col.get(["a"])[0].payload == {"n": 1}
