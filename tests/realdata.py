"""Real all-MiniLM-L6-v2 embeddings shipped with the repository, for recall tests.

`tests/fixtures/minilm/` is a miniature of the shared development set in the same
format (see its README.md): 20,000 base rows (384-d, L2-normalised, stored float16),
500 held-out queries and their exact top-100 within those 20,000 rows by inner product.
Tests read it from here only; nothing outside the repository is needed.
"""

from functools import cache
from pathlib import Path

from benchmarks.datasets import AnnDataset, load_ann_dev

MINILM = Path(__file__).resolve().parent / "fixtures" / "minilm"


@cache
def minilm() -> AnnDataset:
    """The fixture as float32 arrays, loaded once per session and read-only (prepare a
    copy, e.g. with `Metric.prepare`, before changing it)."""
    data = load_ann_dev(MINILM)
    for array in (data.base, data.queries, data.gt):
        array.flags.writeable = False
    return data
