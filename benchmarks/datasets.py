"""Where the benchmarks' real data lives, and its loader.

The ANN benchmarks run on the development set `ann_dev`: all-MiniLM-L6-v2 vectors (384-d,
L2-normalised, stored float16) of 101,000 passages of real English technical prose (the
Linux kernel documentation and the Perl and Git manuals as Debian ships them): 100,000
base rows, 1,000 held-out queries and their exact top-100 by inner product, plus the
passages' text. It is ~100 MB, so it is not in the repository: it sits beside the
checkout in `../shared/datasets` on our machines, or wherever `SLEUTH_DATASETS` points,
and `python -m benchmarks.build_ann_dev` rebuilds it from the Debian packages. The tests
never read it: they use the 20,000-row slice shipped in `tests/fixtures/minilm`.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS_ENV = "SLEUTH_DATASETS"
DATASETS = Path(os.environ.get(DATASETS_ENV)
                or Path(__file__).resolve().parents[1].parent / "shared" / "datasets")
ANN_DEV = ("ann_dev_base.npy", "ann_dev_queries.npy", "ann_dev_gt.npy")
PASSAGES = "ann_dev_passages.txt"
HOW_TO_GET = (f"put the shared datasets folder beside the checkout (../shared/datasets), "
              f"point {DATASETS_ENV} at a copy, or rebuild it with "
              f"`python -m benchmarks.build_ann_dev` (Debian docs, about 25 minutes)")


@dataclass(frozen=True)
class AnnDataset:
    base: np.ndarray  # float32 (n, d), C-contiguous
    queries: np.ndarray  # float32 (nq, d), C-contiguous
    gt: np.ndarray  # int32 (nq, 100): exact neighbours by inner product, best first


def require(directory: Path, names: tuple[str, ...] = ANN_DEV, how: str = HOW_TO_GET) -> Path:
    """`directory` if it holds every file of `names`; otherwise end the benchmark with one
    line naming the first missing file and how to get it (a SystemExit, no traceback)."""
    for name in names:
        if not (directory / name).is_file():
            raise SystemExit(f"benchmark data missing: {directory / name} not found; {how}")
    return directory


def load_ann_dev(directory: Path = DATASETS, n_base: int | None = None,
                 n_queries: int | None = None) -> AnnDataset:
    """Load `ann_dev_*.npy` as float32. `gt` is only valid for the full base set, so
    for a prefix of it (`n_base` rows) it is an empty (nq, 0) array."""
    require(directory)
    full = np.load(directory / "ann_dev_base.npy", mmap_mode="r")
    base = full[:n_base]
    queries = np.load(directory / "ann_dev_queries.npy", mmap_mode="r")[:n_queries]
    gt = np.load(directory / "ann_dev_gt.npy")[:n_queries]
    if base.shape[0] < full.shape[0]:
        gt = np.zeros((queries.shape[0], 0), dtype=np.int32)
    return AnnDataset(np.ascontiguousarray(base, dtype=np.float32),
                      np.ascontiguousarray(queries, dtype=np.float32), gt)


def load_passages(directory: Path = DATASETS) -> list[str]:
    """The passages' text, one per row: the base rows first, then the queries."""
    path = require(directory, (PASSAGES,)) / PASSAGES
    return path.read_text(encoding="utf-8").splitlines()
