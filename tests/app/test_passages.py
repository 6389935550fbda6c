"""Reading chunks back by id: a passage with its neighbours, and raw records by id."""

from app.client import ApiError
from tests.app.conftest import ingest_text_docs


def test_passage_comes_with_its_neighbours_in_document_order(client):
    client.create_collection("raw", dimension=2, index="flat")
    chunks = [{"doc_id": "d", "chunk_index": i, "text": f"part {i}"} for i in range(5)]
    client.upsert("raw", [f"d:{i}" for i in range(5)], [[1, i] for i in range(5)], chunks)
    client.upsert("raw", ["other:2"], [[0, 1]], [{"doc_id": "e", "chunk_index": 2}])

    passage = client.get_passage("raw", "d:2", context=1)
    assert passage.passage.text == "part 2"
    assert [c.id for c in passage.before] == ["d:1"]
    assert [c.id for c in passage.after] == ["d:3"]
    wide = client.get_passage("raw", "d:1", context=10)
    assert [c.id for c in wide.before] == ["d:0"]
    assert [c.id for c in wide.after] == ["d:2", "d:3", "d:4"]
    alone = client.get_passage("raw", "d:2", context=0)
    assert alone.before == alone.after == []


def test_passage_errors(ingested):
    hit = ingested.search("docs", "purring animals", k=1).hits[0]
    for collection, passage_id, context, status, message in [
        ("docs", "missing", 1, 404, "passage 'missing' not found in collection 'docs'"),
        ("nope", hit.id, 1, 404, "collection 'nope' not found"),
        ("docs", hit.id, 11, 422, None),
        ("docs", hit.id, -1, 422, None),
    ]:
        try:
            ingested.get_passage(collection, passage_id, context)
        except ApiError as e:
            assert e.status == status
            assert message is None or e.detail == message
        else:
            raise AssertionError(f"{collection}/{passage_id} answered")


def test_records_by_id_in_the_order_asked_with_vectors_when_asked(client):
    client.create_collection("raw", dimension=2, metric="l2", index="flat")
    client.upsert("raw", ["a", "b"], [[1, 2], [3, 4]], [{"n": 1}, {"n": 2}])
    found = client.get_records("raw", ["b", "missing", "a"])
    assert [(r.id, r.payload, r.vector) for r in found] == [("b", {"n": 2}, None),
                                                          ("a", {"n": 1}, None)]
    assert [r.vector for r in client.get_records("raw", ["a"], include_vectors=True)] == [[1, 2]]


def test_ingested_passage_matches_its_search_hit(client):
    ingest_text_docs(client)
    hit = client.search("docs", "purring animals", k=1).hits[0]
    passage = client.get_passage("docs", hit.id)
    chunk_fields = set(type(passage.passage).model_fields)
    assert passage.passage.model_dump() == hit.model_dump(include=chunk_fields)
    assert passage.before == passage.after == []  # each text doc is one chunk


def test_records_by_filter_page_through_in_insertion_order(client):
    client.create_collection("raw", dimension=2, index="flat")
    client.upsert("raw", [f"r{i}" for i in range(5)], [[1, i] for i in range(5)],
                  [{"even": i % 2 == 0} for i in range(5)])
    page = client.get_records("raw", where={"even": True}, limit=2, offset=1)
    assert [r.id for r in page] == ["r2", "r4"]
    for body in ({}, {"ids": ["r1"], "where": {"even": True}}, {"where": {"even": True},
                                                                 "limit": 0}):
        assert client._http.post("/v1/collections/raw/records/get", json=body).status_code == 422
    refused = client._http.post("/v1/collections/raw/records/get",
                                json={"where": {"even": {"$bad": 1}}})
    assert refused.status_code == 400 and "where.even.$bad" in refused.json()["detail"]


def test_booleans_are_not_numbers(client):
    """JSON true/false where the schema says integer: 422, not 1 or 0."""
    http = client._http
    made = http.post("/v1/collections", json={"name": "pq", "dimension": 8,
                                              "index": {"type": "ivf_pq", "nlist": False}})
    assert made.status_code == 422 and "nlist: Input should be a number" in made.text
    client.create_collection("raw", dimension=2, index="flat")
    paged = http.post("/v1/collections/raw/records/get", json={"where": {}, "limit": True})
    assert paged.status_code == 422 and "limit: Input should be a number" in paged.text
    assert http.post("/v1/collections/raw/records/get",
                     json={"where": {}, "limit": 1}).status_code == 200
