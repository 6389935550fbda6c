"""A real `sleuth serve --watch` process on a free loopback port, spoken to over HTTP."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.client import SleuthClient
from tests.servers import free_port, stop
from vectorstore import Database

READY_SECONDS = 120
SYNC_SECONDS = 60


@pytest.fixture
def server(tmp_path):
    """`sleuth serve` on 127.0.0.1 watching `tmp_path/watched`; stopped with SIGTERM."""
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "owls.md").write_text("# Owls\n\nOwls hunt at night and see well in the dark.\n")
    port = free_port()
    sleuth = Path(sys.executable).with_name("sleuth")
    process = subprocess.Popen(
        [str(sleuth), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data", str(tmp_path / "data"), "--watch", str(watched)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "SLEUTH_INGEST_WORKERS": "0"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    client = SleuthClient(f"http://127.0.0.1:{port}", timeout=30)
    try:
        yield process, client, tmp_path
    finally:
        client.close()
        stop(process)


def test_serve_answers_over_http_and_syncs_the_watched_folder(server):
    process, client, tmp_path = server
    try:
        client.wait_until_ready(timeout=READY_SECONDS)
    except TimeoutError:
        process.kill()
        pytest.fail(f"not ready: {process.communicate(timeout=10)[0].decode()[-2000:]}")
    deadline = time.monotonic() + SYNC_SECONDS
    while time.monotonic() < deadline:
        if any(c.name == "docs" and c.documents for c in client.list_collections()):
            break
        time.sleep(0.25)
    hits = client.search("docs", "which bird hunts at night?", k=1).hits
    assert hits and hits[0].source == "owls.md" and hits[0].path is None
    assert hits[0].heading_path == ["Owls"]

    client.create_collection("raw", dimension=2, index="flat")
    client.upsert("raw", ["a", "b"], [[1, 0], [0, 1]])
    assert [h.id for h in client.search("raw", vector=[0, 1], k=1).hits] == ["b"]
    assert 'sleuth_collection_records{collection="raw"} 2.0' in client.metrics()

    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it caught
    assert "Application shutdown complete" in output
    Database(tmp_path / "data").close()
