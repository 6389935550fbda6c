"""Crash safety: a writer process is killed with SIGKILL at random moments, many times;
every acknowledged write must survive, no batch may be half-applied, and search must
still equal the brute-force oracle."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vectorstore import Database

from . import oracle
from .crash_writer import operation

ROOT = Path(__file__).resolve().parents[2]
KILLS = 12


def _state(runs: dict[int, int]) -> dict[str, tuple[np.ndarray, dict]]:
    """The oracle's records after applying `runs[r]` operations of each run r."""
    records: dict[str, tuple[np.ndarray, dict]] = {}
    for run, count in runs.items():
        for n in range(count):
            kind, ids, vectors, payloads = operation(run, n)
            if kind == "delete":
                for rid in ids:
                    records.pop(rid, None)
            else:
                for rid, vec, payload in zip(ids, vectors, payloads, strict=True):
                    records[rid] = (vec, payload)
    return records


def _run_and_kill(path: Path, run: int, rng: random.Random) -> int:
    """Start a writer, let it acknowledge a random number of operations, SIGKILL it
    at a random moment; return how many operations it acknowledged."""
    child = subprocess.Popen([sys.executable, "-m", "tests.vectorstore.crash_writer",
                              str(path), str(run)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    target = rng.randint(1, 25)
    acked = 0
    deadline = time.monotonic() + 120
    while acked < target and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acked = int(line.split()[1]) + 1
    time.sleep(rng.random() * 0.05)
    child.send_signal(signal.SIGKILL)
    rest = child.stdout.read()
    child.wait(timeout=30)
    acked += rest.count("\n")
    assert acked > 0, "writer acknowledged nothing before the deadline"
    return acked


def _holds(col, expected: dict[str, tuple[np.ndarray, dict]]) -> bool:
    """Whether the store holds exactly `expected`: same count, ids and payloads."""
    ids = sorted(expected)
    return col.count() == len(expected) and all(
        record is not None and record.payload == expected[rid][1]
        for rid, record in zip(ids, col.get(ids), strict=True))


def _check(col, expected: dict[str, tuple[np.ndarray, dict]]) -> None:
    assert _holds(col, expected)
    rng = np.random.default_rng(len(expected))
    for _ in range(5):
        query = rng.normal(size=16).astype(np.float32)
        want = oracle.search(expected, query, 10, "cosine", None)
        got = col.search(query, k=10)
        np.testing.assert_allclose([h.score for h in got], [s for _, s in want], atol=1e-5)


def test_acknowledged_writes_survive_sigkill(tmp_path):
    rng = random.Random(1234)
    acked: dict[int, int] = {}
    for run in range(KILLS):
        acked[run] = _run_and_kill(tmp_path, run, rng)
        with Database(tmp_path) as db:
            col = db.get_collection("c")
            if not _holds(col, _state(acked)):
                acked[run] += 1  # then the batch in flight at the kill must have landed whole
            _check(col, _state(acked))
