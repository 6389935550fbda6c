"""Collections over HTTP: create, list, get, delete, and their errors."""

from dataclasses import asdict

import pytest

from app.client import ApiError
from tests.app.conftest import running
from vectorstore import Database
from vectorstore.config import HnswConfig, IvfPqConfig


def test_create_takes_the_model_dimension_and_records_it(client):
    info = client.create_collection("docs")
    assert (info.dimension, info.metric, info.index["type"]) == (384, "cosine", "hnsw")
    assert info.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert (info.count, info.documents) == (0, 0)
    assert (info.segments, info.growing_rows) == (0, 0)


def test_create_with_dimension_metric_and_index_parameters(client):
    info = client.create_collection(
        "raw", metric="l2", index={"type": "hnsw", "M": 8, "ef_search": 32}, dimension=3
    )
    assert (info.dimension, info.metric, info.model) == (3, "l2", None)
    assert (info.index["M"], info.index["ef_search"]) == (8, 32)
    assert client.create_collection("f", index="flat", dimension=2).index == {"type": "flat"}


def test_omitted_index_parameters_take_the_store_defaults(client):
    info = client.create_collection("pq", index={"type": "ivf_pq", "m": 4}, dimension=8)
    assert info.index == {**asdict(IvfPqConfig()), "m": 4}
    assert client.create_collection("g", index={"type": "hnsw"}, dimension=8).index == \
        asdict(HnswConfig())


def test_list_get_delete(client):
    client.create_collection("a", dimension=2)
    client.create_collection("b", dimension=2)
    client.upsert("b", ["x", "y"], [[1, 0], [0, 1]])
    listed = {c.name: c.count for c in client.list_collections()}
    assert listed == {"a": 0, "b": 2}
    assert client.get_collection("b").count == 2
    client.delete_collection("a")
    assert [c.name for c in client.list_collections()] == ["b"]


def test_statistics_count_sealed_segments_growing_rows_and_bytes(tmp_path, embedder):
    data = tmp_path / "data"
    with Database(data) as db:
        collection = db.create_collection("stats", dim=2, index="flat")
        collection.upsert(["a", "b", "c"], [[1, 0], [0, 1], [1, 1]])
        collection.flush()
        collection.upsert(["d", "e"], [[1, 2], [2, 1]])
        expected = collection.stats()
    with running(data) as client:
        info = client.get_collection("stats")
        assert client.list_collections() == [info]
    assert (info.count, info.segments, info.growing_rows) == (5, 1, 2)
    assert info.disk_bytes == expected["disk_bytes"] > 0


def test_existing_name_is_409(client):
    client.create_collection("docs", dimension=2)
    with pytest.raises(ApiError) as e:
        client.create_collection("docs", dimension=2)
    assert (e.value.status, e.value.code) == (409, "collection_exists")
    assert "already exists" in e.value.detail


@pytest.mark.parametrize("call", ["get", "delete"])
def test_unknown_collection_is_404(client, call):
    with pytest.raises(ApiError) as e:
        getattr(client, f"{call}_collection")("nope")
    assert (e.value.status, e.value.code) == (404, "collection_not_found")
    assert "'nope'" in e.value.detail


@pytest.mark.parametrize(
    "body",
    [
        {"name": "../etc"},
        {"name": ""},
        {"name": "ok", "metric": "hamming"},
        {"name": "ok", "index": "annoy"},
        {"name": "ok", "index": {"type": "hnsw", "M": 1}},
        {"name": "ok", "index": {"type": "hnsw", "bogus": 3}},
        {"name": "ok", "dimension": 0},
    ],
)
def test_bad_create_is_422(http, body):
    response = http.post("/v1/collections", json=body)
    assert response.status_code == 422, response.text


def test_name_the_store_refuses_is_400(http):
    response = http.post("/v1/collections", json={"name": "x.tmp", "dimension": 2})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_config"
