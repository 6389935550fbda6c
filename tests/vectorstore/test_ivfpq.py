"""IVF-PQ against a brute-force oracle, on clustered synthetic data and real embeddings."""

import threading
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from tests.realdata import minilm
from vectorstore.arrayfile import read_array, write_array
from vectorstore.config import IvfPqConfig
from vectorstore.errors import DimensionMismatch, InvalidInput
from vectorstore.ivfpq import MIN_TRAIN_ROWS, IvfPqIndex, choose_m, choose_nlist, prefer_exact
from vectorstore.kernels.kmeans import kmeans, update_centroids
from vectorstore.metrics import METRIC_IP, METRICS

K = 10


def oracle(vectors: np.ndarray, queries: np.ndarray, k: int, metric: int,
           allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k in float64: (rows (nq, k), proxy (nq, k)), padded -1 / +inf."""
    v, q = vectors.astype(np.float64), queries.astype(np.float64)
    proxy = -(q @ v.T) if metric == METRIC_IP else \
        (q * q).sum(1)[:, None] - 2 * q @ v.T + (v * v).sum(1)[None, :]
    if allowed is not None:
        proxy[:, allowed == 0] = np.inf
    rows = np.argsort(proxy, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(proxy, rows, axis=1)
    return np.where(np.isfinite(dist), rows, -1), dist


def _exact_proxy(vectors: np.ndarray, queries: np.ndarray, rows: np.ndarray,
                 metric: int) -> np.ndarray:
    """Exact proxy of each (query, returned row) pair; rows (nq, k) without padding."""
    picked = vectors[rows].astype(np.float64)
    q = queries[:, None, :].astype(np.float64)
    return -(picked * q).sum(-1) if metric == METRIC_IP else ((picked - q) ** 2).sum(-1)


def recall(rows: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(r[r >= 0]) & set(t[t >= 0])) / max(1, (t >= 0).sum())
            for r, t in zip(rows, truth, strict=True)]
    return float(np.mean(hits))


def clustered(n: int, d: int, n_clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, d)) * 3
    return (centers[rng.integers(n_clusters, size=n)]
            + rng.normal(size=(n, d))).astype(np.float32)


@pytest.fixture(scope="module")
def synthetic() -> dict[str, tuple[IvfPqIndex, np.ndarray, np.ndarray]]:
    """One trained index per metric over 12,000 clustered 32-d rows, with 50 queries."""
    data, queries = clustered(12_000, 32, 40, 0), clustered(50, 32, 40, 1)
    out = {}
    for name, metric in METRICS.items():
        vectors, prepared = metric.prepare(data), metric.prepare(queries)
        out[name] = (IvfPqIndex.build(vectors, metric, IvfPqConfig()), vectors, prepared)
    return out


@pytest.fixture(scope="module")
def real() -> tuple[IvfPqIndex, np.ndarray, np.ndarray, np.ndarray]:
    """20,000 real 384-d embeddings, 200 held-out queries and their exact top-10."""
    metric = METRICS["cosine"]
    data = minilm()
    base, queries = metric.prepare(data.base), metric.prepare(data.queries[:200])
    index = IvfPqIndex.build(base, metric, IvfPqConfig())
    return index, base, queries, oracle(base, queries, K, metric.kernel)[0]


def test_shape_choices_follow_size_and_dimension() -> None:
    config = IvfPqConfig()
    assert choose_m(384, config) == 48 and choose_m(32, config) == 4 and choose_m(100, config) == 10
    assert choose_nlist(MIN_TRAIN_ROWS - 1, config) == 0
    assert choose_nlist(100_000, config) == 1265
    assert choose_nlist(20_000, config) == 20_000 // 39
    assert choose_nlist(50_000, IvfPqConfig(nlist=64)) == 64
    with pytest.raises(InvalidInput, match="divide"):
        choose_m(384, IvfPqConfig(m=7))


def test_kmeans_finds_separated_blobs_and_repairs_empty_cells() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=np.float32)
    data = (centers[rng.integers(4, size=400)] + rng.normal(size=(400, 2)) * 0.1)
    found, labels = kmeans(data.astype(np.float32), 4, 5, 1)
    assert np.abs(np.sort(found, axis=0) - np.sort(centers, axis=0)).max() < 0.1
    assert len(set(labels.tolist())) == 4
    stale = np.array([[5, 5], [100, 100]], dtype=np.float32)
    labels = np.zeros(400, dtype=np.int64)
    dists = ((data - stale[0]) ** 2).sum(axis=1).astype(np.float32)
    assert update_centroids(data.astype(np.float32), labels, dists, stale) == 1
    assert np.array_equal(stale[1], data[np.argmax(dists)].astype(np.float32))


def test_prefer_exact_only_for_selective_filters() -> None:
    assert prefer_exact(100_000, 100, 1265, 16, 40, 384, 48)
    assert not prefer_exact(100_000, 50_000, 1265, 16, 40, 384, 48)


def test_ram_is_codes_and_lists_only(real) -> None:
    index, base, _, _ = real
    assert index.arrays.codes.shape == (len(base), 48)
    a = index.arrays
    per_row = (a.codes.nbytes + a.rows.nbytes + a.offsets.nbytes) / len(base)
    assert per_row <= 4 * base.shape[1] / 16
    assert a.terms.size == 0
    assert index.nbytes() == per_row * len(base) + a.centroids.nbytes + a.codebooks.nbytes


@pytest.mark.parametrize("name", sorted(METRICS))
def test_recall_rises_with_nprobe(synthetic, name: str) -> None:
    index, vectors, queries = synthetic[name]
    truth = oracle(vectors, queries, K, index.metric.kernel)[0]
    nlist = index.arrays.centroids.shape[0]
    recalls = [recall(index.search(queries, K, None, {"nprobe": p, "rerank": 0})[0], truth)
               for p in (1, 4, 16, nlist)]
    assert all(b >= a - 0.02 for a, b in pairwise(recalls)) and recalls[-1] > recalls[0]


@pytest.mark.parametrize("name", sorted(METRICS))
def test_rerank_returns_exact_proxies(synthetic, name: str) -> None:
    index, vectors, queries = synthetic[name]
    truth = oracle(vectors, queries, K, index.metric.kernel)[0]
    rows, dist = index.search(queries, K, None, {"nprobe": 64, "rerank": 8})
    assert recall(rows, truth) >= 0.9
    exact = _exact_proxy(vectors, queries, rows, index.metric.kernel)
    np.testing.assert_allclose(dist, exact, rtol=1e-4, atol=1e-3)
    assert np.all(np.diff(dist, axis=1) >= 0)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_adc_proxies_estimate_exact_ones(synthetic, name: str) -> None:
    """Without re-rank the proxies are the PQ estimates: close to the exact ones."""
    index, vectors, queries = synthetic[name]
    rows, dist = index.search(queries, K, None, {"nprobe": 8, "rerank": 0})
    exact = _exact_proxy(vectors, queries, rows, index.metric.kernel)
    spread = np.abs(exact).mean() if index.metric.kernel == METRIC_IP else exact.mean()
    assert np.abs(dist - exact).mean() < 0.1 * spread


def test_real_recall_rises_with_rerank_and_nprobe(real) -> None:
    index, _, queries, truth = real
    at = {(p, r): recall(index.search(queries, K, None, {"nprobe": p, "rerank": r})[0], truth)
          for p in (4, 16, 64) for r in (0, 4)}
    assert at[4, 0] < at[16, 0] < at[64, 0]
    assert at[4, 4] < at[16, 4] < at[64, 4]
    assert all(at[p, 0] < at[p, 4] for p in (4, 16, 64))


def test_real_recall_at_defaults(real) -> None:
    index, _, queries, truth = real
    assert recall(index.search(queries, K, None, {})[0], truth) >= 0.90


def _masks(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    masks = {}
    for name, fraction in (("half", 0.5), ("tenth", 0.1), ("rare", 0.003)):
        masks[name] = (rng.random(n) < fraction).astype(np.uint8)
    masks["k-1 rows"] = np.zeros(n, np.uint8)
    masks["k-1 rows"][rng.choice(n, K - 1, replace=False)] = 1
    masks["none"] = np.zeros(n, np.uint8)
    return masks


@pytest.mark.parametrize("rerank", [0, 4])
def test_filtered_search_returns_k_allowed_rows(real, rerank: int) -> None:
    index, base, queries, _ = real
    for name, mask in _masks(len(base), np.random.default_rng(3)).items():
        rows, dist = index.search(queries, K, mask, {"nprobe": 4, "rerank": rerank})
        want = min(K, int(mask.sum()))
        assert np.all((rows >= 0).sum(axis=1) == want), name
        assert np.all(mask[rows[rows >= 0]] == 1), name
        assert np.all(np.isinf(dist[rows < 0])), name
        if name in ("rare", "k-1 rows"):
            truth = oracle(base, queries, K, index.metric.kernel, mask)[0]
            assert recall(rows, truth) == 1.0, name


def test_filter_outside_probed_cells_probes_further(real) -> None:
    """Allowed rows only in cells far from the query: the probed cells hold none."""
    index, base, queries, _ = real
    a = index.arrays
    query = queries[:1]
    order = np.argsort(((a.centroids - query) ** 2).sum(axis=1))
    mask = np.zeros(len(base), np.uint8)
    for cell in order[len(order) // 2:]:
        mask[a.rows[a.offsets[cell]:a.offsets[cell + 1]]] = 1
    assert not index._exact_is_cheaper(mask, 1, K)
    rows, _ = index.search(query, K, mask, {"nprobe": 1, "rerank": 0})
    assert (rows >= 0).sum() == K and np.all(mask[rows[0]] == 1)


def test_write_open_gives_identical_results(real, tmp_path: Path) -> None:
    index, base, queries, _ = real
    write_array(tmp_path / "vectors.arr", base)
    index.write(tmp_path)
    opened = IvfPqIndex.open(tmp_path, read_array(tmp_path / "vectors.arr"), index.metric,
                             index.config)
    mask = _masks(len(base), np.random.default_rng(5))["tenth"]
    for allowed in (None, mask):
        for params in ({}, {"nprobe": 8, "rerank": 0}):
            want, got = index.search(queries, K, allowed, params), \
                opened.search(queries, K, allowed, params)
            np.testing.assert_array_equal(want[0], got[0])
            np.testing.assert_array_equal(want[1], got[1])


@pytest.mark.parametrize("name", sorted(METRICS))
def test_small_segment_is_exact(tmp_path: Path, name: str) -> None:
    metric = METRICS[name]
    vectors = metric.prepare(clustered(500, 16, 5, 7))
    queries = metric.prepare(clustered(20, 16, 5, 8))
    index = IvfPqIndex.build(vectors, metric, IvfPqConfig())
    assert not index.trained and len(index) == 500
    index.write(tmp_path)
    opened = IvfPqIndex.open(tmp_path, vectors, metric, IvfPqConfig())
    truth = oracle(vectors, queries, 600, metric.kernel)[0]
    for ix in (index, opened):
        rows, _ = ix.search(queries, 600, None, {})
        assert recall(rows[:, :K], truth[:, :K]) == 1.0
        assert np.all(rows[:, 500:] == -1)


def test_concurrent_searches_agree(real) -> None:
    index, _, queries, _ = real
    want = index.search(queries, K, None, {})[0]
    results: list[np.ndarray] = []

    def worker() -> None:
        for _ in range(3):
            results.append(index.search(queries, K, None, {})[0])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12 and all(np.array_equal(r, want) for r in results)


def test_boundary_errors(synthetic) -> None:
    index, _, queries = synthetic["l2"]
    with pytest.raises(DimensionMismatch):
        index.search(queries[:, :16], K, None, {})
    with pytest.raises(InvalidInput, match="nprobe"):
        index.search(queries, K, None, {"nprobe": 0})
    with pytest.raises(InvalidInput, match="allowed"):
        index.search(queries, K, np.ones(3, np.uint8), {})
