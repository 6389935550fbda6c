"""An immutable record id -> row map in arrays: the id map's base (`idmap.py`).

A Python dict of a million ids costs ~100 bytes each and seconds to fill at open. Here
each id is an entry of five arrays sorted by a 64-bit hash of its UTF-8 bytes: the hash
(uint64), its row (uint32), where its bytes start in a blob (int64) and how many there
are (uint16; ids are at most 512 characters): 22 bytes an id plus its bytes. A lookup
hashes the id, binary-searches the hashes and confirms the hit by comparing the stored
bytes (`kernels/idhash.py`), in one kernel call per batch of ids. Opening a collection
builds it from its sealed segments' memory-mapped id strings without decoding one: their
blobs are concatenated as they are and only the fixed-size arrays are sorted (moving the
bytes into hash order would be a random gather, slower than all the rest).
"""

from collections.abc import Iterable

import numpy as np

from .arrayfile import pack_strings
from .kernels.idhash import find_strings, hash_strings, pack_entries

_SLACK = 2
"""`updated` repacks the blob once it is this many times the bytes of the live ids (the
bytes of removed ids stay in it until then)."""


class IdTable:
    """Record id -> row; never changes (`updated` makes a new table)."""

    __slots__ = ("hashes", "rows", "starts", "lens", "blob")

    def __init__(self, hashes: np.ndarray, rows: np.ndarray, starts: np.ndarray,
                 lens: np.ndarray, blob: np.ndarray) -> None:
        self.hashes = hashes
        self.rows = rows
        self.starts = starts
        self.lens = lens
        self.blob = blob

    @classmethod
    def _sorted(cls, hashes: np.ndarray, rows: np.ndarray, starts: np.ndarray,
                lens: np.ndarray, blob: np.ndarray) -> "IdTable":
        """The table of entries (hash, row, string at start of length), put in order."""
        order = np.argsort(hashes)
        return cls(hashes[order], rows[order].astype(np.uint32, copy=False), starts[order],
                   lens[order].astype(np.uint16, copy=False), blob)

    @classmethod
    def empty(cls) -> "IdTable":
        """No ids (built without a kernel call: every collection starts from one)."""
        return cls(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint32),
                   np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint16),
                   np.zeros(0, dtype=np.uint8))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, int]]) -> "IdTable":
        """A table of distinct (id, row) pairs."""
        pairs = list(pairs)
        blob, offsets = pack_strings([rid.encode() for rid, _ in pairs])
        rows = np.fromiter((row for _, row in pairs), np.uint32, len(pairs))
        return cls._sorted(hash_strings(blob, offsets), rows, offsets[:-1], np.diff(offsets),
                           blob)

    @classmethod
    def from_segments(cls, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray,
                                             np.ndarray]]) -> "IdTable":
        """A table of the rows `rows` whose ids are strings `at` (local positions) of
        each (blob, offsets, at, rows) part: sealed segments' id strings as written
        (`arrayfile.write_strings`), their live rows."""
        if not parts:
            return cls.empty()
        hashes, starts, lens, shift = [], [], [], 0
        for blob, offsets, at, _ in parts:
            hashes.append(hash_strings(blob, offsets)[at])
            starts.append(offsets[at] + shift)
            lens.append(offsets[at + 1] - offsets[at])
            shift += blob.shape[0]
        return cls._sorted(np.concatenate(hashes), np.concatenate([p[3] for p in parts]),
                           np.concatenate(starts), np.concatenate(lens),
                           np.concatenate([part[0] for part in parts]))

    def __len__(self) -> int:
        return self.hashes.shape[0]

    def positions(self, rids: list[str]) -> np.ndarray:
        """Each id's entry (int64, -1: absent)."""
        if not len(self) or not rids:
            return np.full(len(rids), -1, dtype=np.int64)
        blob, offsets = pack_strings([rid.encode() for rid in rids])
        return find_strings(self.hashes, self.starts, self.lens, self.blob, offsets, blob)

    def get_many(self, rids: list[str]) -> list[int | None]:
        """Each id's row, None where absent."""
        if not len(self):
            return [None] * len(rids)
        at = self.positions(rids)
        rows = self.rows[np.maximum(at, 0)].tolist()
        return [row if i >= 0 else None for i, row in zip(at.tolist(), rows, strict=True)]

    def get(self, rid: str) -> int | None:
        return self.get_many([rid])[0] if len(self) else None

    def updated(self, changes: dict[str, int | None]) -> "IdTable":
        """A new table: this one with each id of `changes` mapped to its row, or removed
        where the row is None."""
        keep = np.ones(len(self), dtype=bool)
        at = self.positions(list(changes))
        keep[at[at >= 0]] = False
        added = [(rid, row) for rid, row in changes.items() if row is not None]
        new_blob, offsets = pack_strings([rid.encode() for rid, _ in added])
        kept = np.flatnonzero(keep)
        starts, lens = self.starts[kept], self.lens[kept]
        blob = self.blob
        if blob.shape[0] > _SLACK * int(lens.sum(dtype=np.int64)) + 4096:
            blob, starts = pack_entries(blob, starts, lens)
        return self._sorted(
            np.concatenate([self.hashes[kept], hash_strings(new_blob, offsets)]),
            np.concatenate([self.rows[kept],
                            np.fromiter((row for _, row in added), np.uint32, len(added))]),
            np.concatenate([starts, offsets[:-1] + blob.shape[0]]),
            np.concatenate([lens, np.diff(offsets)]),
            np.concatenate([blob, new_blob]))
