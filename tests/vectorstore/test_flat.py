"""Exact search (vectorstore.flat) against a float64 brute force, on every path: one
query (the parallel scan), a small batch (one thread, BLAS's own threads) and a large
batch split between worker threads, each over several query and row blocks."""

import numpy as np
import pytest

import vectorstore.flat as flat
from vectorstore.flat import exact_search
from vectorstore.metrics import METRIC_IP, METRICS
from vectorstore.parallel import kernel_threads

K = 10
N, D = 3000, 16


def brute_force(vectors: np.ndarray, queries: np.ndarray, kernel: int,
                allowed: np.ndarray | None) -> np.ndarray:
    """Each query's proxy to every row in float64, +inf where not allowed."""
    v, q = vectors.astype(np.float64), queries.astype(np.float64)
    proxy = -(q @ v.T) if kernel == METRIC_IP else ((q[:, None, :] - v[None]) ** 2).sum(-1)
    if allowed is not None:
        proxy[:, allowed == 0] = np.inf
    return proxy


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks much smaller than the data, so every path crosses block edges."""
    monkeypatch.setattr(flat, "BLOCK_ROWS", 256)
    monkeypatch.setattr(flat, "QUERY_BLOCK", 48)


@pytest.mark.parametrize("metric", sorted(METRICS))
@pytest.mark.parametrize("nq", [1, 5, 300])
@pytest.mark.parametrize("fraction", [None, 0.5, 0.02])
@pytest.mark.parametrize("threads", [1, None])
def test_equals_brute_force(metric: str, nq: int, fraction: float | None,
                            threads: int | None) -> None:
    rng = np.random.default_rng(7)
    m = METRICS[metric]
    vectors = m.prepare(rng.normal(size=(N, D)).astype(np.float32))
    queries = m.prepare(rng.normal(size=(nq, D)).astype(np.float32))
    allowed = None if fraction is None else (rng.random(N) < fraction).astype(np.uint8)
    truth = brute_force(vectors, queries, m.kernel, allowed)
    with kernel_threads(threads or 1_000):
        rows, dist = exact_search(vectors, queries, K, m.kernel, allowed)
    best = np.sort(truth, axis=1)[:, :K]
    assert rows.shape == dist.shape == (nq, K)
    assert np.all(rows >= 0)
    if allowed is not None:
        assert np.all(allowed[rows] == 1)
    assert np.all(np.diff(dist, axis=1) >= 0)
    found = np.take_along_axis(truth, rows, axis=1)
    # the k best proxies, each row once, up to float32 rounding of near-ties
    assert all(len(set(r)) == K for r in rows)
    np.testing.assert_allclose(found, best, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dist, found, rtol=1e-5, atol=1e-4)


def test_fewer_allowed_rows_than_k_pad_with_minus_one() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, D)).astype(np.float32)
    allowed = np.zeros(500, dtype=np.uint8)
    allowed[[4, 77, 310]] = 1
    rows, dist = exact_search(vectors, vectors[:200], K, METRIC_IP, allowed)
    assert np.all(np.sort(rows[:, :3], axis=1) == [4, 77, 310])
    assert np.all(rows[:, 3:] == -1) and np.all(np.isinf(dist[:, 3:]))
