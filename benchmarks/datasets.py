"""Loader for the shared real-embedding data set (see ../shared/datasets/README.md).

all-MiniLM-L6-v2 vectors (384-d, L2-normalised, stored float16) of real English passages:
100,000 base rows, 1,000 held-out queries and their exact top-100 by inner product.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@dataclass(frozen=True)
class AnnDataset:
    base: np.ndarray  # float32 (n, d), C-contiguous
    queries: np.ndarray  # float32 (nq, d), C-contiguous
    gt: np.ndarray  # int32 (nq, 100): exact neighbours by inner product, best first


def load_ann_dev(directory: Path = DATASETS, n_base: int | None = None,
                 n_queries: int | None = None) -> AnnDataset:
    """Load `ann_dev_*.npy` as float32. `gt` is only valid for the full base set, so
    for a prefix of it (`n_base` rows) it is an empty (nq, 0) array."""
    full = np.load(directory / "ann_dev_base.npy", mmap_mode="r")
    base = full[:n_base]
    queries = np.load(directory / "ann_dev_queries.npy", mmap_mode="r")[:n_queries]
    gt = np.load(directory / "ann_dev_gt.npy")[:n_queries]
    if base.shape[0] < full.shape[0]:
        gt = np.zeros((queries.shape[0], 0), dtype=np.int32)
    return AnnDataset(np.ascontiguousarray(base, dtype=np.float32),
                      np.ascontiguousarray(queries, dtype=np.float32), gt)
