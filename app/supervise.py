"""Child processes of `sleuth up` and `sleuth ui`, and how they stop.

Each child runs in its own session (so its own process group): a Ctrl-C at the terminal
reaches only this supervisor, which then stops every child's whole group, grandchildren
included (parser workers, Streamlit's helpers): SIGTERM, then SIGKILL for whatever still
runs STOP_SECONDS later. The supervisor installs its own SIGINT and SIGTERM handlers, so
it stops the same way when it was started with SIGINT ignored (a background job of a
script, `nohup`), and SIGHUP too unless that is ignored (`nohup` means keep running).
A second signal while stopping kills at once.
"""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

STOP_SECONDS = 2.5
"""From the stop signal to SIGKILL of what is left; the whole stop stays under 3 s."""
POLL_SECONDS = 0.1


class Stop(Exception):
    """A stop signal arrived (Ctrl-C, SIGTERM, SIGHUP)."""


class Supervisor:
    """Starts children and stops them all; use through `supervised()`."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []
        self.names: dict[int, str] = {}
        self._hurry = False

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None
              ) -> subprocess.Popen:
        """Start `command` as child `name` (what messages call it)."""
        child = subprocess.Popen(command, env=env, start_new_session=True)
        self.children.append(child)
        self.names[child.pid] = name
        return child

    def run(self, name: str, command: list[str], env: dict[str, str] | None = None) -> int:
        """Run a child to its end (a stop signal stops it too); its exit code."""
        child = self.start(name, command, env)
        code = child.wait()
        self.children.remove(child)
        return code

    def wait_for_any(self) -> subprocess.Popen:
        """The first child to exit."""
        while True:
            for child in self.children:
                if child.poll() is not None:
                    return child
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """SIGTERM every running child's group; SIGKILL what runs on at the deadline."""
        running = [c for c in self.children if c.poll() is None]
        for child in running:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while running and time.monotonic() < deadline and not self._hurry:
            time.sleep(POLL_SECONDS / 2)
            running = [c for c in running if c.poll() is None]
        for child in self.children:
            _signal_group(child, signal.SIGKILL)  # leftover grandchildren of exited ones too
        for child in self.children:
            child.wait()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    def _on_signal_while_stopping(self, signum: int, frame: FrameType | None) -> None:
        self._hurry = True


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    with suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(child.pid, signum)


def _stop_signals() -> list[signal.Signals]:
    hup = signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN
    return [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hup else [])]


@contextmanager
def supervised() -> Iterator[Supervisor]:
    """A Supervisor whose children are all stopped on the way out, however it is left:
    normally, by an error, by a child's exit, or by a stop signal (which ends the block
    quietly: the caller's exit code is then 0)."""
    supervisor = Supervisor()
    signals = _stop_signals()
    previous = {s: signal.signal(s, supervisor._on_signal) for s in signals}
    try:
        yield supervisor
    except Stop:
        pass
    finally:
        for s in signals:
            signal.signal(s, supervisor._on_signal_while_stopping)
        try:
            supervisor.stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
