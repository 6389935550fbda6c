"""Record id -> global row id of the live records, with cheap immutable views.

Snapshots need the id map of their moment, but copying a dict of millions of ids on
every write is out of the question. The writer's map is two levels: a large `base` dict
that is never changed once a view holds it, and a small `delta` of recent changes
(None marks an id removed). A view copies only the delta; once the delta outgrows
8 sqrt(len(base)) they are folded into a new base: with batches of b changes a change
costs about 8 sqrt(n) / b + sqrt(n) / 8 entry copies, a few microseconds at a million
ids.
"""

import math
from collections.abc import Iterable

_FOLD_MIN = 512
_FOLD_SCALE = 8


class IdView:
    """The id map of one moment; never changes."""

    __slots__ = ("_base", "_delta", "_count")

    def __init__(self, base: dict[str, int], delta: dict[str, int | None], count: int) -> None:
        self._base = base
        self._delta = delta
        self._count = count

    def get(self, rid: str) -> int | None:
        if rid in self._delta:
            return self._delta[rid]
        return self._base.get(rid)

    def __len__(self) -> int:
        return self._count


class IdMap:
    """The writer's id map; one writer at a time (the collection's writer lock)."""

    def __init__(self) -> None:
        self._base: dict[str, int] = {}
        self._delta: dict[str, int | None] = {}
        self._count = 0

    def load(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Add distinct ids in bulk (opening: the sealed segments' live rows), before
        any other change or view."""
        self._base.update(pairs)
        self._count = len(self._base)

    def get(self, rid: str) -> int | None:
        if rid in self._delta:
            return self._delta[rid]
        return self._base.get(rid)

    def __contains__(self, rid: str) -> bool:
        return self.get(rid) is not None

    def __len__(self) -> int:
        return self._count

    def set(self, rid: str, row: int | None) -> int | None:
        """Map `rid` to `row` (None: remove it); return the row it had."""
        old = self.get(rid)
        if old is None and row is None:
            return None
        self._delta[rid] = row
        self._count += (row is not None) - (old is not None)
        return old

    def view(self) -> IdView:
        """An immutable view of the map as it is now."""
        if len(self._delta) > max(_FOLD_MIN, _FOLD_SCALE * math.isqrt(len(self._base))):
            base = dict(self._base)
            for rid, row in self._delta.items():
                if row is None:
                    base.pop(rid, None)
                else:
                    base[rid] = row
            self._base, self._delta = base, {}
        return IdView(self._base, dict(self._delta), self._count)
