"""Text and hybrid search in the store: BM25F against the plain-Python oracle through
growing, sealed, merged and reopened segments; deletes out of the statistics; filters;
collections made before text indexes; bad requests refused with nothing changed."""

import json
import subprocess
import sys
import zlib

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.config import TextConfig
from vectorstore.errors import CorruptFile, InvalidConfig, InvalidQuery, TextIndexMissing
from vectorstore.search import MAX_QUERY_TOKENS
from vectorstore.text.analyzer import Analyzer

from . import bm25_oracle

WORDS = ["postgres", "replica", "lag", "timeout", "max_connections", "error", "pooler", "vacuum",
         "index", "os.path.join", "checkpoint", "wal", "archive", "restore", "backup",
         "primary", "standby"]
CONFIG = TextConfig()
ANALYZER = Analyzer(CONFIG)


def _corpus(n: int, seed: int = 0) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    return {f"d{i}": {"text": " ".join(rng.choice(WORDS, size=rng.integers(1, 12))),
                      "title": str(rng.choice(WORDS)), "group": int(i % 5)}
            for i in range(n)}


def _vectors(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)


def _check(col, payloads: dict[str, dict], query: str, k: int = 10, where=None) -> None:
    expected = bm25_oracle.search(payloads, query, CONFIG, ANALYZER, where)
    bm25_oracle.assert_same_top_k(col.search(text=query, k=k, where=where), expected, k)


QUERIES = ["postgres lag", "max_connections error", "os.path.join backup backup", "vacuum",
           "standby primary replica"]


def test_scores_match_the_oracle_through_growing_sealed_merged_and_reopened(tmp_path):
    docs = _corpus(120)
    ids = list(docs)
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=25, merge_rows=60)
        vectors = _vectors(120)
        for start in range(0, 120, 10):
            batch = ids[start:start + 10]
            col.upsert(batch, vectors[start:start + 10], [docs[i] for i in batch])
            if start in (40, 70):  # sealed, frozen and growing rows at once
                for query in QUERIES:
                    _check(col, {i: docs[i] for i in ids[:start + 10]}, query)
        col.flush()  # four sealed segments, merged in the background into two full ones,
        assert col.stats()["sealed_segments"] == 1  # then grown into one (plan_growth)
        for query in QUERIES:
            _check(col, docs, query)
        col.delete(ids=ids[::7])
        docs = {rid: p for rid, p in docs.items() if rid not in ids[::7]}
        col.compact()
        assert col.stats()["deleted_rows"] == 0
        for query in QUERIES:
            _check(col, docs, query, k=7, where={"group": {"$in": [1, 3]}})
    with Database(tmp_path) as db:
        col = db.get_collection("c")
        for query in QUERIES:
            _check(col, docs, query, k=3)


def test_deleted_and_overwritten_rows_leave_the_statistics(tmp_path):
    docs = _corpus(60, seed=3)
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=20)
        col.upsert(list(docs), _vectors(60), list(docs.values()))
        col.flush()
        col.delete(ids=[f"d{i}" for i in range(0, 60, 3)])  # dead rows in sealed segments
        newer = {f"d{i}": {"text": "vacuum vacuum standby"} for i in range(1, 30, 3)}
        col.upsert(list(newer), _vectors(len(newer), 4), list(newer.values()))
        col.upsert(["d1"], _vectors(1, 5), [{"text": "replica"}])  # dead row while growing
        live = {rid: p for rid, p in docs.items() if int(rid[1:]) % 3} | newer | \
            {"d1": {"text": "replica"}}
        for query in QUERIES:
            _check(col, live, query)
        col.flush()
        for query in QUERIES:
            _check(col, live, query)


def test_a_filter_gets_k_hits_whenever_k_matching_rows_hold_a_term(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=500)
        payloads = [{"text": "vacuum" if i % 100 == 0 else "backup", "n": i} for i in range(2000)]
        col.upsert([str(i) for i in range(2000)], _vectors(2000), payloads)
        col.flush()
        hits = col.search(text="vacuum backup", k=30, where={"n": {"$lt": 1000}})
        assert len(hits) == 30 and all(h.payload["n"] < 1000 for h in hits)
        assert sorted(h.payload["n"] for h in hits[:10]) == list(range(0, 1000, 100))
        assert len(col.search(text="vacuum", k=50)) == 20


def test_hybrid_hits_carry_their_component_ranks(tmp_path):
    docs = _corpus(40, seed=5)
    vectors = _vectors(40)
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8)
        col.upsert(list(docs), vectors, list(docs.values()))
        vector_hits = col.search(vectors[7], k=40, mode="vector")
        text_hits = col.search(text="wal archive", k=40)
        plain = {"rrf_k": 60, "text_weight": 1.5, "coverage": False, "depth": 40}
        hybrid = col.search(vectors[7], text="wal archive", k=5, fusion=plain)
        assert hybrid == col.search(vectors[7], text="wal archive", k=5, mode="hybrid",
                                    fusion=plain)
        vector_rank = {h.id: i + 1 for i, h in enumerate(vector_hits)}
        text_rank = {h.id: i + 1 for i, h in enumerate(text_hits)}
        for hit in hybrid:
            assert hit.vector_rank == vector_rank[hit.id]
            assert hit.text_rank == text_rank.get(hit.id)
            expected = 1 / (60 + hit.vector_rank) + (1.5 / (60 + hit.text_rank)
                                                     if hit.text_rank else 0)
            assert hit.score == pytest.approx(expected)
        assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)
        assert all(h.text_rank is None and h.vector_rank for h in vector_hits)
        default = col.search(vectors[7], text="wal archive", k=5)
        batch = col.search(vectors[[7, 8]], text=["wal archive", "vacuum"], k=5)
        assert batch[0] == default and len(batch[1]) == 5


def test_text_weight_zero_and_blend(tmp_path):
    docs = _corpus(40, seed=6)
    vectors = _vectors(40)
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, metric="l2")
        col.upsert(list(docs), vectors, list(docs.values()))
        vector_ids = [h.id for h in col.search(vectors[3], k=5)]
        only_vector = col.search(vectors[3], text="vacuum", k=5, fusion={"text_weight": 0})
        assert [h.id for h in only_vector] == vector_ids
        blend = col.search(vectors[3], text="vacuum", k=5,
                           fusion={"method": "blend", "vector_weight": 1, "text_weight": 0})
        assert [h.id for h in blend] == vector_ids  # l2: the nearest (smallest) scores 1
        assert blend[0].score == pytest.approx(1.0)


def test_a_collection_made_before_text_indexes(tmp_path):
    """No text config in its manifest (as written before this feature): it reports no
    text index, searches by vector, refuses text modes, and gets one from its payloads."""
    docs = _corpus(50, seed=7)
    vectors = _vectors(50)
    with Database(tmp_path) as db:
        col = db.create_collection("old", dim=8, seal_rows=20, text=False)
        col.upsert(list(docs), vectors, list(docs.values()))
    manifest = tmp_path / "collections" / "old" / "manifest.json"
    doc = json.loads(manifest.read_text())
    del doc["body"]["config"]["text"]
    doc["crc32"] = zlib.crc32(json.dumps(doc["body"], sort_keys=True,
                                         separators=(",", ":")).encode())
    manifest.write_text(json.dumps(doc))
    with Database(tmp_path) as db:
        col = db.get_collection("old")
        assert col.stats()["text_index"] == "none" and col.config.text is None
        assert [h.id for h in col.search(vectors[4], text="vacuum", k=3)] == \
            [h.id for h in col.search(vectors[4], k=3)]
        for call in (lambda: col.search(text="vacuum"),
                     lambda: col.search(vectors[4], text="vacuum", mode="hybrid")):
            with pytest.raises(TextIndexMissing, match="has none.*sleuth reindex"):
                call()
        col.build_text_index()
        assert col.stats()["text_index"] == "bm25f"
        _check(col, docs, "postgres lag")
        col.upsert(["new"], _vectors(1, 9), [{"text": "postgres lag lag"}])
        _check(col, docs | {"new": {"text": "postgres lag lag"}}, "postgres lag")
    with Database(tmp_path) as db:
        col = db.get_collection("old")
        assert col.config.text == CONFIG
        _check(col, docs | {"new": {"text": "postgres lag lag"}}, "postgres lag")
        assert col.count() == 51


def test_rebuilding_with_other_fields(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=4)
        col.upsert(["a", "b"], _vectors(2), [{"text": "vacuum", "body": "lag"}, {"body": "wal"}])
        assert [h.id for h in col.search(text="vacuum")] == ["a"]
        col.build_text_index({"fields": {"body": 1.0}})
        assert col.search(text="vacuum") == []
        assert {h.id for h in col.search(text="wal lag")} == {"a", "b"}
        with pytest.raises(InvalidConfig):
            col.build_text_index(False)


@pytest.fixture
def col(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8, seal_rows=3)
        col.upsert(["a", "b", "c", "d"], _vectors(4), [{"text": w} for w in
                                                      ("vacuum", "wal lag", "backup", "lag")])
        yield col


@pytest.mark.parametrize("kwargs, error, message", [
    ({"text": ""}, InvalidQuery, "no searchable terms"),
    ({"text": "the of and, to!"}, InvalidQuery, "no searchable terms"),
    ({"text": "lag " * 10_000}, InvalidQuery, f"10000 tokens; at most {MAX_QUERY_TOKENS}"),
    ({"text": "lag", "mode": "fuzzy"}, InvalidQuery, "mode must be one of"),
    ({"text": "lag", "mode": "vector"}, InvalidQuery, "needs a query vector"),
    ({"text": 5}, InvalidQuery, "text must be a string"),
    ({"text": []}, InvalidQuery, "text must be a string"),
    ({"vector": np.ones(8), "text": ["lag", "wal"]}, InvalidQuery, "one text per query"),
    ({"vector": np.ones((3, 8)), "text": ["lag", "wal"]}, InvalidQuery, "one text per query"),
    ({"vector": np.ones(8), "mode": "hybrid"}, InvalidQuery, "needs a text query"),
    ({"vector": np.ones(8), "text": "the", "mode": "hybrid"}, InvalidQuery, "searchable"),
    ({"vector": np.ones(8), "text": "lag", "fusion": {"alpha": 0.5}}, InvalidQuery,
     r"unknown fusion key\(s\) \['alpha'\]; known keys: \['coverage', 'depth'"),
    ({"vector": np.ones(8), "text": "lag", "fusion": {"method": "max"}}, InvalidQuery,
     "fusion.method"),
    ({"vector": np.ones(8), "text": "lag", "fusion": {"depth": 0}}, InvalidQuery,
     "fusion.depth"),
    ({"vector": np.ones(8), "text": "lag", "fusion": {"text_weight": -1}}, InvalidQuery,
     "fusion.text_weight"),
    ({"vector": np.ones(8), "text": "lag", "fusion": {"text_weight": 0,
                                                     "vector_weight": 0}}, InvalidQuery,
     "both be 0"),
    ({"vector": np.ones(8), "text": "lag", "fusion": {"coverage": 1}}, InvalidQuery,
     "fusion.coverage"),
    ({"vector": np.ones(8), "text": "lag", "fusion": "rrf"}, InvalidQuery,
     "fusion must be an object"),
    ({}, InvalidQuery, "needs a query vector, a text query, or both"),
])
def test_bad_searches_are_refused_and_change_nothing(col, kwargs, error, message):
    with pytest.raises(error, match=message) as info:
        col.search(**kwargs)
    assert isinstance(info.value, ValueError)
    assert col.count() == 4
    assert [h.id for h in col.search(text="lag wal", k=4)] == ["b", "d"]


def test_an_all_stopword_text_with_a_vector_falls_back_to_vector_search(col):
    query = _vectors(1, 9)[0]
    assert col.search(query, text="is it the?", k=2) == col.search(query, k=2)


def test_damaged_postings_are_refused_on_open(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=8)
        col.upsert(["a", "b"], _vectors(2), [{"text": "vacuum lag"}, {"text": "wal"}])
        col.flush()
        segment = next((tmp_path / "collections" / "c" / "segments").iterdir())
    data = bytearray((segment / "text_tf.arr").read_bytes())
    data[-1] ^= 0xFF
    (segment / "text_tf.arr").write_bytes(bytes(data))
    with Database(tmp_path) as db, pytest.raises(CorruptFile, match="text_tf.arr"):
        db.get_collection("c")


def test_opening_a_text_collection_loads_the_append_kernel(tmp_path):
    """In a fresh process, opening a collection with a text index loads the append path's
    numba kernel, so the first write does not load it while holding the writer lock."""
    script = (
        "import sys; from pathlib import Path; from vectorstore import Database; "
        "from vectorstore.kernels.bm25 import sum_rows; "
        "db = Database(Path(sys.argv[1])); "
        "col = db.create_collection('docs', dim=4, text=True); "
        "print(len(sum_rows.signatures)); db.close()"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=300, check=True)
    assert int(done.stdout.strip()) >= 1
