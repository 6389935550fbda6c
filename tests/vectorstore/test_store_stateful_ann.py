"""The store state machine with segments large enough for every approximate path: the
HNSW walk, the filter-aware HNSW walk (a small `ef` so filters allowing a few hundred
rows walk the graph), the trained IVF-PQ scan (segments past MIN_TRAIN_ROWS) and the
diskann beam search over its node file (segments past its MIN_ROWS; a small `L_search`
so filtered searches walk the graph).

Approximate answers are checked by recall against the brute-force oracle at teardown,
over fixed in-distribution probes (see PROBE_RECALL); exactness is checked where it is
promised: every hit is live, matches the filter, carries its own payload and its true
score, no id twice, and k hits whenever k records match.
"""

import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from vectorstore import Database
from vectorstore.diskann import MIN_ROWS as DISKANN_ROWS
from vectorstore.diskann import use_exact_scan
from vectorstore.ivfpq import MIN_TRAIN_ROWS

from . import oracle
from .lifecycle_rules import LifecycleRules
from .strategies import COLORS, filters

DIM = 16
SIZES = {"hnsw": 3000, "ivf_pq": MIN_TRAIN_ROWS + 500, "diskann": DISKANN_ROWS + 1000}
KNOB = {"hnsw": "ef", "diskann": "L_search"}
"""The per-call knob lowered to force the filter-aware walk."""
PROBES = 20
PROBE_KNOBS = {"hnsw": {"ef": 128}, "ivf_pq": {"nprobe": 64, "rerank": 32},
               "diskann": {"L_search": 128}}
PROBE_RECALL = 0.95
"""At teardown, PROBES unfiltered k=10 queries drawn around the data's cluster centres, at
knobs where a healthy index of this size finds (nearly) every true neighbour (measured 1.0
for every index and metric), must reach PROBE_RECALL: a lifecycle defect (rows lost or
mislabelled by a seal, merge, compaction or reopen) shows as a collapse, not a few points.
Recall at the default knobs is the index tests' job on real embeddings (test_hnsw,
test_ivfpq, test_diskann): judged here over a handful of random-direction queries it
failed CI once on one k=50 query (0.86) of an index that averages ~0.97."""


def _near(centers: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` vectors drawn around the data's cluster centres."""
    return (centers[rng.integers(len(centers), size=n)] + rng.normal(size=(n, DIM))).astype(
        np.float32)


def _payload(rng: np.random.Generator) -> dict:
    payload = {"color": COLORS[rng.integers(3)], "n": int(rng.integers(10))}
    if rng.random() < 0.5:
        payload["tags"] = [["a", "b", "c"][j] for j in range(int(rng.integers(4)))]
    if rng.random() < 0.3:
        payload["flag"] = bool(rng.integers(2))
    return payload


class AnnMachine(LifecycleRules, RuleBasedStateMachine):
    """Writes, deletes, seals, compactions and reopens over a large sealed base."""

    def __init__(self) -> None:
        super().__init__()
        self.path = tempfile.mkdtemp(prefix="sleuth-stateful-ann-")
        self.db = Database(self.path)
        self.records: dict[str, tuple[np.ndarray, dict]] = {}

    @initialize(index=st.sampled_from(sorted(SIZES)), metric=st.sampled_from(["cosine", "l2"]),
                seed=st.integers(0, 2**16))
    def create(self, index: str, metric: str, seed: int) -> None:
        self.index, self.metric = index, metric
        n = SIZES[index]
        self.col = self.db.create_collection("c", dim=DIM, metric=metric, index=index,
                                             seal_rows=n, merge_rows=4 * n)
        rng = np.random.default_rng(seed)
        self.centers = rng.normal(size=(32, DIM)) * 3
        vectors = _near(self.centers, n, rng)
        self.ids = [f"r{i}" for i in range(n)]
        payloads = [_payload(rng) for _ in range(n)]
        self.col.upsert(self.ids, vectors, payloads)
        self.col.flush()
        self.records = {rid: (v, p) for rid, v, p in zip(self.ids, vectors, payloads,
                                                          strict=True)}
        self.rng = rng

    @rule(count=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
    def upsert(self, count: int, seed: int) -> None:
        """Overwrite some existing ids and add some new ones."""
        rng = np.random.default_rng(seed)
        ids = list(dict.fromkeys(self.ids[i] for i in rng.integers(len(self.ids) + 200,
                                                                    size=count)
                                 if i < len(self.ids)))
        ids += [f"new{seed}-{j}" for j in range(count - len(ids))]
        vectors = rng.normal(size=(len(ids), DIM)).astype(np.float32) * 3
        payloads = [_payload(rng) for _ in ids]
        self.col.upsert(ids, vectors, payloads)
        self.records.update({rid: (v, p) for rid, v, p in zip(ids, vectors, payloads,
                                                               strict=True)})

    @rule(fraction=st.sampled_from([0.01, 0.1, 0.3]), seed=st.integers(0, 2**32 - 1))
    def delete_ids(self, fraction: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        live = sorted(self.records)
        gone = [live[i] for i in rng.choice(len(live), int(len(live) * fraction),
                                            replace=False)]
        assert self.col.delete(ids=gone) == len(gone)
        for rid in gone:
            del self.records[rid]

    @rule(where=filters)
    def delete_where(self, where: dict) -> None:
        gone = [rid for rid, (_, p) in self.records.items() if oracle.matches(p, where)]
        if len(gone) > len(self.records) // 3:
            return  # keep the segments large
        assert self.col.delete(where=where) == len(gone)
        for rid in gone:
            del self.records[rid]

    @rule(seed=st.integers(0, 2**32 - 1), k=st.sampled_from([1, 10, 50]),
          where=st.one_of(st.none(), filters), ef=st.sampled_from([None, 8, 24]))
    def search(self, seed: int, k: int, where: dict | None, ef: int | None) -> None:
        query = np.random.default_rng(seed).normal(size=DIM).astype(np.float32) * 3
        params = None if ef is None or self.index not in KNOB else {KNOB[self.index]: ef}
        hits = self.col.search(query, k=k, where=where, params=params)
        event(self._path(where, params, k))
        matching = [rid for rid, (_, p) in self.records.items() if oracle.matches(p, where)]
        assert len(hits) == min(k, len(matching)), "k hits whenever k records match"
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=self.metric != "l2"), "best first"
        assert len({h.id for h in hits}) == len(hits)
        q = oracle.prepare(query, self.metric)
        for hit in hits:
            assert hit.id in self.records, f"deleted id {hit.id} returned"
            vector, payload = self.records[hit.id]
            assert hit.payload == payload and oracle.matches(payload, where)
            true = oracle.score(oracle.prepare(vector, self.metric), q, self.metric)
            assert hit.score == pytest.approx(true, rel=1e-4, abs=1e-4)

    def _path(self, where: dict | None, params: dict | None, k: int) -> str:
        """Which path the largest sealed segment's index takes (for the statistics)."""
        largest = max((len(seg) for seg in self.col._snapshot.sealed), default=0)
        if self.index == "ivf_pq":
            return "ivf_pq: trained scan" if largest >= MIN_TRAIN_ROWS else "ivf_pq: exact"
        if self.index == "diskann":
            L = (params or {}).get("L_search", self.col.index_config.L_search)
            allowed = sum(oracle.matches(p, where) for _, p in self.records.values())
            if largest < DISKANN_ROWS:
                return "diskann: exact (segment not indexed)"
            if where is None:
                return "diskann: beam search"
            return "diskann: exact scan of the allowed rows" if \
                use_exact_scan(largest, allowed, k, L) else "diskann: filtered beam search"
        ef = (params or {}).get("ef", 64)
        allowed = sum(oracle.matches(p, where) for _, p in self.records.values())
        if where is None:
            return "hnsw: walk"
        return "hnsw: filter-aware walk" if allowed > max(32 * ef, 0.05 * largest) else \
            "hnsw: exact scan of the allowed rows"

    @invariant()
    def counts_and_gets_match(self) -> None:
        if not hasattr(self, "col"):
            return
        assert self.col.count() == len(self.records)
        sample = sorted(self.records)[:: max(1, len(self.records) // 50)] + ["r-missing"]
        for rid, record in zip(sample, self.col.get(sample), strict=True):
            if rid not in self.records:
                assert record is None
            else:
                assert record.payload == self.records[rid][1]

    def teardown(self) -> None:
        recall = self._probe_recall() if hasattr(self, "col") and self.records else 1.0
        super().teardown()
        assert recall >= PROBE_RECALL, f"{self.index} probe recall {recall:.3f}"

    def _probe_recall(self) -> float:
        """Recall@10 of the PROBES queries at PROBE_KNOBS against the exact top 10."""
        ids = sorted(self.records)
        vectors = np.array([oracle.prepare(self.records[rid][0], self.metric) for rid in ids])
        found = expected = 0
        for query in _near(self.centers, PROBES, np.random.default_rng(0)):
            q = oracle.prepare(query, self.metric)
            scores = vectors @ q if self.metric != "l2" else -((vectors - q) ** 2).sum(axis=1)
            best = {ids[i] for i in np.argsort(-scores, kind="stable")[:10]}
            hits = self.col.search(query, k=10, params=PROBE_KNOBS[self.index])
            found += len(best & {h.id for h in hits})
            expected += len(best)
        return found / expected


AnnMachine.TestCase.settings = settings(
    max_examples=12, stateful_step_count=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large])
TestAnnStore = pytest.mark.slow(AnnMachine.TestCase)
