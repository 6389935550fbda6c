"""Real server processes for tests: a free loopback port, `sleuth serve`, a clean stop;
a server to SIGKILL with its parser processes; and a store holding sample_docs/ for them
to serve."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.client import SleuthClient

SLEUTH = str(Path(sys.executable).with_name("sleuth"))
SAMPLE_DOCS = Path(__file__).resolve().parents[1] / "sample_docs"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "SLEUTH_INGEST_WORKERS": "0"}
READY_SECONDS = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it is still running after `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def sleuth_serve(data: Path, **env: str) -> Iterator[str]:
    """A real `sleuth serve` on a free loopback port, ready; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [SLEUTH, "serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(data)],
        env={**os.environ, **OFFLINE, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with SleuthClient(url, api_key=env.get("SLEUTH_API_KEY")) as api:
            try:
                api.wait_until_ready(timeout=READY_SECONDS)
            except TimeoutError:
                process.kill()
                pytest.fail(process.communicate(timeout=10)[0].decode()[-3000:])
        yield url
    finally:
        stop(process)


class Server:
    """`sleuth serve --data DATA` in its own process group (so a kill takes its parser
    processes too), with `SLEUTH_*` settings from `env`; output goes to `DATA.log`."""

    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.with_name(data.name + ".log")
        settings = {f"SLEUTH_{k.upper()}": str(v) for k, v in env.items()}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [SLEUTH, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data", str(data)],
                env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                     **settings},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.client = SleuthClient(self.url, timeout=120)

    def ready(self) -> SleuthClient:
        """The client, once the server answers ready; fails with the server's log if not."""
        try:
            self.client.wait_until_ready(timeout=READY_SECONDS)
        except TimeoutError:
            self.kill()
            raise AssertionError(
                f"server not ready; log:\n{self.log.read_text()[-3000:]}"
            ) from None
        return self.client

    def kill(self) -> None:
        """SIGKILL the whole process group: the server and its parser processes."""
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """A clean stop (see `stop`), then whatever is left of its group killed."""
        stop(self.process)
        self.kill()
        self.client.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ingest_sample_docs(data: Path) -> Path:
    """A data directory at `data` holding sample_docs/ in collection 'docs' (closed)."""
    from ingest.embedding import shared_embedder
    from ingest.pipeline import Ingestor
    from ingest.store import open_collection
    from vectorstore import Database

    embedder = shared_embedder()
    with Database(data) as db, \
            Ingestor(open_collection(db, "docs", embedder), embedder, workers=0) as ingestor:
        report = ingestor.ingest([SAMPLE_DOCS])
    assert not report.of("failed"), report.of("failed")
    return data
