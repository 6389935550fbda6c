"""Atomic replace: `upsert(..., delete=[...])` writes new records and removes old ones
as one batch: one WAL record, one snapshot, all or nothing across crashes."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.errors import InvalidInput

from .replace_writer import DOCS, chunk_ids

ROOT = Path(__file__).resolve().parents[2]


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)


@pytest.fixture
def col(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=4)
        col.upsert(["a", "b", "c"], _vectors(3), [{"v": 1}] * 3)
        yield col


def test_replace_upserts_and_deletes_together(col):
    col.upsert(["b", "d"], _vectors(2, 1), [{"v": 2}] * 2, delete=["a", "b", "missing"])
    assert col.count() == 3
    got = col.get(["a", "b", "c", "d"])
    assert got[0] is None
    assert [r.payload for r in got[1:]] == [{"v": 2}, {"v": 1}, {"v": 2}]
    assert col.count({"v": 1}) == 1
    assert "a" not in {h.id for h in col.search(_vectors(1)[0], k=10)}


def test_delete_alone_and_empty_batches(col):
    col.upsert([], np.zeros((0, 4)), delete=["a", "a", "c"])
    assert col.count() == 1 and col.get(["b"])[0] is not None
    col.upsert([], [], delete=["nothing-here"])
    col.upsert([], [])
    assert col.count() == 1


@pytest.mark.parametrize("delete, message", [
    ("a", "delete must be a list"),
    (["a", ""], r"delete\[1\] must be a non-empty string"),
    (["a", 3], r"delete\[1\]"),
])
def test_bad_delete_list_rejects_the_whole_batch(col, delete, message):
    with pytest.raises(InvalidInput, match=message):
        col.upsert(["new"], _vectors(1), delete=delete)
    assert col.count() == 3 and col.get(["new"]) == [None]


def test_replace_survives_reopen_and_seals(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=5)
        col.upsert([f"old{i}" for i in range(7)], _vectors(7), [{"doc": "d"}] * 7)
        col.flush()
        col.upsert(["new0", "new1"], _vectors(2, 1), [{"doc": "d"}] * 2,
                   delete=[f"old{i}" for i in range(7)])
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        assert sorted(r.id for r in col.get(where={"doc": "d"})) == ["new0", "new1"]
        col.flush()
        col.compact()
        assert col.count() == 2 and col.stats()["deleted_rows"] == 0


def _version(version: int) -> list[str]:
    """5 to 8 chunk ids: a torn replace would show 0 or at least 10 records."""
    return [f"{version}:{j}" for j in range(5 + version % 4)]


def test_readers_see_a_document_before_or_after_a_replace_never_between(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=64)
        col.upsert(_version(0), _vectors(5), [{"doc": 0, "version": 0}] * 5)
        done = threading.Event()
        torn: list[str] = []

        def read() -> None:
            while not done.is_set():
                records = col.get(where={"doc": 0}, limit=None, include_vectors=False)
                versions = {r.payload["version"] for r in records}
                if len(versions) != 1 or \
                        sorted(r.id for r in records) != sorted(_version(versions.pop())):
                    torn.append(f"get: {sorted(r.id for r in records)}")
                hits = col.search(_vectors(1, 5)[0], k=50, where={"doc": 0})
                versions = {h.payload["version"] for h in hits}
                if len(versions) != 1 or len(hits) != len(_version(versions.pop())):
                    torn.append(f"search: {sorted(h.id for h in hits)}")
                if not 5 <= col.count() <= 8 or not 5 <= col.count({"doc": 0}) <= 8:
                    torn.append("count")

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        for version in range(1, 150):
            new = _version(version)
            col.upsert(new, _vectors(len(new), version), [{"doc": 0, "version": version}] *
                       len(new), delete=_version(version - 1))
        done.set()
        for t in readers:
            t.join()
        assert torn == []


def _run_and_kill(path: Path, rng: random.Random) -> dict[int, int]:
    """Start the replace writer, SIGKILL it at a random moment; the last acknowledged
    version of each document."""
    child = subprocess.Popen([sys.executable, "-m", "tests.vectorstore.replace_writer",
                              str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    acked: dict[int, int] = {}
    target, lines = rng.randint(DOCS, 60), 0
    deadline = time.monotonic() + 120
    while (len(acked) < DOCS or lines < target) and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        _, doc, version = line.split()
        acked[int(doc)] = int(version)
        lines += 1
    time.sleep(rng.random() * 0.02)
    child.send_signal(signal.SIGKILL)
    for line in child.stdout.read().splitlines():
        _, doc, version = line.split()
        acked[int(doc)] = int(version)
    child.wait(timeout=30)
    return acked


def test_a_replace_in_flight_at_sigkill_lands_whole_or_not_at_all(tmp_path):
    rng = random.Random(7)
    for _ in range(6):
        acked = _run_and_kill(tmp_path, rng)
        assert len(acked) == DOCS, "writer acknowledged nothing before the deadline"
        with Database(tmp_path) as db:
            col = db.get_collection("c")
            for doc in range(DOCS):
                records = col.get(where={"doc": doc}, limit=None, include_vectors=False)
                versions = {r.payload["version"] for r in records}
                assert len(versions) == 1, f"doc {doc} mixes versions {versions}"
                version = versions.pop()
                assert version in (acked[doc], acked[doc] + 1), (doc, version, acked)
                assert sorted(r.id for r in records) == sorted(chunk_ids(doc, version))
            assert col.count() == sum(len(chunk_ids(d, v)) for d, v in
                                      ((d, col.get(where={"doc": d}, limit=1)[0]
                                        .payload["version"]) for d in range(DOCS)))


def test_get_by_id_pairs_every_id_with_its_own_record_during_writes(tmp_path):
    """get(ids) reads the id map of its snapshot, never the live one (which once paired
    ids with other records, or raised StopIteration, during a concurrent upsert)."""
    ids = [f"k{i}" for i in range(40)]
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=30)
        col.upsert(ids, _vectors(40), [{"id": rid, "v": 0} for rid in ids])
        done = threading.Event()
        problems: list[str] = []

        def read() -> None:
            seen = dict.fromkeys(ids, 0)
            while not done.is_set():
                for rid, record in zip(ids, col.get(ids, include_vectors=False), strict=True):
                    if record is None or record.id != rid or record.payload["id"] != rid:
                        problems.append(f"{rid} -> {record}")
                    elif record.payload["v"] < seen[rid]:
                        problems.append(f"{rid} went back to version {record.payload['v']}")
                    else:
                        seen[rid] = record.payload["v"]
                facet = col.facet("id")
                if len(facet) != len(ids) or set(facet.values()) != {1}:
                    problems.append(f"facet {facet}")

        readers = [threading.Thread(target=read) for _ in range(2)]
        for t in readers:
            t.start()
        for version in range(1, 120):
            chosen = ids[version % 7::7]
            col.upsert(chosen, _vectors(len(chosen), version),
                       [{"id": rid, "v": version} for rid in chosen])
        done.set()
        for t in readers:
            t.join()
        assert problems == []
