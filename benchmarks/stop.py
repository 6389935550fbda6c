"""How long `sleuth up`, `serve` and `ui` take to stop, started as a script's background
job starts them (SIGINT ignored), on SIGINT and on SIGTERM; the README promises < 3 s.

    .venv/bin/python -m benchmarks.stop

`up` ingests one small file into a fresh data directory, serves the API and the page,
and is stopped once both answer; the time is from the signal until the command and
every process it started are gone. Also prints the supervisor's resident memory (it
loads no model). Ports are free loopback ports; everything runs in a temp folder.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

READY_SECONDS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 600
    except httpx.HTTPError:
        return False


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            found += [child, *descendants(child)]
    return found


def gone(pid: int) -> bool:
    """No such process, or only its zombie left for init to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def measure(args: list[str], ready: list[str], stop: signal.Signals, cwd: Path) -> str:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", *args], cwd=cwd, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    started = time.monotonic()
    while not all(answers(url) for url in ready):
        if process.poll() is not None or time.monotonic() - started > READY_SECONDS:
            os.killpg(process.pid, signal.SIGKILL)
            return f"{args[0]:>5} did not get ready (exit {process.poll()})"
        time.sleep(0.2)
    time.sleep(1)  # let the last child finish starting
    ready_s = time.monotonic() - started
    rss = int(Path(f"/proc/{process.pid}/status").read_text().split("VmRSS:")[1].split()[0])
    family = [process.pid, *descendants(process.pid)]
    signalled = time.monotonic()
    process.send_signal(stop)
    process.wait(timeout=60)
    while not all(gone(pid) for pid in family):
        time.sleep(0.02)
    return (f"{args[0]:>5} {stop.name:<7}  ready {ready_s:5.1f} s  stopped in "
            f"{time.monotonic() - signalled:4.2f} s  exit {process.returncode:>3}  "
            f"{len(family)} processes  command RSS {rss // 1024} MiB")


def main() -> None:
    print(f"load average {os.getloadavg()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "docs").mkdir()
        (root / "docs" / "a.md").write_text("# A\n\nA few words to ingest and find.\n")
        for stop in (signal.SIGINT, signal.SIGTERM):
            api, ui = free_port(), free_port()
            api_url, ui_url = f"http://127.0.0.1:{api}", f"http://127.0.0.1:{ui}"
            print(measure(["up", "docs", "--api-port", str(api), "--ui-port", str(ui)],
                          [f"{api_url}/health", f"{ui_url}/_stcore/health"], stop, root))
            print(measure(["serve", "--port", str(api)], [f"{api_url}/health"], stop, root))
            print(measure(["ui", "--port", str(ui)], [f"{ui_url}/_stcore/health"], stop, root))
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
