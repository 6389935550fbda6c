"""Fixtures for the LangChain and LlamaIndex stores: one real `sleuth serve` per module
for the HTTP backend, a fresh collection name per test."""

import itertools
from collections.abc import Iterator

import pytest

from app.client import SleuthClient
from tests.servers import sleuth_serve

_names = itertools.count()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory) -> Iterator[str]:
    """A real `sleuth serve` on a loopback port over its own data directory."""
    with sleuth_serve(tmp_path_factory.mktemp("server") / "data") as url:
        yield url


@pytest.fixture
def server_client(server_url) -> Iterator[SleuthClient]:
    with SleuthClient(server_url) as client:
        yield client


@pytest.fixture
def fresh_name(request) -> str:
    """A collection name no other test of the run uses."""
    return f"t{next(_names)}-{request.node.name[:40]}".replace("[", "-").replace("]", "")
