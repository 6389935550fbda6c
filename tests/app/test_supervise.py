"""Stopping: `sleuth ui` and `sleuth serve` stop on SIGINT or SIGTERM even when started
with SIGINT ignored (a background job of a script); a child that ignores SIGTERM is
killed at the deadline, grandchildren with it; a child that dies ends the command."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from app.supervise import supervised
from tests.processes import children_of, gone, ignore_sigint
from tests.ui.conftest import free_port, wait_until


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 600
    except httpx.HTTPError:
        return False


@pytest.fixture
def started(tmp_path) -> Iterator:
    """Start `sleuth ARGS` as a background job would be: SIGINT ignored, own group."""
    processes = []

    def start(*args: str) -> subprocess.Popen:
        log = open(tmp_path / "out.log", "wb")  # noqa: SIM115 - the child's, closed below
        process = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=tmp_path,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   preexec_fn=ignore_sigint, start_new_session=True,
                                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ui_stops_with_its_page(started, stop):
    port = free_port()
    process = started("ui", "--api", "http://127.0.0.1:9", "--port", str(port))
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/_stcore/health")
               or process.poll() is not None, timeout=90)
    page = children_of(process.pid)
    assert process.poll() is None and len(page) == 1
    process.send_signal(stop)
    assert process.wait(timeout=30) == 0
    assert gone(page[0]) and not answers(f"http://127.0.0.1:{port}/_stcore/health")


def test_ui_ends_when_its_page_dies(started, tmp_path):
    port = free_port()
    process = started("ui", "--api", "http://127.0.0.1:9", "--port", str(port))
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/_stcore/health")
               or process.poll() is not None, timeout=90)
    os.kill(children_of(process.pid)[0], signal.SIGKILL)
    assert process.wait(timeout=30) == 1
    assert (tmp_path / "out.log").read_text().strip().splitlines()[-1] == \
        "error: the page exited with -9"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops(started, stop):
    port = free_port()
    process = started("serve", "--port", str(port), "--data", "data")
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/health")
               or process.poll() is not None, timeout=90)
    assert process.poll() is None
    process.send_signal(stop)
    assert process.wait(timeout=30) in (0, -stop)  # uvicorn re-raises the signal it caught
    assert not answers(f"http://127.0.0.1:{port}/health")


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(grandchild.pid))
time.sleep(120)
"""


def test_a_child_ignoring_sigterm_is_killed_with_its_group(tmp_path):
    pid_file = tmp_path / "grandchild"
    with supervised() as children:
        child = children.start("stubborn", [sys.executable, "-c", STUBBORN, str(pid_file)])
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), timeout=30)
    assert child.returncode == -signal.SIGKILL
    grandchild = int(pid_file.read_text())
    wait_until(lambda: gone(grandchild), timeout=10)


def test_a_stop_signal_ends_the_block_quietly_and_stops_children():
    with supervised() as children:
        child = children.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted by the signal at once
        pytest.fail("the stop signal did not end the block")
    assert child.returncode == -signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
