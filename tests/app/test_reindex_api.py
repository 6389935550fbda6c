"""Reindex through HTTP: a job that re-embeds a collection while it serves, and the
requests refused before anything is written."""

import threading
import time

import pytest

from tests.app.conftest import ingest_text_docs


def _wait(http, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/v1/reindex/{job_id}").json()
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"reindex job {job_id} still running after {timeout}s")


def test_reindex_job_switches_the_recipe_and_keeps_serving(client, http):
    ingest_text_docs(client)
    before = http.get("/v1/collections/docs").json()
    assert before["recipe"]["template"] == "{title}\n{headings}\n{text}"
    hits_before = client.search("docs", "purring mammals", k=1)
    response = http.post("/v1/collections/docs/reindex", json={"template": "{text}"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["collection"], job["template"]) == ("docs", "{text}")
    searches = [client.search("docs", "purring mammals", k=1) for _ in range(5)]
    done = _wait(http, job["id"])
    assert done["status"] == "done", done
    assert done["done"] == done["total"] == before["count"]
    assert "reindexed 'docs': 3 chunks (3 embedded)" in done["summary"]
    after = http.get("/v1/collections/docs").json()
    assert after["recipe"]["template"] == "{text}" and after["count"] == before["count"]
    for hits in [*searches, client.search("docs", "purring mammals", k=1)]:
        assert hits.hits[0].document_id == hits_before.hits[0].document_id


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"model": "no/such-model"}, 400, "model_unavailable"),
    ({"template": "{text} {title}"}, 400, "recipe_error"),
    ({"template": "{oops}\n{text}"}, 400, "recipe_error"),
])
def test_bad_reindex_requests_are_refused_before_writing(client, http, body, status, code):
    ingest_text_docs(client)
    response = http.post("/v1/collections/docs/reindex", json=body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    data = http.app.state.services.db.path / "collections" / "docs"
    assert not list(data.glob("gen-*"))
    assert http.post("/v1/collections/nope/reindex", json={}).status_code == 404


def test_a_second_reindex_of_a_collection_is_a_conflict(client, http, monkeypatch):
    ingest_text_docs(client)
    release = threading.Event()

    def held(*args, stop, **kwargs):  # a reindex that runs until released
        release.wait(30)
        raise AssertionError("released")

    monkeypatch.setattr("app.reindexing.reindex", held)
    first = http.post("/v1/collections/docs/reindex", json={})
    assert first.status_code == 202
    second = http.post("/v1/collections/docs/reindex", json={})
    assert (second.status_code, second.json()["code"]) == (409, "collection_busy")
    release.set()
    assert _wait(http, first.json()["id"])["status"] == "failed"
    assert http.get("/v1/reindex/unknown").status_code == 404
