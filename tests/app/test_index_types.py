"""Every index type over HTTP: created with its parameters, searched on sealed segments
with its per-call knobs and a filter, bad knobs refused with a 4xx."""

from dataclasses import asdict

import numpy as np
import pytest

from app.client import ApiError
from tests.app.conftest import running
from vectorstore import Database
from vectorstore.config import INDEX_CONFIGS, parse_index_config

KNOBS = {
    "flat": {}, "hnsw": {"ef": 32}, "ivf_pq": {"nprobe": 8, "rerank": 4},
    "hnsw_sq8": {"ef": 32, "rerank": 4}, "lsh": {"bits": 64, "rerank": 20},
    "rp_forest": {"search_k": 400, "trees": 4}, "diskann": {"L_search": 32, "W": 2},
}
PARAMETERS = {
    "hnsw_sq8": {"M": 8, "rerank": 3, "quantile": 0.999},
    "lsh": {"bits": 128, "tables": 2, "probes": 8},
    "rp_forest": {"trees": 8, "leaf_size": 16},
    "diskann": {"R": 8, "L": 16, "L_search": 24, "io": "mmap"},
}


def test_every_store_index_type_has_a_knob_set_here() -> None:
    assert set(KNOBS) == set(INDEX_CONFIGS)


@pytest.mark.parametrize("kind", sorted(PARAMETERS))
def test_create_with_index_parameters(client, kind: str) -> None:
    info = client.create_collection(kind, index={"type": kind, **PARAMETERS[kind]},
                                    dimension=8)
    assert info.index == asdict(parse_index_config({"type": kind, **PARAMETERS[kind]}))
    assert client.create_collection(f"{kind}-plain", index=kind, dimension=8).index == \
        asdict(INDEX_CONFIGS[kind]())


@pytest.mark.parametrize("kind", sorted(INDEX_CONFIGS))
def test_sealed_segments_answer_with_knobs_and_filters(tmp_path, embedder, kind: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(600, 16)).astype(np.float32)
    with Database(tmp_path / "data") as db:
        col = db.create_collection("c", dim=16, index=kind, seal_rows=300, merge_rows=300)
        for start, end in ((0, 300), (300, 400)):  # a full segment and a small one: two
            rows = range(start, end)                # (two full hnsw ones would grow into one)
            col.upsert([f"r{i}" for i in rows], vectors[start:end],
                       [{"even": i % 2 == 0} for i in rows])
        col.flush()
        assert col.stats()["sealed_segments"] == 2
    with running(tmp_path / "data") as client:
        hits = client.search("c", vector=vectors[7].tolist(), k=5, params=KNOBS[kind]).hits
        assert hits[0].id == "r7"
        odd = client.search("c", vector=vectors[8].tolist(), k=5, where={"even": False},
                            params=KNOBS[kind]).hits
        assert len(odd) == 5 and all(int(h.id[1:]) % 2 for h in odd)


@pytest.mark.parametrize(("kind", "params"), [
    ("lsh", {"bits": 100}), ("lsh", {"rerank": 0}), ("hnsw_sq8", {"rerank": 0}),
    ("rp_forest", {"search_k": 0}), ("lsh", {"probes": 2}), ("diskann", {"rerank": 2}),
    ("diskann", {"W": 0}),
])
def test_bad_knobs_are_refused(tmp_path, embedder, kind: str, params: dict) -> None:
    with Database(tmp_path / "data") as db:
        col = db.create_collection("c", dim=4, index=kind, seal_rows=50)
        col.upsert([f"r{i}" for i in range(60)], np.eye(4, dtype=np.float32)[np.arange(60) % 4])
        col.flush()
    with running(tmp_path / "data") as client, pytest.raises(ApiError) as err:
        client.search("c", vector=[1, 0, 0, 0], k=3, params=params)
    assert err.value.status in (400, 422)


def test_diskann_caches_follow_the_servers_memory_budget(tmp_path, embedder) -> None:
    """SLEUTH_MEMORY_BUDGET reaches the store: a diskann collection's resident bytes
    (node cache included) grow with the budget and stay within it."""
    vectors = np.random.default_rng(1).normal(size=(2400, 16)).astype(np.float32)
    with Database(tmp_path / "data") as db:
        col = db.create_collection("c", dim=16, index="diskann", seal_rows=1200)
        for start in (0, 1200):
            col.upsert([f"r{i}" for i in range(start, start + 1200)],
                       vectors[start:start + 1200])
        col.flush()
        assert col.stats()["sealed_segments"] == 2
    resident = []
    for budget in (200_000, 600_000):
        with running(tmp_path / "data", memory_budget=budget) as client:
            resident.append(client.get_collection("c").resident_bytes)
            assert client.search("c", vector=vectors[5].tolist(), k=1).hits[0].id == "r5"
    assert resident[0] <= 200_000 and resident[1] <= 600_000, resident
    assert resident[1] > resident[0] + 300_000, resident
