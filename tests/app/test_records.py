"""Raw records over HTTP: upsert and delete with payloads, dimension checked."""

import pytest

from app.client import ApiError


@pytest.fixture
def raw(client):
    client.create_collection("raw", dimension=2, index="flat")
    return client


def test_upsert_replace_and_delete_by_id_and_filter(raw):
    assert raw.upsert("raw", ["a", "b", "c"], [[1, 0], [0, 1], [1, 1]],
                      [{"g": 1}, {"g": 2}, {"g": 2}]) == 3
    assert raw.upsert("raw", ["a"], [[0, 1]], [{"g": 3}]) == 1
    assert raw.get_collection("raw").count == 3
    assert raw.search("raw", vector=[0, 1], k=1).hits[0].metadata in ({"g": 3}, {"g": 2})
    assert raw.delete_records("raw", ids=["a", "zzz"]) == 1
    assert raw.delete_records("raw", where={"g": 2}) == 2
    assert raw.get_collection("raw").count == 0


def test_wrong_dimension_is_400_and_nothing_written(raw):
    with pytest.raises(ApiError) as e:
        raw.upsert("raw", ["a", "b"], [[1, 0], [1, 0, 0]])
    assert (e.value.status, e.value.code) == (400, "dimension_mismatch")
    assert "records[1]" in e.value.detail
    assert raw.get_collection("raw").count == 0


def test_bad_payload_or_ids_are_400(raw, http):
    dup = {"records": [{"id": "a", "vector": [1, 0]}, {"id": "a", "vector": [0, 1]}]}
    response = http.post("/v1/collections/raw/records", json=dup)
    assert response.status_code == 400 and "twice" in response.json()["detail"]


def test_malformed_delete_filter_is_400(raw, http):
    response = http.post("/v1/collections/raw/records/delete", json={"where": {"$nope": 1}})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("records", {"records": []}),
        ("records", {"records": [{"id": "", "vector": [1, 0]}]}),
        ("records", {"records": [{"id": "a"}]}),
        ("records/delete", {}),
        ("records/delete", {"ids": ["a"], "where": {"g": 1}}),
    ],
)
def test_invalid_request_is_422(raw, http, path, body):
    assert http.post(f"/v1/collections/raw/{path}", json=body).status_code == 422


def test_unknown_collection_is_404(client):
    with pytest.raises(ApiError) as e:
        client.upsert("nope", ["a"], [[1.0]])
    assert e.value.status == 404
