"""Durable file primitives: fsync'd writes, atomic replace, directory sync."""

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename or create inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_tree(root: Path) -> None:
    """Make every file and directory below `root`, and `root` itself, durable."""
    for directory, _, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(directory))


def file_bytes(path: Path) -> int:
    """A file's size; 0 if it was removed meanwhile (a retired WAL file, a segment a
    compaction replaced)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def tree_bytes(directory: Path) -> int:
    """Bytes of the files directly in `directory` (0 if it is gone)."""
    try:
        paths = list(directory.iterdir())
    except FileNotFoundError:
        return 0
    return sum(file_bytes(path) for path in paths)
