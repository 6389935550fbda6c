"""Looking at processes a test started: their children, whether they are gone, and how a
background job of a shell starts (SIGINT ignored)."""

import signal
from pathlib import Path

from benchmarks.stop import gone

__all__ = ["children_of", "gone", "ignore_sigint"]


def children_of(pid: int) -> list[int]:
    """The pids of `pid`'s direct children (Linux /proc)."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()]


def ignore_sigint() -> None:
    """A `preexec_fn`: start the child with SIGINT ignored, as `cmd &` in a script does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
