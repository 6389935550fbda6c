"""The LlamaIndex store on both backends (an embedded data directory, a real `sleuth
serve`): a VectorStoreIndex over sample_docs with the real MiniLM, queried through
retrievers; deletes by ref_doc_id; MetadataFilters checked against Sleuth's own filtered
search and against LlamaIndex's SimpleVectorStore; refused operators; MMR.

llama-index-core (0.14) ships no vector-store conformance suite to subclass, so these
tests play its part: they drive the store through LlamaIndex's own index and retrievers.
"""

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from app.integrations.llamaindex import (
    SleuthEmbedding,
    SleuthVectorStore,
    UnsupportedFilter,
    fusion_of,
    to_where,
)

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"
IDENTIFIER = "x509"
"""Only in runbook/tls-certificate-rotation.txt (`openssl x509 -noout -enddate`)."""
ONCALL = "What do on-call engineers get paid for a week as primary?"
SPLITTER = SentenceSplitter(chunk_size=200, chunk_overlap=20)
"""Chunks that fit MiniLM's 256-token window (LlamaIndex's default, 1024, would be cut)."""


@pytest.fixture(scope="module")
def embed_model() -> SleuthEmbedding:
    return SleuthEmbedding()


@pytest.fixture(scope="module")
def documents():
    """The Markdown and text files of sample_docs as LlamaIndex Documents (ids are their
    paths), each with a `tags` list: its folder and its extension."""
    reader = SimpleDirectoryReader(str(SAMPLE_DOCS), required_exts=[".md", ".txt"],
                                   recursive=True, filename_as_id=True)
    docs = reader.load_data()
    for doc in docs:
        path = Path(doc.metadata["file_path"])
        doc.metadata["tags"] = [path.parent.name, path.suffix.lstrip(".")]
    assert len(docs) >= 10
    return docs


@pytest.fixture(scope="module")
def nodes(documents, embed_model) -> list[BaseNode]:
    """The documents split and embedded once; tests add copies to their stores."""
    pipeline = IngestionPipeline(transformations=[SPLITTER, embed_model])
    return pipeline.run(documents=documents)


@pytest.fixture(params=["embedded", "http"])
def store(request, tmp_path, fresh_name) -> Iterator[SleuthVectorStore]:
    if request.param == "embedded":
        made = SleuthVectorStore("li", path=tmp_path / "data")
    else:
        made = SleuthVectorStore(fresh_name[:60], url=request.getfixturevalue("server_url"))
    try:
        yield made
    finally:
        made.close()


def index_of(store: SleuthVectorStore, nodes: list[BaseNode], embed_model) -> VectorStoreIndex:
    context = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex(copy.deepcopy(nodes), storage_context=context,
                            embed_model=embed_model)


def file_names(found) -> list[str]:
    return [n.node.metadata["file_name"] for n in found]


@pytest.mark.slow
def test_index_from_documents_retrieves_the_right_document(store, documents, embed_model):
    context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex.from_documents(documents, storage_context=context,
                                            embed_model=embed_model, transformations=[SPLITTER])
    found = index.as_retriever(similarity_top_k=3).retrieve(ONCALL)
    assert file_names(found)[0] == "oncall-rotation.md"
    assert "$400" in found[0].node.get_content()
    assert found[0].score >= found[1].score >= found[2].score
    assert found[0].node.ref_doc_id.endswith("oncall-rotation.md")


def test_delete_by_ref_doc_id_is_honoured(store, nodes, embed_model):
    index = index_of(store, nodes, embed_model)
    before = store.get_nodes()
    assert len(before) == len(nodes)
    oncall = next(n.ref_doc_id for n in nodes if n.metadata["file_name"] == "oncall-rotation.md")
    gone = [n for n in nodes if n.ref_doc_id == oncall]
    index.delete_ref_doc(oncall)
    left = store.get_nodes()
    assert len(left) == len(nodes) - len(gone)
    assert all(n.ref_doc_id != oncall for n in left)
    found = index.as_retriever(similarity_top_k=5).retrieve(ONCALL)
    assert "oncall-rotation.md" not in file_names(found) and len(found) == 5


FILTERS = [
    MetadataFilters(filters=[MetadataFilter(key="file_type", value="text/plain")]),
    MetadataFilters(filters=[MetadataFilter(key="file_name", value="remote-work.md",
                                            operator=FilterOperator.NE)]),
    MetadataFilters(filters=[MetadataFilter(key="file_size", value=2000,
                                            operator=FilterOperator.GT)]),
    MetadataFilters(filters=[MetadataFilter(key="file_size", value=1500,
                                            operator=FilterOperator.LTE)]),
    MetadataFilters(filters=[MetadataFilter(key="file_name", operator=FilterOperator.IN,
                                            value=["sso-setup.md", "travel-policy.txt"])]),
    MetadataFilters(filters=[MetadataFilter(key="file_name", operator=FilterOperator.NIN,
                                            value=["sso-setup.md", "travel-policy.txt"])]),
    MetadataFilters(filters=[MetadataFilter(key="tags", operator=FilterOperator.ANY,
                                            value=["hr", "research"])]),
    MetadataFilters(filters=[MetadataFilter(key="tags", operator=FilterOperator.ALL,
                                            value=["runbook", "md"])]),
    MetadataFilters(filters=[MetadataFilter(key="tags", operator=FilterOperator.CONTAINS,
                                            value="handbook")]),
    MetadataFilters(filters=[MetadataFilter(key="tags", value="hr",
                                            operator=FilterOperator.CONTAINS),
                             MetadataFilter(key="file_type", value="text/markdown")],
                    condition=FilterCondition.AND),
    MetadataFilters(filters=[MetadataFilter(key="file_type", value="text/plain"),
                             MetadataFilter(key="file_size", value=3000,
                                            operator=FilterOperator.GTE)],
                    condition=FilterCondition.OR),
    MetadataFilters(filters=[MetadataFilter(key="file_type", value="text/plain"),
                             MetadataFilter(key="tags", value="hr",
                                            operator=FilterOperator.CONTAINS)],
                    condition=FilterCondition.NOT),
]


@pytest.mark.parametrize("filters", FILTERS, ids=[to_where(f).__repr__()[:60] for f in FILTERS])
def test_filters_match_sleuth_own_search_and_llamaindex_reference(store, nodes, embed_model,
                                                                   filters):
    """The retriever's nodes are exactly Sleuth's own filtered search with the `where` the
    filters map to, and the same set LlamaIndex's SimpleVectorStore selects."""
    index = index_of(store, nodes, embed_model)
    k = len(nodes)
    found = index.as_retriever(similarity_top_k=k, filters=filters).retrieve(ONCALL)
    query = embed_model.get_query_embedding(ONCALL)
    own = store.client.search(query, k, to_where(filters))
    assert [n.node.node_id for n in found] == [h.id for h in own]
    assert [n.score for n in found] == pytest.approx([h.score for h in own])

    reference = SimpleVectorStore()
    reference.add(copy.deepcopy(nodes))
    expected = reference.query(VectorStoreQuery(query_embedding=query, similarity_top_k=k,
                                                filters=filters)).ids
    assert {n.node.node_id for n in found} == set(expected)
    assert 0 < len(found) < len(nodes)


def test_nested_filters_and_doc_ids(store, nodes, embed_model):
    index = index_of(store, nodes, embed_model)
    nested = MetadataFilters(condition=FilterCondition.AND, filters=[
        MetadataFilter(key="tags", value="runbook", operator=FilterOperator.CONTAINS),
        MetadataFilters(condition=FilterCondition.OR, filters=[
            MetadataFilter(key="file_type", value="text/plain"),
            MetadataFilter(key="file_size", value=2500, operator=FilterOperator.GT)]),
    ])
    found = index.as_retriever(similarity_top_k=50, filters=nested).retrieve(ONCALL)
    expected = {n.node_id for n in nodes if "runbook" in n.metadata["tags"] and (
        n.metadata["file_type"] == "text/plain" or n.metadata["file_size"] > 2500)}
    assert {n.node.node_id for n in found} == expected and expected

    some = sorted({n.ref_doc_id for n in nodes})[:2]
    query = VectorStoreQuery(query_embedding=embed_model.get_query_embedding(ONCALL),
                             similarity_top_k=50, doc_ids=some)
    assert {n.ref_doc_id for n in store.query(query).nodes} == set(some)


@pytest.mark.parametrize("operator", [FilterOperator.TEXT_MATCH,
                                      FilterOperator.TEXT_MATCH_INSENSITIVE,
                                      FilterOperator.IS_EMPTY])
def test_an_operator_without_equivalent_is_refused_by_name(store, nodes, embed_model, operator):
    index = index_of(store, nodes[:3], embed_model)
    filters = MetadataFilters(filters=[MetadataFilter(key="file_name", value="on",
                                                      operator=operator)])
    with pytest.raises(UnsupportedFilter, match=f"operator {operator.name} "):
        index.as_retriever(filters=filters).retrieve(ONCALL)


def test_get_delete_nodes_clear_and_mmr(store, nodes, embed_model):
    index = index_of(store, nodes, embed_model)
    ids = [n.node_id for n in nodes[:3]]
    got = store.get_nodes(ids)
    assert [n.node_id for n in got] == ids
    assert [n.get_content() for n in got] == [n.get_content() for n in nodes[:3]]
    assert got[0].metadata == nodes[0].metadata and got[0].ref_doc_id == nodes[0].ref_doc_id
    plain = MetadataFilters(filters=[MetadataFilter(key="file_type", value="text/plain")])
    assert {n.node_id for n in store.get_nodes(filters=plain)} == \
        {n.node_id for n in nodes if n.metadata["file_type"] == "text/plain"}

    mmr = index.as_retriever(similarity_top_k=4, vector_store_query_mode="mmr",
                             vector_store_kwargs={"mmr_threshold": 0.5}).retrieve(ONCALL)
    assert len(mmr) == 4 and file_names(mmr)[0] == "oncall-rotation.md"

    store.delete_nodes(ids[:2])
    assert [n.node_id for n in store.get_nodes(ids)] == ids[2:]
    store.delete_nodes(filters=plain)
    assert store.get_nodes(filters=plain) == []
    store.clear()
    assert store.get_nodes() == []
    empty = VectorStoreQuery(query_embedding=embed_model.get_query_embedding(ONCALL))
    assert store.query(empty).nodes == []


def node_ids(found) -> list[str]:
    return [n.node.node_id for n in found]


@pytest.mark.slow
def test_text_and_hybrid_modes_find_an_identifier_vector_mode_ranks_low(store, nodes,
                                                                         embed_model):
    """TEXT_SEARCH finds an exact identifier the embedding ranks outside the top 10;
    HYBRID finds it first; `alpha` 1 and 0 give the dense and the sparse ranking alone."""
    index = index_of(store, nodes, embed_model)

    def retrieve(k: int = 10, **kwargs):
        return index.as_retriever(similarity_top_k=k, **kwargs).retrieve(IDENTIFIER)

    by_words = retrieve(vector_store_query_mode="text_search")
    top = by_words[0].node
    assert top.metadata["file_name"] == "tls-certificate-rotation.txt"
    assert IDENTIFIER in top.get_content()
    by_meaning = retrieve()
    assert top.node_id not in node_ids(by_meaning)
    assert node_ids(retrieve(3, vector_store_query_mode="hybrid"))[0] == top.node_id
    assert node_ids(retrieve(vector_store_query_mode="hybrid", alpha=1.0)) == \
        node_ids(by_meaning)
    sparse = retrieve(vector_store_query_mode="hybrid", alpha=0.0)
    assert node_ids(sparse)[:len(by_words)] == node_ids(by_words)
    stopwords = index.as_retriever(similarity_top_k=3, vector_store_query_mode="hybrid")
    assert len(stopwords.retrieve("the of and")) == 3  # searched by embedding alone
    # The store answers a bare text query too: no embedding needed.
    bare = store.query(VectorStoreQuery(query_str=IDENTIFIER, mode="text_search",
                                        similarity_top_k=10))
    assert bare.ids == node_ids(by_words)


def test_alpha_maps_onto_the_fusion_weights():
    assert fusion_of(None) is None
    assert fusion_of(0.25) == {"vector_weight": 0.25, "text_weight": 0.75}
    with pytest.raises(ValueError, match="alpha must be from 0 to 1, got 1.5"):
        fusion_of(1.5)


def test_an_empty_store_answers_nothing_and_bad_queries_are_refused(store):
    query = VectorStoreQuery(query_embedding=[0.1] * 384, similarity_top_k=3)
    assert store.query(query).ids == [] and store.get_nodes() == []
    store.delete("no-such-document")  # nothing to do, no error
    with pytest.raises(ValueError, match="query mode SPARSE is not supported by Sleuth's "
                                         "store .supported: DEFAULT, MMR, TEXT_SEARCH, HYBRID"):
        store.query(VectorStoreQuery(query_str="x", mode="sparse"))
    with pytest.raises(ValueError, match="a Sleuth HYBRID query needs query_str"):
        store.query(VectorStoreQuery(query_embedding=[0.1] * 384, mode="hybrid"))
    with pytest.raises(ValueError, match="a Sleuth HYBRID query needs query_embedding"):
        store.query(VectorStoreQuery(query_str="x", mode="hybrid"))
    node = TextNode(text="clash", metadata={"text": "reserved"}, embedding=[0.1] * 4)
    with pytest.raises(ValueError, match="metadata key 'text' is reserved"):
        store.add([node])


@pytest.mark.slow
def test_sleuth_ingested_chunks_read_back_as_nodes(tmp_path, embed_model):
    """A collection written by Sleuth's own ingest, queried from LlamaIndex."""
    from ingest.embedding import shared_embedder
    from ingest.pipeline import Ingestor
    from ingest.store import open_collection
    from vectorstore import Database

    with Database(tmp_path / "data") as db:
        embedder = shared_embedder()
        with Ingestor(open_collection(db, "docs", embedder), embedder, workers=0) as ingestor:
            ingestor.ingest([SAMPLE_DOCS / "runbook"])
        store = SleuthVectorStore(db=db)
        index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
        question = "how long did the last quarterly restore drill of the metadata database take"
        top = index.as_retriever(similarity_top_k=1).retrieve(question)[0].node
        assert top.metadata["source"].endswith("backup-and-restore.pdf")
        assert top.metadata["page"] == 3 and "2 hours and 10" in top.get_content()
        assert top.ref_doc_id == top.metadata["doc_id"]
