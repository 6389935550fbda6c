"""Without the development set a benchmark ends with one line saying what is missing and
how to get it, not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.datasets import ANN_DEV, DATASETS_ENV, require

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("benchmark", ["benchmarks.flat", "benchmarks.api"])
def test_benchmark_without_data_exits_with_one_line(tmp_path: Path, benchmark: str) -> None:
    missing = tmp_path / "datasets"
    done = subprocess.run([sys.executable, "-m", benchmark], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, DATASETS_ENV: str(missing)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [f"benchmark data missing: {missing / ANN_DEV[0]} not found; put the shared "
                     f"datasets folder beside the checkout (../shared/datasets), point "
                     f"{DATASETS_ENV} at a copy, or rebuild it with `python -m "
                     f"benchmarks.build_ann_dev` (Debian docs, about 25 minutes)"], done.stderr


def test_require_names_the_first_missing_file(tmp_path: Path) -> None:
    (tmp_path / ANN_DEV[0]).write_bytes(b"")
    with pytest.raises(SystemExit, match=f"{tmp_path / ANN_DEV[1]} not found; get it"):
        require(tmp_path, how="get it")
    for name in ANN_DEV[1:]:
        (tmp_path / name).write_bytes(b"")
    assert require(tmp_path) == tmp_path
