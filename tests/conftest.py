"""Suite-wide settings: everything offline, numba's cache warm across runs, and no test
reading the shared data beside the checkout (the repository must stand alone)."""

import os
import sys
from pathlib import Path

from benchmarks.datasets import DATASETS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The model's ONNX export is kept inside the checkout (git-ignored), warm across runs.
os.environ.setdefault("SLEUTH_CACHE_DIR",
                      str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "sleuth"))

# The development data kept beside our own checkouts (../shared, or SLEUTH_DATASETS) is
# not in a user's clone; a test that read it would pass here and fail there.
OUTSIDE = (str(Path(__file__).resolve().parents[1].parent / "shared"), str(DATASETS))
_READS = {"open", "os.listdir", "os.scandir"}


def _refuse_outside_reads(event: str, args: tuple) -> None:
    """Audit hook: any open or listing of a path under OUTSIDE raises in the caller."""
    if event not in _READS or not args or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    for root in OUTSIDE:
        if path == root or path.startswith(root + os.sep):
            raise PermissionError(f"a test read {path}: tests use only the repository's "
                                  "own fixtures (tests/realdata.py), never ../shared")


sys.addaudithook(_refuse_outside_reads)
