"""An immutable record id -> row map in four arrays: the id map's base (`idmap.py`).

A Python dict of a million ids costs ~100 bytes each and seconds to fill at open. Here
the ids are 64-bit hashes sorted ascending (uint64), each with its row (uint32) and its
UTF-8 bytes packed in one blob (int64 offsets), ~20 bytes an id plus its length. A
lookup hashes the id, binary-searches the hashes and confirms the hit by comparing the
stored bytes (`kernels/idhash.py`), in one kernel call per batch of ids. Opening a
collection builds it straight from its sealed segments' memory-mapped id strings,
decoding none.
"""

from collections.abc import Iterable

import numpy as np

from .arrayfile import pack_strings
from .kernels.idhash import find_strings, gather_strings, hash_strings

_NO_ROWS = np.zeros(0, dtype=np.uint32)


class IdTable:
    """Record id -> row; never changes (`updated` makes a new table)."""

    __slots__ = ("hashes", "rows", "offsets", "blob")

    def __init__(self, hashes: np.ndarray, rows: np.ndarray, offsets: np.ndarray,
                 blob: np.ndarray) -> None:
        self.hashes = hashes
        self.rows = rows
        self.offsets = offsets
        self.blob = blob

    @classmethod
    def empty(cls) -> "IdTable":
        return cls(np.zeros(0, dtype=np.uint64), _NO_ROWS, np.zeros(1, dtype=np.int64),
                   np.zeros(0, dtype=np.uint8))

    @classmethod
    def _sorted(cls, hashes: np.ndarray, rows: np.ndarray, blob: np.ndarray,
                starts: np.ndarray, ends: np.ndarray) -> "IdTable":
        """The table of entries i (hash, row, string blob[starts[i]:ends[i]]), sorted."""
        order = np.argsort(hashes, kind="stable")
        packed, offsets = gather_strings(blob, starts, ends, order)
        return cls(hashes[order], rows[order].astype(np.uint32), offsets, packed)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, int]]) -> "IdTable":
        """A table of distinct (id, row) pairs."""
        pairs = list(pairs)
        blob, offsets = pack_strings([rid.encode() for rid, _ in pairs])
        rows = np.fromiter((row for _, row in pairs), np.uint32, len(pairs))
        return cls._sorted(hash_strings(blob, offsets), rows, blob, offsets[:-1], offsets[1:])

    @classmethod
    def from_segments(cls, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray,
                                             np.ndarray]]) -> "IdTable":
        """A table of the rows `rows` whose ids are strings `at` (local positions) of
        each (blob, offsets, at, rows) part: sealed segments' id strings as written
        (`arrayfile.write_strings`), their live rows."""
        if not parts:
            return cls.empty()
        hashes, starts, ends, shift = [], [], [], 0
        for blob, offsets, at, _ in parts:
            hashes.append(hash_strings(blob, offsets)[at])
            starts.append(offsets[at] + shift)
            ends.append(offsets[at + 1] + shift)
            shift += blob.shape[0]
        blob = np.concatenate([part[0] for part in parts])
        return cls._sorted(np.concatenate(hashes), np.concatenate([p[3] for p in parts]),
                           blob, np.concatenate(starts), np.concatenate(ends))

    def __len__(self) -> int:
        return self.hashes.shape[0]

    def positions(self, rids: list[str]) -> np.ndarray:
        """Each id's entry (int64, -1: absent)."""
        if not len(self) or not rids:
            return np.full(len(rids), -1, dtype=np.int64)
        blob, offsets = pack_strings([rid.encode() for rid in rids])
        return find_strings(self.hashes, self.offsets, self.blob, offsets, blob)

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
        blob, offsets = pack_strings([rid.encode() for rid, _ in added])
        kept = np.flatnonzero(keep)
        shift = self.blob.shape[0]
        return self._sorted(
            np.concatenate([self.hashes[kept], hash_strings(blob, offsets)]),
            np.concatenate([self.rows[kept],
                            np.fromiter((row for _, row in added), np.uint32, len(added))]),
            np.concatenate([self.blob, blob]),
            np.concatenate([self.offsets[kept], offsets[:-1] + shift]),
            np.concatenate([self.offsets[kept + 1], offsets[1:] + shift]))
