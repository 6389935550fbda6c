"""Which files a folder holds for ingest, and how each is identified and fingerprinted."""

import fnmatch
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.filetype import EXTENSIONS

TEMP_PATTERNS = ("~$*", "*.swp", "*.part", ".#*")
"""Editor and download temp files: never ingested, never a reason to sync."""

DEFAULT_INCLUDE = tuple(f"*{ext}" for ext in EXTENSIONS)

_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file as the store knows it: its path, display name, id, size, mtime, content hash.

    `path` (absolute) is the file's identity: `doc_id` derives from it, and the next run
    finds the stored document by it. `source` is what users see: the path relative to the
    folder that was ingested (the file name when a single file was), so hits do not tell
    where on the server the files live. An upload (`filename` set) is read from `path`
    but known by its `doc_id` alone: its chunks keep no path at all.
    """

    path: str
    source: str
    doc_id: str
    size: int
    mtime: float
    content_hash: str
    filename: str | None = None
    """The original name of an uploaded file (see `Named`); None for a file of a folder."""


@dataclass(frozen=True, slots=True)
class Named:
    """A file ingested under an identity its caller chose: an uploaded file, stored under
    a generated name that means nothing to users and may move with its data directory.

    The document takes `doc_id` (stable wherever `path` lies) and shows `filename`, its
    original name, as its source; its chunks keep no path (the data directory's location
    is nobody's business); a title the loader could only take from the stored name is
    taken from `filename` instead.
    """

    path: str
    doc_id: str
    filename: str


def source_of(path: str | os.PathLike) -> str:
    """The absolute, normalised path a document is stored under (symlinks not resolved)."""
    return os.path.abspath(path)


def shown_source(path: str, root: str) -> str:
    """What users see of the file at absolute `path` found under the ingested folder `root`."""
    return Path(os.path.relpath(path, root)).as_posix()


def doc_id_of(path: str) -> str:
    """A short stable id derived from a document's absolute path."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, read in slices."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_skipped_name(name: str) -> bool:
    """Hidden files and folders and editor temp files are never picked up by a walk."""
    return name.startswith(".") or any(fnmatch.fnmatch(name, p) for p in TEMP_PATTERNS)


class FileSelector:
    """Include and exclude globs, matched against a file's name or its path under the root."""

    def __init__(
        self, include: Sequence[str] | None = None, exclude: Sequence[str] = ()
    ) -> None:
        self.include = tuple(include) if include else DEFAULT_INCLUDE
        self.exclude = tuple(exclude)

    def accepts(self, relative: str) -> bool:
        """Whether a file at `relative` (posix path under the root) is ingested."""
        name = relative.rsplit("/", 1)[-1]
        if is_skipped_name(name):
            return False
        return self._matches(self.include, relative, name) and not self._matches(
            self.exclude, relative, name
        )

    @staticmethod
    def _matches(patterns: tuple[str, ...], relative: str, name: str) -> bool:
        return any(
            fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns
        )

    def walk(self, root: str | os.PathLike) -> Iterator[str]:
        """Sources of the accepted files below `root`, recursively, in a stable order.

        Hidden folders are pruned and folder symlinks are not followed, so a symlink loop
        cannot trap the walk; a file symlink is listed and fails later if it loops.
        """
        root = source_of(root)
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = os.path.join(folder, name)
                if self.accepts(Path(os.path.relpath(path, root)).as_posix()):
                    yield path
