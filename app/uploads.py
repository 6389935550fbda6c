"""Uploaded files on disk: sanitised names, generated paths, size and type checks.

A client's file name is never used as a path. Each upload is stored as
`<data>/uploads/<collection>/<random hex><ext>`, where `ext` comes from an allow-list;
the original name, cleaned of folders and control characters, is kept only as metadata.
"""

import os
import secrets
import shutil
import unicodedata
from pathlib import Path
from typing import BinaryIO

from app.errors import PayloadTooLarge, UnsupportedFile
from ingest.errors import LoadError
from ingest.filetype import EXTENSIONS, detect

MAX_NAME = 200
_COPY_BLOCK = 1 << 20


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
        raise UnsupportedFile(f"{filename!r}: unsupported file type; accepted: {known}")
    return ext


class UploadStore:
    """The uploads folder of a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.root = (data_dir / "uploads").resolve()

    def folder(self, collection: str) -> Path:
        """The folder of a collection's uploads (the name is a checked collection name)."""
        return self.root / collection

    def save(self, collection: str, filename: str, content: BinaryIO, limit: int) -> Path:
        """Copy `content` to a new generated path, checked for size and type; return it."""
        folder = self.folder(collection)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{secrets.token_hex(16)}{extension_of(filename)}"
        try:
            with open(path, "xb") as out:
                _copy_bounded(content, out, limit, filename)
            detect(path)
        except LoadError as e:
            path.unlink(missing_ok=True)
            raise UnsupportedFile(f"{filename!r}: {e}") from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def owns(self, source: str) -> bool:
        """Whether `source` is a file this store wrote."""
        return Path(source).parent.parent == self.root

    def remove(self, source: str) -> None:
        """Delete an uploaded file; paths outside the store are left alone."""
        if self.owns(source):
            Path(source).unlink(missing_ok=True)

    def remove_collection(self, collection: str) -> None:
        shutil.rmtree(self.folder(collection), ignore_errors=True)


def _copy_bounded(content: BinaryIO, out: BinaryIO, limit: int, filename: str) -> None:
    written = 0
    while block := content.read(_COPY_BLOCK):
        written += len(block)
        if written > limit:
            raise PayloadTooLarge(f"{filename!r} is larger than the limit of {limit} bytes")
        out.write(block)
