"""The store driven through random writes, deletes, seals, compactions and reopens,
checked after every step against plain-Python brute-force oracles (vectors and filters:
`oracle.py`; text search: `bm25_oracle.py`)."""

import tempfile
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from vectorstore import Database
from vectorstore.config import INDEX_CONFIGS, TextConfig
from vectorstore.errors import InvalidQuery, TextIndexMissing
from vectorstore.text.analyzer import Analyzer

from . import bm25_oracle, oracle
from .lifecycle_rules import LifecycleRules
from .strategies import FIELDS, WORDS, filters, payloads

DIM = 4
IDS = [f"r{i}" for i in range(30)]
TEXT = TextConfig(fields=(("text", 1.0), ("title", 2.5), ("heading_path", 1.0),
                          ("meta.s", 0.5)))
ANALYZER = Analyzer(TEXT)


class StoreMachine(LifecycleRules, RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.path = tempfile.mkdtemp(prefix="sleuth-stateful-")
        self.db = Database(self.path)
        self.records: dict[str, tuple[np.ndarray, dict]] = {}

    @initialize(metric=st.sampled_from(["cosine", "dot", "l2"]), seal_rows=st.integers(3, 40),
                index=st.sampled_from(sorted(INDEX_CONFIGS)), text=st.booleans())
    def create(self, metric: str, seal_rows: int, index: str, text: bool) -> None:
        """Segments this small are searched exactly by every index type (HNSW and IVF-PQ
        plan an exact scan below their size thresholds, LSH and the forest re-rank every
        row of so few on float32, HNSW-SQ8 walks them all and re-ranks the best 2k by an
        int8 estimate that on 4-d vectors keeps the true top k), so results must equal
        the oracle's whatever the index. Without a text index at first, the collection
        is one made before text indexes existed until `build_text_index` runs."""
        self.metric = metric
        self.text = TEXT if text else None
        self.col = self.db.create_collection("c", dim=DIM, metric=metric, index=index,
                                             seal_rows=seal_rows, text=self.text or False)

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=12, unique=True),
          seed=st.integers(0, 2**32 - 1), data=st.data())
    def upsert(self, ids: list[str], seed: int, data: st.DataObject) -> None:
        vectors = np.random.default_rng(seed).normal(size=(len(ids), DIM)).astype(np.float32)
        batch = [data.draw(payloads) for _ in ids]
        self.col.upsert(ids, vectors, batch)
        for rid, vec, payload in zip(ids, vectors, batch, strict=True):
            self.records[rid] = (vec, payload)

    @rule(ids=st.lists(st.sampled_from(IDS), max_size=5, unique=True))
    def delete_ids(self, ids: list[str]) -> None:
        expected = sum(rid in self.records for rid in ids)
        assert self.col.delete(ids=ids) == expected
        for rid in ids:
            self.records.pop(rid, None)

    @rule(where=filters)
    def delete_where(self, where: dict) -> None:
        gone = [rid for rid, (_, p) in self.records.items() if oracle.matches(p, where)]
        assert self.col.delete(where=where) == len(gone)
        for rid in gone:
            del self.records[rid]

    @rule(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 8),
          where=st.one_of(st.none(), filters))
    def search(self, seed: int, k: int, where: dict | None) -> None:
        query = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
        expected = oracle.search(self.records, query, k, self.metric, where)
        hits = self.col.search(query, k=k, where=where)
        assert len(hits) == len(expected)
        np.testing.assert_allclose([h.score for h in hits], [s for _, s in expected],
                                   rtol=1e-5, atol=1e-5)
        q = oracle.prepare(query, self.metric)
        for hit in hits:
            vec, payload = self.records[hit.id]
            assert hit.payload == payload
            assert oracle.matches(payload, where)
            assert oracle.score(oracle.prepare(vec, self.metric), q, self.metric) == \
                pytest.approx(hit.score, rel=1e-5, abs=1e-5)

    @precondition(lambda self: self.records)
    @rule(words=st.lists(st.sampled_from([*WORDS, "connect", "missing"]), min_size=1,
                         max_size=4),
          k=st.integers(1, 8), where=st.one_of(st.none(), filters))
    def text_search(self, words: list[str], k: int, where: dict | None) -> None:
        query = " ".join(words)
        if self.text is None:
            with pytest.raises(TextIndexMissing):
                self.col.search(text=query, k=k, where=where)
            return
        if not ANALYZER.terms(query):
            with pytest.raises(InvalidQuery):
                self.col.search(text=query, k=k, where=where)
            return
        self._check_text(query, k, where)

    def _check_text(self, query: str, k: int, where: dict | None) -> None:
        payloads = {rid: payload for rid, (_, payload) in self.records.items()}
        expected = bm25_oracle.search(payloads, query, TEXT, ANALYZER, where)
        hits = self.col.search(text=query, k=k, where=where)
        bm25_oracle.assert_same_top_k(hits, expected, k)
        for hit in hits:
            assert hit.payload == payloads[hit.id]

    @rule()
    def build_text_index(self) -> None:
        self.col.build_text_index(TEXT)
        self.text = TEXT

    @rule(where=filters)
    def count_and_get(self, where: dict) -> None:
        matching = {rid for rid, (_, p) in self.records.items() if oracle.matches(p, where)}
        assert self.col.count(where) == len(matching)
        assert {r.id for r in self.col.get(where=where, limit=None)} == matching

    @rule(field=st.sampled_from(FIELDS))
    def facet(self, field: str) -> None:
        """Distinct values with their live records, from growing rows and sealed
        segments' payload slices alike (3 and 3.0 are one value, True and 1 two)."""
        counts: Counter = Counter()
        for _, payload in self.records.values():
            counts.update({_facet_key(v) for v in oracle.field_values(payload, field)[1]})
        assert {_facet_key(v): n for v, n in self.col.facet(field).items()} == counts

    @invariant()
    def gets_match(self) -> None:
        if not hasattr(self, "col"):
            return
        assert self.col.count() == len(self.records)
        got = self.col.get(IDS)
        for rid, record in zip(IDS, got, strict=True):
            if rid not in self.records:
                assert record is None
                continue
            vec, payload = self.records[rid]
            assert record.payload == payload
            np.testing.assert_allclose(record.vector, oracle.prepare(vec, self.metric),
                                       rtol=1e-5, atol=1e-6)

    @invariant()
    def text_matches(self) -> None:
        """Two fixed queries after every step, so that each state the rules reach (dead
        rows in sealed, frozen and growing segments, merges, reopens) is text-searched."""
        if getattr(self, "text", None) is not None and self.records:
            self._check_text("connections postgres timeout", 5, None)
            self._check_text("max_connections os.path.join error", 3, None)


def _facet_key(value: object) -> tuple:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return type(value).__name__, value
    return "number", float(value)


StoreMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestStore = StoreMachine.TestCase
