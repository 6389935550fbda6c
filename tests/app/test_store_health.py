"""The store's health through HTTP: collections open on a worker thread at startup while
/health answers 'starting'; a failing background seal makes /health 'degraded' with the
reason and shows in /metrics; a dropped collection answers 404."""

import threading
import time

import numpy as np
import pytest

from tests.app.conftest import running
from tests.app.test_health_metrics import _sample
from vectorstore import Database, collection_segments
from vectorstore.collection import Collection
from vectorstore.errors import CollectionNotFound


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_collections_open_on_a_worker_thread_while_health_answers(tmp_path, embedder,
                                                                   monkeypatch):
    data = tmp_path / "data"
    with Database(data) as db:
        db.create_collection("slow", dim=2).upsert(["a"], [[1, 0]], [{"n": 1}])
    release = threading.Event()
    opened_on: list[str] = []
    real_open = Collection.open.__func__

    def slow_open(cls, directory, *args):
        opened_on.append(threading.current_thread().name)
        release.wait(60)
        return real_open(cls, directory, *args)

    monkeypatch.setattr(Collection, "open", classmethod(slow_open))
    with running(data, wait=False) as client:
        http = client._http
        _wait_for(lambda: opened_on)
        answers = []
        for _ in range(5):  # the event loop is free: /health answers at once, not ready
            response = http.get("/health")
            answers.append((response.status_code, response.json()["status"],
                            response.json()["collections_open"]))
        assert set(answers) == {(503, "starting", False)}

        got: dict = {}
        request = threading.Thread(target=lambda: got.update(
            r=http.get("/v1/collections/slow")))
        request.start()  # waits for the open on a worker thread, not on the loop
        time.sleep(0.3)
        assert http.get("/health").status_code == 503 and "r" not in got
        release.set()
        request.join(60)
        assert got["r"].status_code == 200 and got["r"].json()["count"] == 1
        health = client.wait_until_ready(timeout=60)
        assert health.status == "ready" and health.collections_open
    assert opened_on == ["open-collections"]


def test_a_failing_seal_shows_in_health_and_metrics(tmp_path, embedder, monkeypatch):
    data = tmp_path / "data"
    with Database(data) as db:
        db.create_collection("c", dim=2, seal_rows=4)
    broken = threading.Event()
    broken.set()
    real = collection_segments.write_segment

    def write_segment(*args, **kwargs):
        if broken.is_set():
            raise OSError(5, "Input/output error (injected)")
        return real(*args, **kwargs)

    monkeypatch.setattr(collection_segments, "write_segment", write_segment)
    with running(data) as client:
        http = client._http
        client.upsert("c", [f"r{i}" for i in range(6)], np.eye(2)[[0, 1, 0, 1, 0, 1]].tolist())
        _wait_for(lambda: http.get("/health").json()["status"] == "degraded")
        body = http.get("/health").json()
        assert http.get("/health").status_code == 200
        (problem,) = body["problems"]
        assert problem["collection"] == "c" and "injected" in problem["reason"]
        text = http.get("/metrics").text
        assert _sample(text, "sleuth_collection_degraded", collection="c") == 1
        assert _sample(text, "sleuth_collection_maintenance_failures_total", collection="c") >= 1
        assert client.get_collection("c").count == 6  # all readable meanwhile
        assert len(client.search("c", vector=[1, 0], k=10).hits) == 6
        broken.clear()
        _wait_for(lambda: http.get("/health").json()["status"] == "ready", seconds=90)
        text = http.get("/metrics").text
        assert _sample(text, "sleuth_collection_degraded", collection="c") == 0


def test_a_dropped_collection_answers_404_to_requests_holding_it(client):
    client.create_collection("gone", dimension=2)
    db = client._http.app.state.services.db
    held = db.get_collection("gone")
    client.delete_collection("gone")
    with pytest.raises(CollectionNotFound):
        held.upsert(["a"], [[1, 0]])
    with pytest.raises(CollectionNotFound):
        held.search([1, 0])
    response = client._http.post("/v1/collections/gone/search", json={"vector": [1, 0]})
    assert response.status_code == 404
