"""Real `sleuth serve` processes on free loopback ports, for tests that need a process to
kill or a socket to stream into."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from app.client import SleuthClient

READY_SECONDS = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`sleuth serve --data DATA` in its own process group (so a kill takes its parser
    processes too), with `SLEUTH_*` settings from `env`; output goes to `DATA.log`."""

    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.with_name(data.name + ".log")
        settings = {f"SLEUTH_{k.upper()}": str(v) for k, v in env.items()}
        sleuth = Path(sys.executable).with_name("sleuth")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(sleuth), "serve", "--host", "127.0.0.1", "--port", str(self.port),
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
        """SIGTERM, then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        self.kill()
        self.client.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
