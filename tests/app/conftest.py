"""Fixtures for API tests: the model once per session, an app per test on a fresh store."""

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.client import SleuthClient
from app.main import create_app
from app.settings import Settings
from ingest.embedding import Embedder, shared_embedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled model, loaded once; every app of the session reuses it."""
    return shared_embedder()


@contextmanager
def running(
    data_dir: Path, api_key: str | None = None, wait: bool = True, **overrides
) -> Iterator[SleuthClient]:
    """An app on `data_dir` (parsing in-process unless `ingest_workers` says otherwise)
    served by a TestClient; ready if `wait`."""
    settings = Settings(**{"data_dir": data_dir, "ingest_workers": 0, "api_key": api_key,
                           **overrides})
    with TestClient(create_app(settings)) as http:
        client = SleuthClient(api_key=api_key, http=http)
        if wait:
            client.wait_until_ready(timeout=60)
        yield client


@pytest.fixture
def make_client(tmp_path, embedder) -> Iterator[Callable[..., SleuthClient]]:
    """Start an app with settings overrides; a client on it. The first app of a test gets
    `tmp_path / "data"`, later ones `data-2`, `data-3`... (each holds its directory's lock)."""
    with ExitStack() as stack:
        names = iter(["data", *(f"data-{n}" for n in range(2, 100))])
        yield lambda **overrides: stack.enter_context(running(tmp_path / next(names), **overrides))


@pytest.fixture
def client(make_client) -> SleuthClient:
    return make_client()


@pytest.fixture
def http(client) -> TestClient:
    """The raw HTTP client under `client`, for requests the typed client never sends."""
    return client._http


TEXT_DOCS = {
    "cats.md": b"# Cats\n\nCats are small carnivorous mammals that purr and hunt mice.\n",
    "rockets.txt": b"Rockets burn propellant to produce thrust and reach orbit around Earth.",
    "bread.html": b"<html><head><title>Bread</title></head><body><h1>Baking</h1>"
    b"<p>Bread is made from flour, water, salt and yeast, then baked.</p></body></html>",
}


def ingest_text_docs(client: SleuthClient) -> SleuthClient:
    """Create collection 'docs' and ingest the three TEXT_DOCS into it."""
    client.create_collection("docs")
    job = client.upload("docs", list(TEXT_DOCS.items()))
    done = client.wait_for_job(job.id, timeout=120)
    assert [f.status for f in done.files] == ["done"] * 3, done
    return client


@pytest.fixture
def ingested(client) -> SleuthClient:
    """A 'docs' collection holding the three TEXT_DOCS, fully ingested."""
    return ingest_text_docs(client)
