"""Segments: the growing in-memory buffer and immutable sealed segments on disk.

Both answer the same calls: `rowids` (sorted uint32 global row ids), `search(queries,
k, allowed, params)` over local rows, `record(local) -> (id, payload)` and
`vector(local)`, in bulk `record_ids(rows)` and `payloads_at(rows)`, and `text`: the
segment's text postings (`text/postings.py`), or None when the collection has no text
index. A sealed segment is a directory of array files
(see `arrayfile.py`): vectors, rowids, ids and payloads (UTF-8 blobs with offsets),
its slice of the payload index (`payload_slices.py`), whatever its index writes and its
text postings; it is opened memory-mapped and never
changes.
"""

import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .arrayfile import StringArray, read_array, write_array, write_rows, write_strings
from .config import INDEX_CONFIGS, IndexConfig
from .flat import exact_search
from .fsutil import fsync_dir, tree_bytes
from .metrics import Metric
from .payload_slices import open_slice, write_slice
from .payloads import payload_keys
from .text.analyzer import Analyzer
from .text.postings import FILES as TEXT_FILES
from .text.postings import GrowingPostings, GrowingPostingsView, PostingArrays, SealedPostings

DECODE_BLOCK = 8192


def decode_payloads(blobs: list[bytes] | list[memoryview]) -> list[dict[str, Any]]:
    """Stored payloads (canonical JSON objects) decoded in one parser call: a search's
    ten hits cost one call instead of ten (~1 us less)."""
    if not blobs:
        return []
    return orjson.loads(b"[" + b",".join(blobs) + b"]")


def index_class(kind: str) -> Any:
    """The index class registered for an index type name (`config.INDEX_CONFIGS`)."""
    module, name = INDEX_CONFIGS[kind].implementation.split(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class GrowingView:
    """An immutable view of the first `length` rows of a growing buffer."""

    vectors: np.ndarray
    rowids: np.ndarray
    ids: list[str]
    payloads: list[bytes]
    """Canonical JSON of each row's payload (decoded on every read, like a sealed
    segment's, so no reader shares or alters the stored object)."""
    metric: Metric
    text: GrowingPostingsView | None = None

    def __len__(self) -> int:
        return self.rowids.shape[0]

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return exact_search(self.vectors, queries, k, self.metric.kernel, allowed)

    def record(self, local: int) -> tuple[str, dict[str, Any]]:
        return self.ids[local], orjson.loads(self.payloads[local])

    def record_id(self, local: int) -> str:
        return self.ids[local]

    def record_ids(self, rows: list[int]) -> list[str]:
        ids = self.ids
        return [ids[r] for r in rows]

    def payloads_at(self, rows: list[int]) -> list[dict[str, Any]]:
        payloads = self.payloads
        return decode_payloads([payloads[r] for r in rows])

    def vector(self, local: int) -> np.ndarray:
        return np.array(self.vectors[local])

    def payload_bytes(self) -> list[bytes]:
        return self.payloads[:len(self)]


class GrowingSegment:
    """Append-only float32 buffer of the newest rows; one writer appends, views are
    handed to readers. Growth reallocates, so an old view keeps its own array."""

    def __init__(self, dim: int, metric: Metric, analyzer: Analyzer | None = None,
                 capacity: int = 1024) -> None:
        self.metric = metric
        self._text = None if analyzer is None else GrowingPostings(analyzer)
        self._vectors = np.empty((capacity, dim), dtype=np.float32)
        self._rowids = np.empty(capacity, dtype=np.uint32)
        self._ids: list[str] = []
        self._payloads: list[bytes] = []
        self.length = 0

    def append(self, rowids: np.ndarray, vectors: list[np.ndarray], ids: list[str],
               payloads: list[bytes], objects: list[dict[str, Any]]) -> None:
        """Add rows; `vectors` are their matrices, one per batch (copied in once, with
        no joined copy of a group's batches), `payloads` their canonical JSON, `objects`
        the same payloads decoded (what the text index analyses)."""
        n = len(ids)
        end = self.length + n
        if end > self._rowids.shape[0]:
            capacity = max(end, 2 * self._rowids.shape[0])
            grown = np.empty((capacity, self._vectors.shape[1]), dtype=np.float32)
            grown[:self.length] = self._vectors[:self.length]
            grown_ids = np.empty(capacity, dtype=np.uint32)
            grown_ids[:self.length] = self._rowids[:self.length]
            self._vectors, self._rowids = grown, grown_ids
        np.concatenate(vectors, out=self._vectors[self.length:end])
        self._rowids[self.length:end] = rowids
        self._ids.extend(ids)
        self._payloads.extend(payloads)
        if self._text is not None:
            self._text.append(objects)
        self.length = end

    def truncate(self, length: int) -> None:
        """Forget the rows from `length` on (undoing an append no view has seen)."""
        self.length = length
        del self._ids[length:]
        del self._payloads[length:]
        if self._text is not None:
            self._text.truncate(length)

    def view(self, length: int | None = None) -> GrowingView:
        """A view of the first `length` rows (all by default). Rows once appended stay
        as they are until truncated away, so a view of an earlier length can be built
        later, from another thread, while the writer appends."""
        n = self.length if length is None else length
        return GrowingView(self._vectors[:n], self._rowids[:n], self._ids, self._payloads,
                           self.metric, None if self._text is None else self._text.view(n))


class SealedSegment:
    """An immutable, memory-mapped segment with its ANN index and, when `text`, its text
    postings."""

    def __init__(self, directory: Path, metric: Metric, config: IndexConfig,
                 text: bool = False) -> None:
        self.directory = directory
        self.name = directory.name
        self.metric = metric
        self.vectors = read_array(directory / "vectors.arr")
        self.rowids = read_array(directory / "rowids.arr")
        self._ids = StringArray(directory, "ids")
        self._payloads = StringArray(directory, "payloads")
        self.index = index_class(config.type).open(directory, self.vectors, metric, config)
        self.config = config
        self.text = SealedPostings(directory, len(self.rowids)) if text else None
        self.payload_slice = open_slice(directory, self.rowids)
        """Its share of the payload index (`payload_slices.py`); None for a segment
        written before those files existed."""

    def __len__(self) -> int:
        return self.rowids.shape[0]

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(queries, k, allowed, params)

    def record(self, local: int) -> tuple[str, dict[str, Any]]:
        return self._ids[local].decode(), orjson.loads(self._payloads[local])

    def record_id(self, local: int) -> str:
        return self._ids[local].decode()

    def record_ids(self, rows: list[int]) -> list[str]:
        """The ids of the local `rows`, decoded in one pass (a search's hits)."""
        return [str(view, "utf-8") for view in self._ids.views(rows)]

    def payloads_at(self, rows: list[int]) -> list[dict[str, Any]]:
        """The payloads of the local `rows`, decoded in one call."""
        return decode_payloads(self._payloads.views(rows))

    def payload_bytes(self, local: int) -> bytes:
        return self._payloads[local]

    def id_strings(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored ids as written (`write_strings`): (UTF-8 blob, n + 1 offsets)."""
        return self._ids.blob, self._ids.offsets

    def payloads(self) -> list[dict[str, Any]]:
        """Every row's payload, in row order (decoded a block of rows per call)."""
        n = len(self)
        return [payload for lo in range(0, n, DECODE_BLOCK)
                for payload in self.payloads_at(range(lo, min(n, lo + DECODE_BLOCK)))]

    def vector(self, local: int) -> np.ndarray:
        return np.array(self.vectors[local])

    def disk_bytes(self) -> int:
        return tree_bytes(self.directory)

    def text_bytes(self) -> int:
        """Bytes of the text postings' files (0 without a text index)."""
        return sum(f.stat().st_size for f in self.directory.iterdir() if f.name in TEXT_FILES)


def _fresh(directory: Path) -> Path:
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _publish(tmp: Path, directory: Path) -> None:
    fsync_dir(tmp)
    os.replace(tmp, directory)
    fsync_dir(directory.parent)


def write_segment(directory: Path, rowids: np.ndarray,
                  vectors: np.ndarray | list[tuple[np.ndarray, np.ndarray]], ids: list[str],
                  payloads: list[bytes], metric: Metric, config: IndexConfig,
                  text: PostingArrays | None = None, grow: Any = None) -> SealedSegment:
    """Build the index over `vectors` and write a complete segment at `directory`, with
    `text` postings when given. `grow`: an index whose rows are the first of `vectors`
    and that can be `extended` (hnsw), which the new index then grows from instead of
    being built from scratch.

    `vectors` is an (n, d) array, or a merge's (source vectors, rows) parts, which are
    streamed to the file (`write_rows`) and never held in RAM whole; the index is built
    from the written file, memory-mapped.

    Everything is written into `<directory>.tmp` first and renamed at the end, so a crash
    leaves no half segment under the final name.
    """
    tmp = _fresh(directory)
    if isinstance(vectors, list):
        write_rows(tmp / "vectors.arr", vectors, vectors[0][0].shape[1])
    else:
        write_array(tmp / "vectors.arr", np.ascontiguousarray(vectors, dtype=np.float32))
    write_array(tmp / "rowids.arr", np.ascontiguousarray(rowids, dtype=np.uint32))
    write_strings(tmp, "ids", [i.encode() for i in ids])
    write_strings(tmp, "payloads", payloads)
    write_slice(tmp, rowids, [payload_keys(p) for lo in range(0, len(payloads), DECODE_BLOCK)
                              for p in decode_payloads(payloads[lo:lo + DECODE_BLOCK])])
    written = read_array(tmp / "vectors.arr")
    index = index_class(config.type).build(written, metric, config) if grow is None else \
        grow.extended(written)
    index.write(tmp)
    if text is not None:
        text.write(tmp)
    _publish(tmp, directory)
    return SealedSegment(directory, metric, config, text is not None)


def with_text(segment: SealedSegment, directory: Path, text: PostingArrays) -> SealedSegment:
    """A copy of `segment` at `directory` with `text` as its postings: its other files are
    hard links (sealed files never change), so only the postings are written."""
    tmp = _fresh(directory)
    for path in segment.directory.iterdir():
        if path.name not in TEXT_FILES:
            os.link(path, tmp / path.name)
    text.write(tmp)
    _publish(tmp, directory)
    return SealedSegment(directory, segment.metric, segment.config, True)
