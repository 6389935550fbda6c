"""hnsw_sq8, lsh, rp_forest and diskann against the brute-force oracle: on the real all-MiniLM-L6-v2
fixture (tests/fixtures/minilm) for recall and its rise with each type's knobs, on
clustered synthetic data for every metric, through filters, write/open and bad input."""

import threading
from pathlib import Path

import numba
import numpy as np
import pytest

from tests.realdata import minilm
from vectorstore.arrayfile import is_mapped, read_array, write_array
from vectorstore.config import (
    HnswConfig,
    HnswSq8Config,
    IndexConfig,
    LshConfig,
    RpForestConfig,
    parse_index_config,
)
from vectorstore.diskann import DiskAnnIndex
from vectorstore.errors import CorruptFile, DimensionMismatch, InvalidInput
from vectorstore.flat import exact_search
from vectorstore.hnsw import HnswIndex
from vectorstore.hnsw_sq8 import HnswSq8Index, quantise, sq8_queries, train
from vectorstore.kernels.hamming import probe_order
from vectorstore.lsh import LshIndex, pack
from vectorstore.metrics import METRIC_IP, METRICS, Metric
from vectorstore.rpforest import RpForestIndex
from vectorstore.segment import index_class

K = 10
TYPES = ["hnsw_sq8", "lsh", "rp_forest", "diskann"]
# Recall@10 at the default knobs on the fixture, with a margin.
DEFAULT_RECALL = {"hnsw_sq8": 0.95, "lsh": 0.9, "rp_forest": 0.85, "diskann": 0.95}
# Each type's knob sweeps on the fixture, lowest setting first.
SWEEPS = {
    "hnsw_sq8": [[{"ef": ef, "rerank": 1} for ef in (10, 20, 40, 80)],
                 [{"ef": 10, "rerank": r} for r in (1, 2, 4, 8)]],
    "lsh": [[{"bits": bits} for bits in (64, 128, 192, 256)],
            [{"rerank": r} for r in (1, 5, 20, 80)]],
    "rp_forest": [[{"search_k": s} for s in (200, 800, 3200, 12800)],
                  [{"trees": t, "search_k": 4000} for t in (1, 4, 16, 32)]],
    "diskann": [[{"L_search": L} for L in (10, 20, 40, 80, 160)],
                [{"L_search": 40, "rerank": r} for r in (0, 1)]],
}


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    pairs = zip(found, truth, strict=True)
    hits = sum(len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) for f, t in pairs)
    return hits / max(1, int(np.count_nonzero(truth >= 0)))


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, d)) * 3
    return (centres[rng.integers(0, 30, n)] + rng.normal(size=(n, d))).astype(np.float32)


def build(kind: str, vectors: np.ndarray, metric: Metric, **config) -> object:
    spec = parse_index_config({"type": kind, **config})
    return index_class(kind).build(vectors, metric, spec)


class Case:
    """Prepared vectors and queries, an exact oracle, and an index built over them."""

    def __init__(self, kind: str, vectors: np.ndarray, queries: np.ndarray, metric: Metric,
                 **config) -> None:
        self.metric = metric
        self.vectors = metric.prepare(vectors)
        self.queries = metric.prepare(queries)
        self.index = build(kind, self.vectors, metric, **config)

    def exact(self, allowed: np.ndarray | None = None, k: int = K) -> np.ndarray:
        return exact_search(self.vectors, self.queries, k, self.metric.kernel, allowed)[0]

    def exact_proxies(self, rows: np.ndarray) -> np.ndarray:
        picked = self.vectors[rows].astype(np.float64)
        q = self.queries[:, None, :].astype(np.float64)
        if self.metric.kernel == METRIC_IP:
            return -(picked * q).sum(-1)
        return ((picked - q) ** 2).sum(-1)


@pytest.fixture(scope="module", params=TYPES)
def real(request: pytest.FixtureRequest) -> Case:
    data = minilm()
    return Case(request.param, data.base, data.queries[:200], METRICS["cosine"])


@pytest.fixture(scope="module", params=[(kind, metric) for kind in TYPES
                                        for metric in sorted(METRICS)],
                ids=lambda p: f"{p[0]}-{p[1]}")
def synthetic(request: pytest.FixtureRequest) -> Case:
    kind, metric = request.param
    data = clustered(3050, 24, seed=1)
    return Case(kind, data[:3000], data[3000:], METRICS[metric])


def mask_of(n: int, fraction: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < fraction).astype(np.uint8)


def test_recall_at_defaults_on_real_embeddings(real: Case) -> None:
    rows, dist = real.index.search(real.queries, K, None, {})
    assert recall(rows, minilm().gt[:200, :K]) >= DEFAULT_RECALL[real.index.kind]
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_recall_rises_with_each_knob(real: Case) -> None:
    truth = minilm().gt[:200, :K]
    for sweep in SWEEPS[real.index.kind]:
        recalls = [recall(real.index.search(real.queries, K, None, knobs)[0], truth)
                   for knobs in sweep]
        assert recalls == sorted(recalls), (sweep, recalls)
        assert recalls[-1] >= recalls[0] + 0.1, (sweep, recalls)


@pytest.mark.parametrize("fraction", [0.003, 0.02, 0.1, 0.5])
def test_filtered_search_returns_k_allowed_rows(real: Case, fraction: float) -> None:
    allowed = mask_of(len(real.index), fraction, seed=3)
    rows, dist = real.index.search(real.queries, K, allowed, {})
    assert np.all(rows >= 0) and np.all(np.isfinite(dist))
    assert np.all(allowed[rows] == 1)
    assert recall(rows, real.exact(allowed)) >= DEFAULT_RECALL[real.index.kind]


@pytest.mark.parametrize("count", [0, 3, K, 50])
def test_few_allowed_rows_are_all_found(synthetic: Case, count: int) -> None:
    allowed = np.zeros(len(synthetic.index), np.uint8)
    allowed[np.random.default_rng(5).choice(len(allowed), count, replace=False)] = 1
    rows, dist = synthetic.index.search(synthetic.queries, K, allowed, {})
    assert np.all((rows >= 0).sum(axis=1) == min(count, K))
    assert np.all(np.isinf(dist[rows < 0]))
    np.testing.assert_array_equal(np.sort(rows, axis=1),
                                  np.sort(synthetic.exact(allowed), axis=1))


def test_synthetic_recall_with_exact_scores(synthetic: Case) -> None:
    """Every type returns exact proxies (re-scored on float32), best first."""
    rows, dist = synthetic.index.search(synthetic.queries, K, None, {})
    assert recall(rows, synthetic.exact()) >= 0.9
    np.testing.assert_allclose(dist, synthetic.exact_proxies(rows), rtol=1e-4, atol=1e-3)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_deleted_rows_are_never_returned(real: Case) -> None:
    alive = mask_of(len(real.index), 0.7, seed=6)
    alive[real.exact(k=3).ravel()] = 0
    rows, _ = real.index.search(real.queries, K, alive, {})
    assert np.all(rows >= 0) and np.all(alive[rows] == 1)


def _arrays(index: object) -> dict[str, np.ndarray]:
    if isinstance(index, HnswSq8Index):
        return {**index.graph, **index.sq8._asdict()}
    if isinstance(index, DiskAnnIndex):  # the codes are kept in RAM, the nodes on disk
        return {**index.pq._asdict(), "nodes": np.fromfile(index.nodes.path, np.uint8)}
    return index.arrays._asdict()


def test_write_open_round_trip_is_bit_for_bit(synthetic: Case, tmp_path: Path) -> None:
    write_array(tmp_path / "vectors.arr", synthetic.vectors)
    synthetic.index.write(tmp_path)
    vectors = read_array(tmp_path / "vectors.arr")
    opened = type(synthetic.index).open(tmp_path, vectors, synthetic.metric,
                                        synthetic.index.config)
    built = _arrays(synthetic.index)
    for name, array in _arrays(opened).items():
        assert is_mapped(array) or array.size == 0 or opened.kind == "diskann", name
        assert array.dtype == built[name].dtype, name
        np.testing.assert_array_equal(array, built[name])
    for mask in (None, mask_of(len(opened), 0.3, seed=7)):
        for a, b in zip(opened.search(synthetic.queries, K, mask, {}),
                        synthetic.index.search(synthetic.queries, K, mask, {}), strict=True):
            np.testing.assert_array_equal(a, b)


def test_open_rejects_an_index_of_another_segment(synthetic: Case, tmp_path: Path) -> None:
    synthetic.index.write(tmp_path)
    with pytest.raises(CorruptFile):
        type(synthetic.index).open(tmp_path, synthetic.vectors[:-1], synthetic.metric,
                                   synthetic.index.config)


def test_concurrent_searches_match_serial(real: Case) -> None:
    queries = real.queries[:40]
    expected = [real.index.search(queries[i:i + 1], K, None, {})[0] for i in range(40)]
    results: dict[int, np.ndarray] = {}

    def worker(t: int) -> None:
        for i in range(t, 40, 4):
            results[i] = real.index.search(queries[i:i + 1], K, None, {})[0]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(40):
        np.testing.assert_array_equal(results[i], expected[i])


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("n", [0, 1, 5])
def test_tiny_segments(kind: str, n: int) -> None:
    vectors = clustered(max(n, 1), 8, seed=8)[:n]
    index = build(kind, vectors, METRICS["l2"])
    rows, dist = index.search(np.ones((2, 8), np.float32), K, None, {})
    assert rows.shape == dist.shape == (2, K)
    assert np.all((rows >= 0).sum(axis=1) == n)
    assert np.all(np.isinf(dist[rows < 0]))


@pytest.mark.parametrize("kind", TYPES)
def test_identical_rows_build_and_return_k(kind: str) -> None:
    vectors = np.ones((300, 8), np.float32)
    index = build(kind, vectors, METRICS["l2"])
    rows, _ = index.search(np.ones((1, 8), np.float32), K, None, {})
    assert len(set(rows[0].tolist())) == K and np.all(rows >= 0)


BAD_KNOBS = {
    "hnsw_sq8": [{"ef": 0}, {"rerank": 0}, {"rerank": "x"}],
    "lsh": [{"bits": 100}, {"bits": 1024}, {"rerank": 0}, {"probes": 4}, {"probes": -1}],
    "rp_forest": [{"search_k": 0}, {"trees": 0}, {"trees": True}],
    "diskann": [{"L_search": 0}, {"W": 0}, {"rerank": 2}, {"W": 1.5}],
}


@pytest.mark.parametrize(("kind", "params"), [(kind, p) for kind, ps in BAD_KNOBS.items()
                                              for p in ps])
def test_bad_knobs_are_rejected(kind: str, params: dict) -> None:
    index = build(kind, clustered(100, 8, seed=2), METRICS["l2"])
    with pytest.raises(InvalidInput, match=next(iter(params))):
        index.search(np.ones((1, 8), np.float32), K, None, params)


@pytest.mark.parametrize("kind", TYPES)
def test_boundary_errors(kind: str) -> None:
    index = build(kind, clustered(100, 8, seed=2), METRICS["l2"])
    with pytest.raises(DimensionMismatch, match=r"\(nq, 8\)"):
        index.search(np.ones((1, 7), np.float32), K, None, {})
    with pytest.raises(InvalidInput, match="allowed"):
        index.search(np.ones((1, 8), np.float32), K, np.ones(3, np.uint8), {})


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "lsh", "bits": 100}, "multiple of 64"),
    ({"type": "lsh", "rerank": 0}, "lsh.rerank"),
    ({"type": "hnsw_sq8", "quantile": 0.2}, "quantile"),
    ({"type": "hnsw_sq8", "M": 1}, "hnsw_sq8.M"),
    ({"type": "rp_forest", "trees": 0}, "rp_forest.trees"),
    ({"type": "rp_forest", "leaf": 3}, "known keys"),
    ({"type": "diskann", "alpha": 0.5}, "diskann.alpha"),
    ({"type": "diskann", "io": "aio"}, "diskann.io"),
    ({"type": "diskann", "R": 0}, "diskann.R"),
    ({"type": "diskann", "build_memory_bytes": 1000}, "build_memory_bytes"),
])
def test_bad_configs_are_rejected(spec: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_index_config(spec)


def test_every_registered_type_has_its_index_class() -> None:
    from vectorstore.config import INDEX_CONFIGS
    for kind, cls in INDEX_CONFIGS.items():
        assert issubclass(cls, IndexConfig) and cls().type == kind
        assert index_class(kind).kind == kind


# ---- type-specific properties --------------------------------------------------------


def test_sq8_resident_bytes_are_a_third_of_float_hnsw() -> None:
    data = METRICS["cosine"].prepare(minilm().base[:3000])
    sq8 = HnswSq8Index.build(data, METRICS["cosine"], HnswSq8Config())
    flat = HnswIndex.build(data, METRICS["cosine"], HnswConfig())
    assert sq8.nbytes() <= 0.35 * flat.nbytes()
    assert sq8.sq8.codes.dtype == np.int8 and sq8.sq8.codes.shape == data.shape


@pytest.mark.parametrize("name", sorted(METRICS))
def test_sq8_estimates_the_float_proxy(name: str) -> None:
    """const + alpha * <u, code> (+ term) is close to the float32 proxy."""
    metric = METRICS[name]
    data = metric.prepare(clustered(500, 32, seed=3))
    queries = metric.prepare(clustered(20, 32, seed=4))
    offsets, scales = train(data, 1.0, 0)
    sq8 = quantise(data, offsets, scales, metric.kernel)
    coded = sq8_queries(queries, offsets, scales, metric.kernel)
    est = coded.consts[:, None] + coded.alphas[:, None] * (
        coded.codes.astype(np.int64) @ sq8.codes.astype(np.int64).T)
    if metric.kernel != METRIC_IP:
        est += sq8.terms[None, :]
    q, v = queries.astype(np.float64), data.astype(np.float64)
    exact = -(q @ v.T) if metric.kernel == METRIC_IP else \
        ((q[:, None, :] - v[None]) ** 2).sum(-1)
    assert np.abs(est - exact).mean() < 0.02 * np.abs(exact).mean()


def test_lsh_codes_hold_hyperplane_signs_and_fit_64_bytes() -> None:
    data = METRICS["cosine"].prepare(minilm().base[:2000])
    index = LshIndex.build(data, METRICS["cosine"], LshConfig())
    a = index.arrays
    signs = (data @ a.planes.T - a.thresholds) > 0
    np.testing.assert_array_equal(pack(signs.astype(np.float32)), a.codes)
    assert a.codes.nbytes / len(data) <= 64
    assert abs(signs.mean() - 0.5) < 0.05  # median thresholds split every bit evenly


def test_lsh_hamming_distances_match_numpy() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2**63, size=(50, 4), dtype=np.uint64)
    expected = np.unpackbits((codes ^ codes[7]).view(np.uint8), axis=1).sum(1)
    from vectorstore.kernels.hamming import hamming
    assert [hamming(codes, i, codes[7], 4) for i in range(50)] == expected.tolist()


def test_lsh_multiprobe_order() -> None:
    margins = np.array([0.5, 0.1, 0.9, 0.3], np.float32)
    flips = probe_order(margins, 16, 4)
    assert flips[0] == 0 and len(set(flips.tolist())) == 16
    scores = [sum(margins[b] for b in range(4) if f >> b & 1) for f in flips]
    assert scores == sorted(scores)


def test_lsh_probes_raise_recall_through_tables() -> None:
    data = minilm()
    vectors = METRICS["cosine"].prepare(data.base)
    index = LshIndex.build(vectors, METRICS["cosine"], LshConfig(tables=8))
    queries = METRICS["cosine"].prepare(data.queries[:100])
    recalls = [recall(index.search(queries, K, None, {"probes": p})[0], data.gt[:100, :K])
               for p in (1, 4, 16, 64, 256)]
    assert recalls == sorted(recalls) and recalls[-1] >= 0.9 and recalls[0] < 0.5
    allowed = mask_of(len(vectors), 0.2, seed=9)
    rows, _ = index.search(queries, K, allowed, {"probes": 1})
    assert np.all(rows >= 0) and np.all(allowed[rows] == 1)


def test_rp_forest_is_the_same_whatever_the_thread_count() -> None:
    vectors = METRICS["cosine"].prepare(clustered(2000, 16, seed=9))
    forests = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        forests.append(RpForestIndex.build(vectors, METRICS["cosine"],
                                           RpForestConfig(trees=4)).arrays)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*forests, strict=True):
        np.testing.assert_array_equal(a, b)


def test_rp_forest_leaves_partition_every_tree() -> None:
    vectors = METRICS["l2"].prepare(clustered(2000, 16, seed=10))
    forest = RpForestIndex.build(vectors, METRICS["l2"], RpForestConfig(trees=3, leaf_size=20))
    a = forest.arrays
    assert np.all(a.leaves[:, 1] - a.leaves[:, 0] <= 20)
    for t in range(3):
        np.testing.assert_array_equal(np.sort(a.leaf_rows[t * 2000:(t + 1) * 2000]),
                                      np.arange(2000))
