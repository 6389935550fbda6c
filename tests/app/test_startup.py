"""`sleuth up`, `serve` and `ui` refuse to start, in one line with exit code 1 and nothing
left running, on each problem a user meets first: a taken port, a data directory held by
another process or not writable, a missing folder. Every case runs the real command."""

import ctypes
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ui.conftest import free_port
from vectorstore import Database

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def sleuth(*args: str, cwd: Path, preexec_fn: Callable[[], None] | None = None
           ) -> subprocess.CompletedProcess:
    """Run `sleuth ARGS` to its end (bounded), capturing its output."""
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, preexec_fn=preexec_fn,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def refused(done: subprocess.CompletedProcess, message: str) -> None:
    """Exit 1, and stderr is exactly `error: message` (one line, no traceback)."""
    assert (done.returncode, done.stderr.strip().splitlines()) == (1, [f"error: {message}"]), \
        done.stdout + done.stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome words to ingest.\n")
    return docs


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another server listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def in_use(port: int, option: str) -> str:
    return (f"port {port} on 127.0.0.1 is already in use (another server?): stop it or "
            f"choose another port with {option}")


@pytest.mark.parametrize("which", ["--api-port", "--ui-port"])
def test_up_on_a_taken_port(tmp_path, folder, taken, which):
    ports = {"--api-port": str(free_port()), "--ui-port": str(free_port()), which: str(taken)}
    done = sleuth("up", str(folder), *(a for kv in ports.items() for a in kv), cwd=tmp_path)
    refused(done, in_use(taken, which))
    assert not (tmp_path / "data").exists()  # refused before anything was ingested


def test_serve_and_ui_on_a_taken_port(tmp_path, taken):
    refused(sleuth("serve", "--port", str(taken), cwd=tmp_path), in_use(taken, "--port"))
    refused(sleuth("ui", "--port", str(taken), cwd=tmp_path), in_use(taken, "--port"))


def test_up_with_one_port_for_both(tmp_path, folder):
    port = str(free_port())
    done = sleuth("up", str(folder), "--api-port", port, "--ui-port", port, cwd=tmp_path)
    refused(done, f"--api-port and --ui-port are both {port}")


@pytest.mark.parametrize("command", ["up", "serve"])
def test_data_directory_held_by_another_process(tmp_path, folder, command):
    args = [str(folder)] if command == "up" else ["--port", str(free_port())]
    with Database(tmp_path / "data"):
        done = sleuth(command, *args, "--data", "data", cwd=tmp_path)
    refused(done, f"data directory data is in use by process {os.getpid()}: stop that "
                  "process or pass --data DIR")


def _without_root_override() -> None:
    """In the child, before exec: root's power to write where the mode forbids is dropped
    (it stays root otherwise), so a read-only folder is read-only to it too."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("command", ["up", "serve"])
def test_unwritable_data_directory(tmp_path, folder, command):
    locked = tmp_path / "readonly"
    locked.mkdir(mode=0o555)
    args = [str(folder)] if command == "up" else ["--port", str(free_port())]
    done = sleuth(command, *args, "--data", "readonly/data", cwd=tmp_path,
                  preexec_fn=_without_root_override)
    refused(done, "data directory readonly/data cannot be written: Permission denied "
                  "(readonly/data)")


def test_up_with_a_missing_folder(tmp_path):
    refused(sleuth("up", "sample_docs", cwd=tmp_path),
            "folder to ingest sample_docs does not exist")
    (tmp_path / "notes.md").write_text("a file, not a folder")
    refused(sleuth("up", "notes.md", cwd=tmp_path), "folder to ingest notes.md is not a folder")


def test_serve_with_a_missing_watched_folder(tmp_path):
    done = sleuth("serve", "--port", str(free_port()), "--watch", "inbox", cwd=tmp_path)
    refused(done, "folder to watch inbox does not exist")
