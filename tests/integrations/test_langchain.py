"""The LangChain store: langchain-tests' standard VectorStoreIntegrationTests on both
backends (an embedded data directory, and a real `sleuth serve` over HTTP), then what the
standard suite does not cover: filters, MMR, retrievers, relevance scores, Sleuth's own
model over an ingested collection, and bad input."""

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests

from app.client import ApiError
from app.integrations.langchain import SleuthEmbeddings, SleuthVectorStore
from vectorstore import Database
from vectorstore.errors import InvalidFilter, InvalidQuery


class TestEmbeddedStore(VectorStoreIntegrationTests):
    """The standard suite over a data directory opened in this process."""

    @pytest.fixture
    def vectorstore(self, tmp_path) -> Iterator[SleuthVectorStore]:
        store = SleuthVectorStore(self.get_embeddings(), path=tmp_path / "data")
        try:
            yield store
        finally:
            store.close()


class TestHttpStore(VectorStoreIntegrationTests):
    """The standard suite over HTTP against a real `sleuth serve`, one collection a test."""

    @pytest.fixture
    def vectorstore(self, server_url, fresh_name) -> Iterator[SleuthVectorStore]:
        store = SleuthVectorStore(self.get_embeddings(), url=server_url,
                                  collection=re.sub(r"[^A-Za-z0-9_.-]", "-", fresh_name)[:60])
        try:
            yield store
        finally:
            store._backend.client.delete_collection(store.collection)
            store.close()


ANIMALS = [
    ("cats purr and hunt mice", {"kind": "mammal", "legs": 4, "tags": ["pet", "hunter"]}),
    ("dogs bark and fetch sticks", {"kind": "mammal", "legs": 4, "tags": ["pet"]}),
    ("owls hunt mice at night", {"kind": "bird", "legs": 2, "tags": ["hunter"]}),
    ("parrots repeat words", {"kind": "bird", "legs": 2, "tags": ["pet"]}),
    ("snakes have no legs at all", {"kind": "reptile", "legs": 0}),
]


@pytest.fixture(params=["embedded", "http"])
def store(request, tmp_path, fresh_name) -> Iterator[SleuthVectorStore]:
    """A store of ANIMALS (ids a0..a4) with small deterministic embeddings, per backend."""
    embedding = DeterministicFakeEmbedding(size=16)
    if request.param == "embedded":
        made = SleuthVectorStore(embedding, path=tmp_path / "data", collection="animals")
    else:
        made = SleuthVectorStore(embedding, url=request.getfixturevalue("server_url"),
                                 collection=fresh_name[:60])
    texts, metadatas = zip(*ANIMALS, strict=True)
    made.add_texts(list(texts), list(metadatas), ids=[f"a{i}" for i in range(len(texts))])
    try:
        yield made
    finally:
        made.close()


def ids_of(documents: list[Document]) -> set[str]:
    return {d.id for d in documents}


def test_filters_are_sleuth_where_filters(store):
    search = store.similarity_search
    assert ids_of(search("x", k=10, filter={"kind": "bird"})) == {"a2", "a3"}
    assert ids_of(search("x", k=10, filter={"legs": {"$gte": 2, "$lt": 4}})) == {"a2", "a3"}
    assert ids_of(search("x", k=10, filter={"tags": {"$in": ["hunter"]}})) == {"a0", "a2"}
    assert ids_of(search("x", k=10, filter={"$or": [{"legs": 0}, {"kind": "bird"}]})) == \
        {"a2", "a3", "a4"}
    assert ids_of(search("x", k=10, filter={"tags": {"$exists": False}})) == {"a4"}
    scored = store.similarity_search_with_score("owls hunt mice at night", k=1)
    assert scored[0][0].id == "a2" and scored[0][1] == pytest.approx(1.0, abs=1e-5)
    assert scored[0][0].metadata == {"kind": "bird", "legs": 2, "tags": ["hunter"]}


def test_filtered_search_equals_the_exact_search_over_the_subset(store):
    embedding = store.embeddings
    query = np.asarray(embedding.embed_query("mice"))
    docs = {f"a{i}": np.asarray(embedding.embed_query(t)) for i, (t, _) in enumerate(ANIMALS)}
    mammals = [i for i, (_, m) in zip(docs, ANIMALS, strict=True) if m["kind"] == "mammal"]
    cosine = {i: docs[i] @ query / np.linalg.norm(docs[i]) / np.linalg.norm(query)
              for i in mammals}
    expected = sorted(mammals, key=lambda i: -cosine[i])
    found = store.similarity_search_with_score("mice", k=2, filter={"kind": "mammal"})
    assert [d.id for d, _ in found] == expected
    assert [s for _, s in found] == pytest.approx([cosine[i] for i in expected], abs=1e-5)


def test_mmr_and_retrievers(store):
    mmr = store.max_marginal_relevance_search("cats purr and hunt mice", k=3, fetch_k=5,
                                              lambda_mult=0.5)
    assert len(mmr) == 3 and mmr[0].id == "a0" and len(ids_of(mmr)) == 3
    only_relevance = store.max_marginal_relevance_search("cats purr and hunt mice", k=3,
                                                         fetch_k=5, lambda_mult=1.0)
    assert [d.id for d in only_relevance] == \
        [d.id for d in store.similarity_search("cats purr and hunt mice", k=3)]
    birds = store.max_marginal_relevance_search("x", k=5, filter={"kind": "bird"})
    assert ids_of(birds) == {"a2", "a3"}

    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"kind": "bird"}})
    assert ids_of(retriever.invoke("parrots repeat words")) == {"a2", "a3"}
    mmr_retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 2})
    assert len(mmr_retriever.invoke("dogs")) == 2
    threshold = store.as_retriever(search_type="similarity_score_threshold",
                                   search_kwargs={"score_threshold": 0.99, "k": 5})
    assert [d.id for d in threshold.invoke("parrots repeat words")] == ["a3"]
    relevance = store.similarity_search_with_relevance_scores("parrots repeat words", k=5)
    assert all(0 <= score <= 1 for _, score in relevance)
    assert relevance[0][1] == pytest.approx(1.0, abs=1e-5)


def test_delete_by_filter_and_everything(store):
    store.delete(filter={"kind": "bird"})
    assert ids_of(store.similarity_search("x", k=10)) == {"a0", "a1", "a4"}
    store.delete()
    assert store.similarity_search("x", k=10) == []


def test_bad_input_is_refused_clearly_and_nothing_is_written(store):
    with pytest.raises((InvalidFilter, ApiError), match=r"where.legs.\$gte: expects a number"):
        store.similarity_search("x", filter={"legs": {"$gte": [1]}})
    with pytest.raises(ValueError, match="metadata key 'text' is reserved"):
        store.add_texts(["fine", "bad"], [{}, {"text": "clash"}], ids=["n1", "n2"])
    with pytest.raises(ValueError, match="2 texts, 1 metadatas"):
        store.add_texts(["one", "two"], [{}])
    assert store.get_by_ids(["n1", "n2"]) == []
    assert len(store.similarity_search("x", k=10)) == len(ANIMALS)


@pytest.mark.slow
def test_sleuth_model_reads_an_ingested_collection_with_its_provenance(tmp_path):
    """The bundled MiniLM as LangChain embeddings over a collection `sleuth ingest` wrote:
    Documents carry source, page and headings, and the model recorded is reused."""
    from ingest.embedding import shared_embedder
    from ingest.pipeline import Ingestor
    from ingest.store import open_collection

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "owls.md").write_text("# Owls\n\n## Hunting\n\nOwls hunt mice at night.\n")
    (folder / "bread.md").write_text("# Bread\n\nBread is flour, water, salt and yeast.\n")
    embedder = shared_embedder()
    with Database(tmp_path / "data") as db:
        with Ingestor(open_collection(db, "docs", embedder), embedder, workers=0) as ingestor:
            ingestor.ingest([folder])
        store = SleuthVectorStore(db=db)  # Sleuth's own model, collection "docs"
        assert isinstance(store.embeddings, SleuthEmbeddings)
        top = store.similarity_search("which bird hunts at night?", k=1)[0]
        assert top.page_content.endswith("Owls hunt mice at night.")
        assert top.metadata["heading_path"] == ["Owls", "Hunting"]
        assert top.metadata["source"] == "owls.md"  # shown under the folder ingested
        assert top.metadata["path"] == str(folder / "owls.md")
        added = store.add_texts(["Parrots can live for eighty years."], [{"source": "x"}])
        assert store.similarity_search("how long do parrots live?", k=1)[0].id == added[0]


SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"
IDENTIFIER = "x509"
"""Only in runbook/tls-certificate-rotation.txt (`openssl x509 -noout -enddate`)."""


def sample_paragraphs() -> tuple[list[str], list[dict]]:
    """The paragraphs of sample_docs' Markdown and text files, each with its source."""
    texts, metadatas = [], []
    for path in sorted([*SAMPLE_DOCS.rglob("*.md"), *SAMPLE_DOCS.rglob("*.txt")]):
        for paragraph in path.read_text().split("\n\n"):
            if paragraph.strip():
                texts.append(paragraph.strip())
                metadatas.append({"source": str(path.relative_to(SAMPLE_DOCS))})
    return texts, metadatas


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded", "http"])
def test_text_mode_finds_an_identifier_vector_mode_ranks_low(backend, request, tmp_path,
                                                             fresh_name):
    """Modes by keyword, by the store's default and through a retriever's search_kwargs,
    with the bundled MiniLM over the sample documents' paragraphs."""
    embedding = SleuthEmbeddings()
    if backend == "embedded":
        store = SleuthVectorStore(embedding, path=tmp_path / "data", mode="hybrid")
    else:
        store = SleuthVectorStore(embedding, url=request.getfixturevalue("server_url"),
                                  collection=fresh_name[:60], mode="hybrid")
    try:
        store.add_texts(*sample_paragraphs())
        by_words = store.similarity_search(IDENTIFIER, k=10, mode="text")
        top = by_words[0]
        assert top.metadata["source"] == "runbook/tls-certificate-rotation.txt"
        assert IDENTIFIER in top.page_content
        by_meaning = store.similarity_search_with_score(IDENTIFIER, k=10, mode="vector")
        assert top.id not in {d.id for d, _ in by_meaning}
        assert store.similarity_search(IDENTIFIER, k=3)[0].id == top.id  # the store's hybrid
        only_vector = store.similarity_search(IDENTIFIER, k=10, fusion={"text_weight": 0})
        assert [d.id for d in only_vector] == [d.id for d, _ in by_meaning]

        retrievers = {mode: store.as_retriever(search_kwargs={"k": 3, "mode": mode})
                      for mode in ("text", "vector", "hybrid")}
        assert retrievers["text"].invoke(IDENTIFIER)[0].id == top.id
        assert top.id not in {d.id for d in retrievers["vector"].invoke(IDENTIFIER)}
        assert retrievers["hybrid"].invoke(IDENTIFIER)[0].id == top.id

        assert len(store.similarity_search("the of and", k=3)) == 3  # hybrid: by vector
        with pytest.raises((InvalidQuery, ApiError), match="has no searchable terms"):
            store.similarity_search("the of and", k=3, mode="text")
        with pytest.raises(ValueError, match="relevance scores exist for vector mode only"):
            store.similarity_search_with_relevance_scores(IDENTIFIER)
        relevance = store.similarity_search_with_relevance_scores(IDENTIFIER, mode="vector")
        assert all(0 <= score <= 1 for _, score in relevance)
        with pytest.raises(ValueError, match="max marginal relevance search is by vector"):
            store.max_marginal_relevance_search(IDENTIFIER, mode="text")
        with pytest.raises(ValueError, match=r"mode must be one of \['vector', 'text', "):
            store.similarity_search(IDENTIFIER, mode="fuzzy")
    finally:
        if backend == "http":
            store._backend.client.delete_collection(store.collection)
        store.close()
