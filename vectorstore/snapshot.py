"""Read-side state: an immutable snapshot of a collection's segments and tombstones.

A search takes one snapshot and never locks again; writers build a new one and swap
it in. The snapshot also turns a bitmap of allowed global row ids into a per-segment
mask of local rows, the form the index kernels take.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from pyroaring import BitMap

from .idmap import IdView
from .segment import GrowingView, SealedSegment
from .text.analyzer import Analyzer

Segment = SealedSegment | GrowingView


def rows_array(bitmap: BitMap) -> np.ndarray:
    """A bitmap's row ids as a sorted uint32 array."""
    return np.frombuffer(bitmap.to_array(), dtype=np.uint32)


def local_positions(rowids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Local positions in a segment (sorted `rowids`) of those `wanted` sorted row ids
    that it holds."""
    if wanted.size == 0 or rowids.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo = np.searchsorted(wanted, rowids[0], side="left")
    hi = np.searchsorted(wanted, rowids[-1], side="right")
    wanted = wanted[lo:hi]
    pos = np.searchsorted(rowids, wanted)
    return pos[rowids[pos] == wanted]


@dataclass(frozen=True)
class Snapshot:
    sealed: tuple[SealedSegment, ...]
    frozen: tuple[GrowingView, ...]
    growing: GrowingView
    dead: BitMap
    ids: IdView
    """Record id -> row of the live records."""
    row_limit: int
    """Rows from here on were written after this snapshot: the payload index, which
    readers share with the writer, may already hold them."""
    analyzer: Analyzer | None = None
    """The collection's text analyzer; None when it has no text index."""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def segments(self) -> tuple[Segment, ...]:
        return (*self.sealed, *self.frozen, self.growing)

    def visible(self, rows: BitMap) -> BitMap:
        """`rows` (from the payload index) less tombstones and rows newer than this
        snapshot."""
        out = rows - self.dead
        out.remove_range(self.row_limit, 1 << 32)
        return out

    def dead_rows(self) -> np.ndarray:
        """Tombstoned row ids, sorted (computed once per snapshot)."""
        if "dead_rows" not in self._cache:
            self._cache["dead_rows"] = rows_array(self.dead)
        return self._cache["dead_rows"]

    def masks(self, allowed: BitMap | None) -> list[np.ndarray | None]:
        """Per segment: None (every row allowed) or a uint8 mask of allowed local rows.

        `allowed` is a bitmap of allowed global rows (tombstones already removed), or
        None for "every live row", whose masks are computed once per snapshot.
        """
        if allowed is None:
            if "live_masks" not in self._cache:
                self._cache["live_masks"] = [self._live_mask(seg) for seg in self.segments]
            return self._cache["live_masks"]
        wanted = rows_array(allowed)
        out: list[np.ndarray | None] = []
        for seg in self.segments:
            mask = np.zeros(len(seg), dtype=np.uint8)
            mask[local_positions(seg.rowids, wanted)] = 1
            out.append(mask)
        return out

    def _live_mask(self, seg: Segment) -> np.ndarray | None:
        dead = local_positions(seg.rowids, self.dead_rows())
        if dead.size == 0:
            return None
        mask = np.ones(len(seg), dtype=np.uint8)
        mask[dead] = 0
        return mask

    @property
    def count(self) -> int:
        """Live records."""
        return len(self.ids)

    def locate(self, rows: np.ndarray) -> list[tuple[Segment, int] | None]:
        """(segment, local row) of each global row id in `rows`, in the order of `rows`;
        None for a row the snapshot does not hold."""
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        found: list[tuple[Segment, int] | None] = [None] * rows.size
        for seg in self.segments:
            if len(seg) == 0:
                continue
            pos = np.minimum(np.searchsorted(seg.rowids, ordered), len(seg) - 1)
            hit = seg.rowids[pos] == ordered
            for i in np.flatnonzero(hit).tolist():
                found[int(order[i])] = (seg, int(pos[i]))
        return found
