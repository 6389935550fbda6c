"""Poison inputs through HTTP: each is refused with a 4xx and a JSON error, or accepted
and then searchable, listed and still so after a restart; /v1/collections, /metrics and
/health never answer 500, and neither does anything else."""

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.app.conftest import running
from tests.vectorstore.poison import (
    DEEP_FILTERS,
    as_stored,
    deep_filter_text,
    hostile_payloads,
    nested,
)

PROVENANCE = {"text", "doc_id", "source", "filename", "title", "page", "heading_path", "start",
              "end", "chunk_index"}

POISON_TEXT = {
    "int beyond float range": '{"n": 1' + "0" * 400 + "}",
    "int beyond 2**53": '{"n": 9007199254740993}',
    "nested 950 deep": '{"d": ' + "[" * 950 + "]" * 950 + "}",
    "nested 255 deep": '{"d": ' + "[" * 255 + "]" * 255 + "}",
    "nested 5000 deep": '{"d": ' + "[" * 5000 + "]" * 5000 + "}",
    "nested objects 2000 deep": '{"d": ' + '{"a": ' * 2000 + "1" + "}" * 2000 + "}",
    "lone surrogate value": '{"s": "\\udc00"}',
    "lone surrogate key": '{"\\ud800": 1}',
    "NaN": '{"x": NaN}',
    "Infinity": '{"x": -Infinity}',
    "huge string": '{"s": "' + "x" * (1 << 20) + '"}',
}


def _post(http, path: str, text: str):
    return http.post(path, content=text.encode(), headers={"content-type": "application/json"})


def _upsert_text(payload_text: str, vector: str = "[1, 1]") -> str:
    return ('{"records": [{"id": "ok", "vector": [1, 0], "payload": {"fine": true}}, '
            f'{{"id": "x", "vector": {vector}, "payload": {payload_text}}}]}}')


def _refused(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.json()["detail"]


def _healthy(http, collection: str, expected: dict[str, dict]) -> None:
    """Every read answers, and the collection holds exactly `expected` (id -> payload)."""
    assert http.get("/v1/collections").status_code == 200
    assert http.get("/metrics").status_code == 200
    assert http.get("/health").status_code == 200
    info = http.get(f"/v1/collections/{collection}")
    assert info.status_code == 200 and info.json()["count"] == len(expected)
    assert http.get(f"/v1/collections/{collection}/documents").status_code == 200
    found = http.post(f"/v1/collections/{collection}/search",
                      json={"vector": [1, 1], "k": len(expected) + 5})
    assert found.status_code == 200, found.text[:300]
    hits = {h["id"]: h for h in found.json()["hits"]}
    assert set(hits) == set(expected)
    for rid, payload in expected.items():
        assert hits[rid]["score"] is not None
        assert hits[rid]["metadata"] == {k: v for k, v in payload.items() if k not in PROVENANCE}


BASE = {"a": {"n": 1}, "b": {"n": 2}}


@pytest.fixture
def served(tmp_path, embedder):
    """A server with collection 'raw' (dot metric) holding BASE."""
    with running(tmp_path / "data") as client:
        http = client._http
        assert http.post("/v1/collections", json={"name": "raw", "dimension": 2,
                                                  "metric": "dot"}).status_code == 201
        client.upsert("raw", list(BASE), [[1, 0], [0, 1]], list(BASE.values()))
        yield http


@pytest.mark.parametrize("case", sorted(POISON_TEXT))
def test_poison_payload_is_refused_over_http(served, case):
    _refused(_post(served, "/v1/collections/raw/records", _upsert_text(POISON_TEXT[case])))
    _healthy(served, "raw", BASE)


@pytest.mark.parametrize("vector", ["[3e38, 3e38]", "[1e39, 0]", "[2e18, 0]"])
def test_vectors_whose_scores_overflow_are_refused_over_http(served, vector):
    _refused(_post(served, "/v1/collections/raw/records", _upsert_text("{}", vector)))
    _refused(_post(served, "/v1/collections/raw/search", f'{{"vector": {vector}}}'))
    _healthy(served, "raw", BASE)


@pytest.mark.parametrize("case", sorted(DEEP_FILTERS))
def test_deep_filters_are_refused_over_http(served, case):
    op, _, depth = case.split()
    where = deep_filter_text(int(depth), op)
    _refused(_post(served, "/v1/collections/raw/search", f'{{"vector": [1, 0], "where": {where}}}'))
    _refused(_post(served, "/v1/collections/raw/records/delete", f'{{"where": {where}}}'))
    _healthy(served, "raw", BASE)


def test_document_fields_of_any_type_list_cleanly(served):
    odd = {"doc_id": "d", "chunk_index": 0, "title": 5, "size": "big", "mtime": "x",
           "filename": ["a"], "source": {"p": 1}, "author": 3, "page": "two"}
    assert _post(served, "/v1/collections/raw/records",
                 json.dumps({"records": [{"id": "d:0", "vector": [1, 1], "payload": odd}]})
                 ).status_code == 200
    listed = served.get("/v1/collections/raw/documents")
    assert listed.status_code == 200 and [d["id"] for d in listed.json()["documents"]] == ["d"]
    assert served.get("/v1/collections/raw/documents/d").status_code == 200
    _healthy(served, "raw", {**BASE, "d:0": odd})


def test_nested_payloads_within_limits_come_back_whole(tmp_path, embedder):
    payload = {"deep": nested(30), "n": 2**53 - 1, "s": "\x00\u202e🦀", "": 1}
    body = json.dumps({"records": [{"id": "x", "vector": [1, 1], "payload": payload}]})
    with running(tmp_path / "data") as client:
        client.create_collection("raw", dimension=2)
        assert _post(client._http, "/v1/collections/raw/records", body).status_code == 200
        _healthy(client._http, "raw", {"x": payload})
    with running(tmp_path / "data") as client:
        _healthy(client._http, "raw", {"x": payload})


def test_hostile_payloads_over_http_and_after_restart(tmp_path, embedder):
    kept: dict[str, dict[str, dict]] = {}
    names = iter(range(10**6))

    with running(tmp_path / "data") as client:
        http = client._http

        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(batch=st.lists(hostile_payloads, min_size=1, max_size=3))
        def check(batch: list[dict]) -> None:
            name = f"h{next(names)}"
            assert http.post("/v1/collections", json={"name": name, "dimension": 2}
                             ).status_code == 201
            records = [{"id": f"r{i}", "vector": [1, 1 + i], "payload": p}
                       for i, p in enumerate(batch)]
            text = json.dumps({"records": records})  # big ints, NaN, \\udc00 escapes pass
            response = _post(http, f"/v1/collections/{name}/records", text)
            if response.status_code == 200:
                event("accepted")
                kept[name] = {r["id"]: as_stored(r["payload"]) for r in records}
                _healthy(http, name, kept[name])
            else:
                event("refused")
                _refused(response)
                _healthy(http, name, {})
                assert http.delete(f"/v1/collections/{name}").status_code == 204

        check()

    assert kept, "no hostile batch was accepted: the strategy tests nothing"
    with running(tmp_path / "data") as client:
        for name, expected in kept.items():
            _healthy(client._http, name, expected)
