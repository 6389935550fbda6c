"""A real disk-full test: the data directory on a small tmpfs that the test mounts (it
runs as root here and in CI; elsewhere it says why it did not run). Write until the disk
refuses, check the error, check every acknowledged record, reopen on the full disk, free
space, write again and seal."""

import errno
import os
import subprocess

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.errors import MaintenanceFailed, StorageFull

SIZE = 8 << 20
FILLER = 6 << 20
BATCH = 25
DIM = 64


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs mounted at tmp_path/disk, 6 MiB of it taken by a filler file."""
    if os.geteuid() != 0:
        pytest.skip(reason="mounting a size-limited tmpfs needs root "
                           "(this test runs as root in CI)")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"could not mount a tmpfs as root: {done.stderr.strip()}")
    try:
        (mount / "filler").write_bytes(b"\0" * FILLER)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _batch(n: int) -> tuple[list[str], np.ndarray, list[dict]]:
    ids = [f"b{n}-{i}" for i in range(BATCH)]
    vectors = np.random.default_rng(n).normal(size=(BATCH, DIM)).astype(np.float32)
    return ids, vectors, [{"batch": n, "i": i, "pad": "x" * 200} for i in range(BATCH)]


def _plug(path) -> None:
    """Take every byte left on the disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def _holds(col, acked: dict[str, dict]) -> None:
    """Every acknowledged record is there, whole, and nothing else."""
    assert col.count() == len(acked)
    ids = sorted(acked)
    got = col.get(ids, include_vectors=False)
    assert [r.payload if r else None for r in got] == [acked[rid] for rid in ids]
    query = _batch(0)[1][3]
    assert col.search(query, k=1)[0].id == "b0-3"


def test_disk_full_fails_writes_clearly_keeps_data_and_recovers(small_disk):
    acked: dict[str, dict] = {}
    db = Database(small_disk / "data")
    col = db.create_collection("c", dim=DIM, metric="cosine", index="flat", seal_rows=200,
                               wal_file_bytes=256 << 10)
    error = None
    for n in range(2000):
        ids, vectors, payloads = _batch(n)
        try:
            col.upsert(ids, vectors, payloads)
        except StorageFull as exc:
            error = exc
            break
        acked.update(zip(ids, payloads, strict=True))
    assert error is not None, "the disk never filled"
    assert isinstance(error.__cause__, OSError) or "No space left" in str(error)
    assert "No space left on device" in str(error) and "nothing of it is stored" in str(error)
    assert len(acked) > 100
    _holds(col, acked)
    _plug(small_disk / "plug")  # not a page left
    with pytest.raises(StorageFull):  # still full: still refused, still clearly
        col.upsert(*_batch(5000))
    with pytest.raises(MaintenanceFailed, match="No space left on device"):
        col.flush()  # sealing needs space too: it fails and says so, it does not hang
    assert col.health().status == "degraded"
    _holds(col, acked)
    db.close()

    db = Database(small_disk / "data")  # reopen on the full disk
    col = db.get_collection("c")
    _holds(col, acked)
    (small_disk / "filler").unlink()  # free space
    (small_disk / "plug").unlink()
    for n in range(3000, 3010):
        ids, vectors, payloads = _batch(n)
        col.upsert(ids, vectors, payloads)
        acked.update(zip(ids, payloads, strict=True))
    col.flush()
    col.compact()
    assert col.health().status == "ok", col.health()
    _holds(col, acked)
    db.close()
    with Database(small_disk / "data") as db:
        _holds(db.get_collection("c"), acked)


def test_a_full_disk_is_reported_by_errno_not_guessed(small_disk):
    with Database(small_disk / "data") as db:
        col = db.create_collection("c", dim=DIM, index="flat")
        (small_disk / "more").write_bytes(b"\0" * (SIZE - FILLER - (300 << 10)))
        with pytest.raises(StorageFull) as info:
            for n in range(1000):
                col.upsert(*_batch(n))
        cause = info.value.__cause__ or info.value.__context__
        assert isinstance(cause, OSError) and cause.errno == errno.ENOSPC
