"""Uploaded files on disk, confined to `<data>/uploads/`.

A client's file name is never used as a path. Each upload is stored as
`uploads/<collection>/<32 hex><ext>`, a name the server generates (`ext` from an
allow-list); the original name, cleaned of folders and control characters, is kept only
in the registry. Every operation on a stored file takes the stored name from the
registry, checks its shape, and checks that its folder really is the collection's folder
inside `uploads/` (no symlinked folder leads out). Removing a file unlinks that entry
itself, so a symlink planted in its place is removed, never followed.
"""

import os
import re
import secrets
import shutil
import stat
import unicodedata
from pathlib import Path
from typing import BinaryIO

from app.errors import PayloadTooLarge, Unavailable, UnsupportedFile
from app.schemas.documents import readable_size
from ingest.errors import LoadError
from ingest.filetype import EXTENSIONS, detect
from vectorstore.database import NAME as COLLECTION_NAME

MAX_NAME = 200
_COPY_BLOCK = 1 << 20
_STORED = re.compile(r"[0-9a-f]{32}(\.[a-z]{2,8})")


def clean_filename(name: str | None) -> str:
    """The last path component of `name`, at most 200 chars, without control or format
    characters (a right-to-left override could disguise `txt.exe` as `exe.txt`)."""
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/")
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    text = text.rsplit("/", 1)[-1].strip()
    text = text.lstrip(".").strip()
    if len(text) > MAX_NAME:
        stem, ext = os.path.splitext(text)
        text = stem[: MAX_NAME - len(ext)] + ext
    return text or "upload"


def extension_of(filename: str) -> str:
    """The lower-case extension of a clean name, or UnsupportedFile if it is not loadable."""
    ext = os.path.splitext(filename)[1].lower()
    if ext not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise UnsupportedFile(f"unsupported file type; accepted: {known}")
    return ext


class UploadStore:
    """The uploads folder of a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.root = (data_dir / "uploads").resolve()

    def _folder(self, collection: str) -> Path | None:
        """The collection's folder if the name is a collection name and the folder, when
        it exists, is a real directory right inside the uploads root."""
        if not COLLECTION_NAME.fullmatch(collection) or collection.endswith(".tmp"):
            return None
        folder = self.root / collection
        if os.path.lexists(folder) and (
            folder.is_symlink() or not folder.is_dir() or folder.resolve() != folder
        ):
            return None
        return folder

    def save(self, collection: str, filename: str, content: BinaryIO, limit: int) -> str:
        """Copy `content` to a new generated name, checked for size and type; return the name.

        PayloadTooLarge or UnsupportedFile say why a file is refused (nothing is kept);
        Unavailable when the collection's folder was tampered with (a symlink)."""
        ext = extension_of(filename)
        folder = self._folder(collection)
        if folder is None:
            raise Unavailable(f"the uploads folder of collection {collection!r} is not a plain "
                              "folder inside the data directory: refusing to write through it")
        folder.mkdir(parents=True, exist_ok=True)
        stored = f"{secrets.token_hex(16)}{ext}"
        path = folder / stored
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
                _copy_bounded(content, out, limit)
            detect(path)
        except LoadError as e:
            path.unlink(missing_ok=True)
            raise UnsupportedFile(str(e)) from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return stored

    def path(self, collection: str, stored: str) -> Path | None:
        """The stored file, if the name has the generated shape, its folder is the real
        collection folder, and it is a regular file (not a symlink); else None."""
        folder = self._folder(collection)
        if folder is None or not _STORED.fullmatch(stored):
            return None
        path = folder / stored
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        return path if stat.S_ISREG(mode) else None

    def remove(self, collection: str, stored: str) -> None:
        """Unlink a stored file's entry (a symlink in its place goes, its target stays)."""
        folder = self._folder(collection)
        if folder is not None and _STORED.fullmatch(stored):
            (folder / stored).unlink(missing_ok=True)

    def remove_collection(self, collection: str) -> None:
        """Delete a collection's folder; rmtree never follows the symlinks inside it."""
        folder = self._folder(collection)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def entries(self) -> set[tuple[str, str]]:
        """Every entry under the uploads folder: (collection, name) inside the collection
        folders, ("", name) for anything else at the top (a file, a symlink)."""
        found: set[tuple[str, str]] = set()
        if not self.root.is_dir():
            return found
        for entry in os.scandir(self.root):
            if self._folder(entry.name) is not None and entry.is_dir(follow_symlinks=False):
                found.update((entry.name, name) for name in os.listdir(entry.path))
            elif not entry.is_dir(follow_symlinks=False):
                found.add(("", entry.name))
        return found

    def sweep(self, keep: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """Remove every entry not in `keep` (orphans of a crash, or anything planted there,
        symlinks unlinked, never followed); returns what went. Only safe while no upload is
        being saved: the server runs it on start, before it takes requests."""
        gone = sorted(self.entries() - keep)
        for collection, name in gone:
            path = self.root / collection / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return gone


def _copy_bounded(content: BinaryIO, out: BinaryIO, limit: int) -> None:
    written = 0
    while block := content.read(_COPY_BLOCK):
        written += len(block)
        if written > limit:
            raise PayloadTooLarge(
                f"larger than the upload limit of {readable_size(limit)}"
            )
        out.write(block)
