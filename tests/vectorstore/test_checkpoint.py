"""Collection.checkpoint: a copy of one moment (sealed segments, WAL, tombstones),
openable on its own, unchanged by later writes to the original."""

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.collection import Collection
from vectorstore.errors import StoreClosed


def test_checkpoint_is_one_moment_and_opens_alone(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    with Database(tmp_path / "db") as db:
        col = db.create_collection("c", dim=8, index="hnsw", seal_rows=100,
                                   metadata={"m": 1})
        col.upsert([f"a{i}" for i in range(250)], vectors[:250], [{"i": i} for i in range(250)])
        col.flush()
        col.upsert([f"b{i}" for i in range(30)], vectors[250:280])  # in the WAL only
        col.delete(ids=["a3", "a140"])
        want = {r.id: r.payload for r in col.get(where={"i": {"$exists": True}}, limit=1000)}
        col.checkpoint(tmp_path / "copy")
        col.upsert(["late"], vectors[299:300])
        col.delete(ids=["a4"])
        col.compact()
        copy = Collection.open(tmp_path / "copy")
        try:
            assert copy.count() == 250 - 2 + 30
            got = {r.id: r.payload for r in copy.get(where={"i": {"$exists": True}}, limit=1000)}
            assert got == want
            assert copy.metadata == {"m": 1}
            hits = copy.search(vectors[10], k=3)
            assert hits[0].id == "a10"
            assert copy.get(["late", "a4"])[0] is None and copy.get(["a4"])[0] is not None
        finally:
            copy.close()
        col.close()
        with pytest.raises(StoreClosed):
            col.checkpoint(tmp_path / "again")
