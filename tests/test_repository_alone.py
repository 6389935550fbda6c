"""The suite needs nothing beside the checkout: the guard in conftest refuses reads of
../shared, and the shipped real-embedding fixture is what its README says it is."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import OUTSIDE
from tests.realdata import MINILM, minilm

SHA256 = {
    "ann_dev_base.npy": "426b10e26b5e950da445ccd0f9ff1db74eb79d54f178c28088b6d323054dc0c1",
    "ann_dev_queries.npy": "96e6d4daff9a326d626cdbb2a477222fd065f8cf3bda83b182f73f9158d4e638",
    "ann_dev_gt.npy": "65649f57807369b44976a9bb06df8c63291fa8c7f66493cb547c6d5159dbf12f",
}


@pytest.mark.parametrize("path", [Path(OUTSIDE[0]) / "datasets" / "ann_dev_base.npy",
                                  Path(OUTSIDE[0])])
def test_reading_the_shared_folder_fails_the_test(path: Path) -> None:
    with pytest.raises(PermissionError, match="never ../shared"):
        path.read_bytes() if path.suffix else list(path.iterdir())


def test_fixture_files_are_the_committed_ones() -> None:
    """A checkout that kept Git LFS pointers or a truncated file fails here, by name."""
    for name, digest in SHA256.items():
        assert hashlib.sha256((MINILM / name).read_bytes()).hexdigest() == digest, name


def test_fixture_shapes_and_norms() -> None:
    data = minilm()
    assert data.base.shape == (20_000, 384) and data.base.dtype == np.float32
    assert data.queries.shape == (500, 384) and data.gt.shape == (500, 100)
    norms = np.linalg.norm(np.concatenate([data.base, data.queries]), axis=1)
    assert np.abs(norms - 1).max() < 1e-3


def test_ground_truth_is_the_exact_top_100() -> None:
    """Every fifth query re-checked in float64 against the whole base slice."""
    data = minilm()
    queries, gt = data.queries[::5].astype(np.float64), data.gt[::5]
    scores = queries @ data.base.astype(np.float64).T
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :100]
    np.testing.assert_array_equal(gt, expected)
