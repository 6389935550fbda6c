"""/health readiness and /metrics content."""

import time

import pytest

from app.client import ApiError
from tests.app.conftest import running


def test_health_is_ready_with_store_and_model(client):
    health = client.health()
    assert (health.status, health.store_open, health.model_loaded) == ("ready", True, True)


def test_a_model_that_cannot_load_is_reported_and_text_search_is_503(tmp_path):
    with running(tmp_path / "data", wait=False, model=str(tmp_path / "no-model")) as client:
        deadline = time.monotonic() + 60
        while (health := client.health()).status == "starting" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (health.status, health.store_open, health.model_loaded) == ("failed", True, False)
        assert health.model_error
        assert client._http.get("/health").status_code == 503
        client.create_collection("raw", dimension=2)
        assert client.search("raw", vector=[1, 0]).hits == []
        with pytest.raises(ApiError) as e:
            client.search("raw", "text needs the model")
        assert e.value.status == 503 and "not available" in e.value.detail


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format, None if absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return None


def test_metrics_count_requests_per_route_and_report_sizes(client):
    client.create_collection("raw", dimension=2)
    client.upsert("raw", ["a", "b", "c"], [[1, 0], [0, 1], [1, 1]])
    for _ in range(3):
        client.search("raw", vector=[1, 0], k=1)
    with pytest.raises(ApiError):
        client.get_collection("missing")
    text = client.metrics()
    route = "/v1/collections/{name}/search"
    assert _sample(text, "sleuth_http_requests_total", method="POST", route=route,
                   status="200") == 3
    assert _sample(text, "sleuth_http_requests_total", method="GET",
                   route="/v1/collections/{name}", status="404") == 1
    assert _sample(text, "sleuth_http_request_seconds_count", method="POST", route=route) == 3
    assert _sample(text, "sleuth_collection_records", collection="raw") == 3
    assert _sample(text, "sleuth_ingest_queue_depth") == 0


def test_queue_depth_counts_files_waiting(client):
    client.create_collection("docs")
    job = client.upload("docs", [(f"{i}.txt", b"words about things " * 50) for i in range(4)])
    depth = _sample(client.metrics(), "sleuth_ingest_queue_depth")
    assert 0 <= depth <= 4
    client.wait_for_job(job.id)
    assert _sample(client.metrics(), "sleuth_ingest_queue_depth") == 0
