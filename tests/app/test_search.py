"""Search over HTTP: by text, by vector, filtered, batched, and every bad input."""

from types import SimpleNamespace

import pytest

from app.client import ApiError
from app.schemas.search import SearchRequest
from app.search import is_quick
from tests.app.conftest import TEXT_DOCS, ingest_text_docs, running


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, embedder):
    """One app with the TEXT_DOCS for the whole module: these tests only read."""
    with running(tmp_path_factory.mktemp("search") / "data") as client:
        yield ingest_text_docs(client)


@pytest.fixture
def http(ingested):
    return ingested._http


def test_text_search_returns_provenance(ingested):
    hits = ingested.search("docs", "which animal purrs?", k=3).hits
    best = hits[0]
    assert best.filename == "cats.md" and "purr" in best.text
    assert best.heading_path == ["Cats"]
    assert best.document_id and best.source.endswith(".md")
    assert 0 <= best.start < best.end and best.chunk_index == 0
    assert best.metadata["file_type"] == "markdown"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_where_filter_restricts_hits(ingested):
    hits = ingested.search("docs", "animals", k=5, where={"file_type": "html"}).hits
    assert [h.filename for h in hits] == ["bread.html"]


def test_vector_search_and_params(ingested):
    client = ingested
    client.create_collection("raw", dimension=3, index="flat")
    client.upsert("raw", ["a", "b", "c"], [[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0]],
                  [{"text": "alpha", "page": 2}, {"text": "beta"}, {"text": "gamma", "tag": "x"}])
    hits = client.search("raw", vector=[1, 0, 0], k=2, params={"ef": 16}).hits
    assert [h.id for h in hits] == ["a", "c"]
    assert (hits[0].text, hits[0].page, hits[0].document_id) == ("alpha", 2, None)
    assert hits[1].metadata == {"tag": "x"}


@pytest.mark.parametrize(
    ("index", "fields", "quick"),
    [
        ("hnsw", {}, True),
        ("hnsw", {"k": 100}, True),
        ("hnsw", {"k": 101}, False),
        ("hnsw", {"where": {"page": 1}}, False),
        ("hnsw", {"params": {"ef": 512}}, False),
        ("flat", {}, False),
        ("ivf_pq", {}, False),
    ],
)
def test_only_plain_hnsw_vector_searches_are_quick(index, fields, quick):
    collection = SimpleNamespace(config=SimpleNamespace(index=SimpleNamespace(type=index)))
    request = SearchRequest.model_validate({"vector": [1.0, 0.0], **fields})
    assert is_quick(collection, request) is quick
    assert not is_quick(collection, SearchRequest(query="a text query"))


def test_loop_and_pool_searches_agree(ingested):
    """A plain vector search (answered on the event loop) equals the same search under a
    filter every record matches (answered in the thread pool)."""
    client = ingested
    client.create_collection("loop", dimension=3)
    vectors = [[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0], [0.5, 0.5, 0.1], [0, 0, 1]]
    client.upsert("loop", list("abcde"), vectors, [{"all": True}] * 5)
    quick = client.search("loop", vector=[1, 0.2, 0], k=3).hits
    pooled = client.search("loop", vector=[1, 0.2, 0], k=3, where={"all": True}).hits
    assert [h.id for h in quick] == ["c", "a", "d"]
    assert [(h.id, h.score) for h in quick] == [(h.id, h.score) for h in pooled]


def test_batch_mixes_text_and_vector(ingested):
    vector = ingested.search("docs", "rocket thrust", k=1).hits[0]
    batch = ingested.search_batch(
        "docs", [{"query": "baking bread", "k": 1}, {"query": "orbit", "k": 2}]
    ).results
    assert batch[0].hits[0].filename == "bread.html"
    assert batch[1].hits[0].id == vector.id


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ({"$foo": 1}, "$foo"),
        ({"page": {"$gte": [1]}}, "page"),
        ({"page": {"$in": 3}}, "page"),
        ({"$or": {"a": 1}}, "$or"),
    ],
)
def test_malformed_filter_is_400(ingested, where, fragment):
    with pytest.raises(ApiError) as e:
        ingested.search("docs", "cats", where=where)
    assert (e.value.status, e.value.code) == (400, "invalid_filter")
    assert fragment in e.value.detail


def test_wrong_dimension_is_400(ingested):
    with pytest.raises(ApiError) as e:
        ingested.search("docs", vector=[0.1] * 5)
    assert (e.value.status, e.value.code) == (400, "dimension_mismatch")
    assert "384" in e.value.detail


def test_unknown_collection_is_404(ingested):
    with pytest.raises(ApiError) as e:
        ingested.search("nope", "anything")
    assert e.value.status == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"query": ""},
        {"query": "a", "k": 0},
        {"query": "a", "k": 100_000},
        {"query": "a", "where": [1, 2]},
        {"query": "a", "params": {"ef": 0}},
        {"query": "a", "extra": 1},
        {"vector": []},
        {"vector": ["x"]},
    ],
)
def test_invalid_request_is_422(ingested, http, body):
    assert http.post("/v1/collections/docs/search", json=body).status_code == 422


def test_non_finite_vector_is_rejected(ingested, http):
    content = '{"vector": [NaN' + ", 0.0" * 383 + "]}"
    response = http.post(
        "/v1/collections/docs/search", content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid" and error["loc"] == ["body", 12]
    assert error["msg"].startswith("JSON decode error: ")


def test_malformed_json_is_422(ingested, http):
    response = http.post(
        "/v1/collections/docs/search", content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


def test_a_text_query_is_hybrid_by_default(ingested):
    hits = ingested.search("docs", "purr", k=3).hits
    assert hits[0].filename == "cats.md"
    assert hits[0].vector_rank is not None and hits[0].text_rank == 1
    assert hits[0].score not in (hits[0].vector_score, hits[0].text_score)
    assert ingested.search("docs", "purr", k=3, mode="hybrid").hits == hits
    assert len(hits) == 3  # the vector ranking brings the chunks without the word


def test_text_and_vector_modes(ingested):
    text = ingested.search("docs", "yeast flour", k=3, mode="text").hits
    assert [h.filename for h in text] == ["bread.html"]
    assert text[0].score == text[0].text_score and text[0].vector_rank is None
    vector = ingested.search("docs", "yeast flour", k=3, mode="vector").hits
    assert len(vector) == 3 and all(h.text_rank is None for h in vector)
    assert vector[0].score == vector[0].vector_score


def test_a_query_with_the_vector_its_caller_embedded(ingested, embedder):
    """An application with its own model sends its embedding of the query with it: the
    vector side searches that vector (here, one of another question), the text side the
    query's words."""
    bread = embedder.embed_query("what is bread made of?").tolist()
    vector = ingested.search("docs", "purr", vector=bread, k=3, mode="vector").hits
    assert vector[0].filename == "bread.html"
    assert [h.id for h in vector] == \
        [h.id for h in ingested.search("docs", vector=bread, k=3).hits]
    hybrid = ingested.search("docs", "purr", vector=bread, k=3).hits
    assert {h.filename for h in hybrid if h.text_rank == 1} == {"cats.md"}
    assert {h.filename for h in hybrid if h.vector_rank == 1} == {"bread.html"}
    text = ingested.search("docs", "purr", vector=bread, k=3, mode="text").hits
    assert text == ingested.search("docs", "purr", k=3, mode="text").hits
    with pytest.raises(ApiError) as e:
        ingested.search("docs", "purr", vector=[1.0], k=3)
    assert e.value.status == 400 and "dimension" in e.value.detail


def test_fusion_knobs_reach_the_store(ingested):
    blend = ingested.search("docs", "purr", k=3, fusion={"method": "blend", "text_weight": 1,
                                                         "coverage": False}).hits
    assert blend[0].filename == "cats.md" and blend[0].score == pytest.approx(2.0)
    only_vector = ingested.search("docs", "purr", k=3, fusion={"text_weight": 0}).hits
    vector = ingested.search("docs", "purr", k=3, mode="vector").hits
    assert [h.id for h in only_vector] == [h.id for h in vector]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": "the of and", "mode": "text"}, "no searchable terms"),
        ({"query": "the of and", "mode": "hybrid"}, "no searchable terms"),
        ({"query": "a1 " * 3000, "mode": "text"}, "3000 tokens; at most 1024"),
        ({"query": "purr", "fusion": {"text_weight": 0, "vector_weight": 0}}, "both be 0"),
    ],
)
def test_text_queries_the_store_refuses_are_400(ingested, http, body, fragment):
    response = http.post("/v1/collections/docs/search", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query"
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": "a", "mode": "fuzzy"},
        {"vector": [0.1] * 384, "mode": "text"},
        {"vector": [0.1] * 384, "mode": "hybrid"},
        {"query": "a", "fusion": {"alpha": 0.5}},
        {"query": "a", "fusion": {"method": "max"}},
        {"query": "a", "fusion": {"depth": 0}},
        {"query": "a", "fusion": {"text_weight": -1}},
    ],
)
def test_bad_modes_and_fusion_knobs_are_422(ingested, http, body):
    assert http.post("/v1/collections/docs/search", json=body).status_code == 422


def test_a_collection_without_a_text_index(client):
    assert client.create_collection("plain", text=False).text_index is None
    job = client.upload("plain", [("cats.md", TEXT_DOCS["cats.md"])])
    assert client.wait_for_job(job.id, timeout=120).status == "done"
    hits = client.search("plain", "purr").hits  # the default mode falls back to vector
    assert hits[0].filename == "cats.md" and hits[0].text_rank is None
    with pytest.raises(ApiError) as e:
        client.search("plain", "purr", mode="text")
    assert (e.value.status, e.value.code) == (400, "text_index_missing")
    made = client.create_collection("custom", text={"fields": {"body": 2.0}, "language": None})
    assert made.text_index["fields"] == [["body", 2.0]] and made.text_index["language"] is None
    assert client.get_collection("custom").text_index == made.text_index
