"""Record id -> global row id of the live records, with free immutable views.

Snapshots need the id map of their moment, but copying a map of millions of ids on
every write is out of the question, and so is copying even a few hundred recent changes
on every publish (tens of microseconds of a small batch's write). The writer's map is a
`base` (an `IdTable`: sorted id hashes, rows and id bytes in arrays, built at open from
the sealed segments without a Python object per id) that is never changed once a view
may hold it, and a log of the changes since: `rows[i]` is change i's row (None: the id
removed), `prev[i]` the id's change before it (-1: none since the base), `latest` each
changed id's last change. A view is the four references and the log length of its
moment: it copies nothing. A view's lookup takes the id's last change and walks `prev`
back past changes newer than the view (rare: only ids changed after it was taken); the
writer only appends to the log and then points `latest` at the new entry (single dict
and list operations, atomic for readers, in that order so a reader never follows
`latest` past the log's end).
Once the log outgrows a quarter of the base they are folded into a new base and a new
log (the old ones stay with the views holding them): about five entry copies per
change, array copies rather than dict inserts.
"""

from collections.abc import Iterable

from .idtable import IdTable

_FOLD_MIN = 4096
_FOLD_SHARE = 4


class IdView:
    """The id map of one moment; never changes."""

    __slots__ = ("_base", "_latest", "_rows", "_prev", "_limit", "_count")

    def __init__(self, base: IdTable, latest: dict[str, int],
                 rows: list[int | None], prev: list[int], limit: int, count: int) -> None:
        self._base = base
        self._latest = latest
        self._rows = rows
        self._prev = prev
        self._limit = limit
        self._count = count

    def get(self, rid: str) -> int | None:
        return self.get_many([rid])[0]

    def get_many(self, rids: list[str]) -> list[int | None]:
        """Each id's row (None: absent), the base looked up in one call."""
        latest, limit, prev, log = self._latest, self._limit, self._prev, self._rows
        out = self._base.get_many(rids)
        for i, rid in enumerate(rids):
            at = latest.get(rid)
            if at is not None:
                while at >= limit:
                    at = prev[at]
                if at >= 0:
                    out[i] = log[at]
        return out

    def __len__(self) -> int:
        return self._count


class IdMap:
    """The writer's id map; one writer at a time (the collection's writer lock)."""

    def __init__(self) -> None:
        self._base = IdTable.empty()
        self._latest: dict[str, int] = {}
        self._rows: list[int | None] = []
        self._prev: list[int] = []
        self._count = 0

    def load(self, table: IdTable) -> None:
        """Start from `table` (opening: the sealed segments' live rows), before any
        other change or view."""
        self._base = table
        self._count = len(table)

    def get(self, rid: str) -> int | None:
        at = self._latest.get(rid)
        if at is not None:
            return self._rows[at]
        return self._base.get(rid)

    def get_many(self, rids: list[str]) -> list[int | None]:
        """Each id's row (None: absent), the base looked up in one call."""
        latest, log = self._latest, self._rows
        out = self._base.get_many(rids)
        for i, rid in enumerate(rids):
            at = latest.get(rid)
            if at is not None:
                out[i] = log[at]
        return out

    def __contains__(self, rid: str) -> bool:
        return self.get(rid) is not None

    def __len__(self) -> int:
        return self._count

    def set(self, rid: str, row: int | None) -> int | None:
        """Map `rid` to `row` (None: remove it); return the row it had."""
        return self.set_many([rid], [row])[0]

    def set_many(self, rids: list[str], rows: Iterable[int | None]) -> list[int | None]:
        """`set` each id to its row, in order; the rows they had (a batch's ids in one
        call: the per-id work is a few dict and list operations)."""
        latest, log, prev = self._latest, self._rows, self._prev
        based = self._base.get_many(rids)  # one kernel call for the batch
        olds: list[int | None] = []
        count = self._count
        for rid, row, in_base in zip(rids, rows, based, strict=True):
            before = latest.get(rid)
            old = in_base if before is None else log[before]
            olds.append(old)
            if old is None and row is None:
                continue
            log.append(row)  # the entry first: a view may follow `latest` to it at once
            prev.append(-1 if before is None else before)
            latest[rid] = len(log) - 1
            count += (row is not None) - (old is not None)
        self._count = count
        if len(log) > max(_FOLD_MIN, len(self._base) // _FOLD_SHARE):
            self._fold()
        return olds

    def _fold(self) -> None:
        """Apply the log to a new base and start a new log (views taken before keep the
        old ones)."""
        log = self._rows
        base = self._base.updated({rid: log[at] for rid, at in self._latest.items()})
        self._base, self._latest, self._rows, self._prev = base, {}, [], []

    def view(self) -> IdView:
        """An immutable view of the map as it is now."""
        return IdView(self._base, self._latest, self._rows, self._prev, len(self._rows),
                      self._count)
