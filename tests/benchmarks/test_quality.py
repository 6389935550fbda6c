"""The retrieval-quality harness's own parts: scoring, hit-to-page mapping, embedding cache."""

import math
import os

import numpy as np
import pytest

from benchmarks.quality.cache import CachedEmbedder, EmbeddingCache
from benchmarks.quality.qrels import Query, Source, ndcg_recall, top_pages
from benchmarks.quality.readme_chunks import word_chunks


def make_source(root, pages=("a", "b", "c", "sub/d")) -> Source:
    return Source(
        name="docs", package="docs-pkg", root=root,
        pages={f"docs/{p}": p for p in pages},
        queries=(Query("q0", "query", frozenset({"docs/a"})),),
        version="1", notes=(), readme_bm25=None,
    )


def test_ndcg_and_recall_follow_the_readme_formulas():
    ndcg, recall = ndcg_recall(["a", "x", "b"], frozenset({"a", "b"}))
    assert ndcg == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert recall == 1.0
    ndcg, recall = ndcg_recall(["x", "a"], frozenset({"a", "b", "c"}))
    assert ndcg == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert recall == pytest.approx(1 / 3)
    assert ndcg_recall([], frozenset({"a"})) == (0.0, 0.0)


def test_only_the_first_ten_pages_count():
    ranked = [f"p{i}" for i in range(10)] + ["hit"]
    assert ndcg_recall(ranked, frozenset({"hit"})) == (0.0, 0.0)


def test_hits_map_to_listed_pages_deduplicated_in_rank_order(tmp_path):
    source = make_source(tmp_path)
    hits = [str(tmp_path / "genindex.html"), str(tmp_path / "b.html"), "a.html",
            str(tmp_path / "b.html"), "/elsewhere/c.html", str(tmp_path / "sub" / "d.html")]
    assert top_pages(hits, source) == ["docs/b", "docs/a", "docs/sub/d"]
    assert top_pages(hits, source, k=2) == ["docs/b", "docs/a"]


def test_a_hit_source_may_be_absolute_relative_or_through_a_symlink(tmp_path):
    real = tmp_path / "real" / "html"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "d.html").write_text("x")
    link = tmp_path / "link"
    os.symlink(real, link)
    source = make_source(link)
    for hit in (str(link / "sub" / "d.html"), str(real / "sub" / "d.html"), "sub/d.html",
                "./sub/d.html", "link/sub/d.html"):
        assert source.doc_id(hit) == "docs/sub/d", hit
    for hit in ("../sub/d.html", "sub/e.html", str(tmp_path / "sub" / "d.html")):
        assert source.doc_id(hit) is None, hit


class CountingEmbedder:
    """Stands in for `Embedder`: a deterministic vector per text, counting what it encodes."""

    name, dim, max_tokens, tokenizer, backend = "fake-model", 4, 16, None, "torch"

    def __init__(self):
        self.encoded: list[str] = []

    def embed(self, texts):
        self.encoded.extend(texts)
        return np.array([[len(t), t.count("a"), 1.0, 0.5] for t in texts], dtype=np.float32)

    def embed_query(self, text):
        self.encoded.append(text)
        return np.array([0.0, len(text), 2.0, 1.0], dtype=np.float32)

    def batches(self, texts):
        return [[i] for i in range(len(texts))]

    encode = embed


def test_cache_embeds_each_distinct_text_once_and_keeps_it_on_disk(tmp_path):
    inner = CountingEmbedder()
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    cached = CachedEmbedder(inner, cache)
    first = cached.embed(["alpha", "beta", "alpha"])
    np.testing.assert_array_equal(first, inner.embed(["alpha", "beta", "alpha"]))
    assert inner.encoded[:2] == ["alpha", "beta"]
    assert (cache.misses, cache.hits) == (2, 1)
    cache.close()

    again = CountingEmbedder()
    reopened = CachedEmbedder(again, EmbeddingCache(tmp_path / "cache.sqlite"))
    np.testing.assert_array_equal(reopened.embed(["beta", "alpha"]), first[[1, 0]])
    assert again.encoded == []
    query = reopened.embed_query("alpha")
    assert again.encoded == ["alpha"]  # a query is cached apart from a document
    np.testing.assert_array_equal(query, [0.0, 5.0, 2.0, 1.0])
    assert reopened.embed(np.array([], dtype=str)).shape == (0, 4)


def test_the_pipeline_embeds_through_the_cache(tmp_path):
    """The ingest pipeline embeds by `batches` and `encode`: both answer from the cache."""
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.sqlite"))
    texts = ["alpha", "beta"]
    assert cached.batches(texts) == [[0], [1]]
    np.testing.assert_array_equal(cached.encode(texts), cached.embed(texts))
    assert inner.encoded == texts  # encoded once, then read back


def test_readme_chunking_is_200_words_every_160():
    words = [f"w{i}" for i in range(500)]
    chunks = word_chunks(words)
    assert [c.split()[0] for c in chunks] == ["w0", "w160", "w320"]
    assert [len(c.split()) for c in chunks] == [200, 200, 180]
    assert word_chunks([]) == [""]
    assert word_chunks(words[:200]) == [" ".join(words[:200])]
