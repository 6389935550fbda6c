"""The per-field inverted index of payloads that filters compile against.

Every payload is a JSON object (checked by `validate.py` before it gets here). Its
fields are indexed by dotted path (nested objects are flattened; a list indexes each
scalar element under the list's path):
- equality: path -> typed value -> roaring bitmap of row ids (strings, numbers, bools, null);
- numeric ranges: path -> (values, row ids) sorted by value, rebuilt lazily after writes;
- presence: path -> bitmap of rows that have the path at all.
Rows are never removed except by `drop_rows` (compaction); tombstones are subtracted by
the caller, so deleting is one bitmap update and no index surgery.

The rows of sealed segments that carry their slice of the index on disk
(`payload_slices.py`) are not held here but answered from those slices, attached and
detached as segments come and go (`swap_slices`); the structures above hold the rest:
rows written since open, and segments written before slices existed.
"""

import math
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
from pyroaring import BitMap

from .payload_slices import PayloadSlice, sorted_bitmap

Scalar = str | int | float | bool | None
KEY_TYPES = (str, bool, int, float, type(None))


def value_key(value: Scalar) -> tuple:
    """A hashable key where 3 == 3.0 but True != 1 and "1" != 1."""
    kind = type(value)
    if kind is str:
        return ("s", value)
    if kind is bool:
        return ("b", value)
    if value is None:
        return ("z", None)
    return ("n", float(value))


def key_value(key: tuple) -> Scalar:
    """The user-facing value of a key made by `value_key`."""
    kind, value = key
    if kind == "n" and float(value).is_integer():
        return int(value)
    return value


def flatten(payload: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Yield (dotted path, scalar) for every indexable value of a payload; the value is
    Ellipsis for a path that is present but holds no scalar (an object, an empty list).

    Iterative, so no payload is too deep for it."""
    pending: list[tuple[str, dict[str, Any]]] = [("", payload)]
    while pending:
        prefix, obj = pending.pop()
        for name, value in obj.items():
            path = f"{prefix}{name}"
            if isinstance(value, dict):
                yield path, ...
                pending.append((path + ".", value))
            elif isinstance(value, list | tuple):
                yield path, ...
                for item in value:
                    if isinstance(item, KEY_TYPES):
                        yield path, item
            else:
                yield path, value


def payload_keys(payload: dict[str, Any]) -> list[tuple[str, tuple | None]]:
    """(path, `value_key`) of every indexable value of a payload (key None: present
    without a scalar), as `flatten` yields them; a flat payload of scalars (the common
    case) is read directly."""
    keys: list[tuple[str, tuple | None]] = []
    for name, value in payload.items():
        kind = type(value)
        if kind is str:
            keys.append((name, ("s", value)))
        elif kind is int or kind is float:
            keys.append((name, ("n", float(value))))
        elif kind is bool:
            keys.append((name, ("b", value)))
        elif value is None:
            keys.append((name, ("z", None)))
        else:
            return [(path, None if value is ... else value_key(value))
                    for path, value in flatten(payload)]
    return keys


class _Numeric:
    """Append-only (value, row) pairs of one path, sorted on demand for range queries."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.rows: list[int] = []
        self.sorted: tuple[np.ndarray, np.ndarray] | None = None

    def extend(self, values: list[float], rows: list[int]) -> None:
        self.values += values
        self.rows += rows
        self.sorted = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self.sorted is None:
            values = np.asarray(self.values, dtype=np.float64)
            order = np.argsort(values, kind="stable")
            self.sorted = (values[order], np.asarray(self.rows, dtype=np.uint32)[order])
        return self.sorted


class PayloadIndex:
    """Inverted index of payload fields over row ids; thread-safe through one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.universe = BitMap()
        self.equal: dict[str, dict[tuple, BitMap]] = defaultdict(dict)
        self.present: dict[str, BitMap] = defaultdict(BitMap)
        self.numeric: dict[str, _Numeric] = defaultdict(_Numeric)
        self.slices: dict[str, PayloadSlice] = {}

    def add(self, first_row: int, payloads: list[dict[str, Any]]) -> None:
        """Index the payloads of rows first_row, first_row + 1, ... Every key is computed
        before anything is changed, so a value the index cannot take leaves the index
        as it was. Rows are grouped by path and by key first, so each bitmap is updated
        once per batch (a batch's rows mostly share their paths and many values), and
        each path's numbers are appended to its range index in one step."""
        present: dict[str, list[int]] = {}
        equal: dict[str, dict[tuple, list[int]]] = {}
        for row, payload in enumerate(payloads, first_row):
            for path, key in payload_keys(payload):
                rows = present.get(path)
                if rows is None:
                    present[path] = [row]
                    bucket = equal[path] = {}
                else:
                    rows.append(row)
                    bucket = equal[path]
                if key is not None:
                    rows = bucket.get(key)
                    if rows is None:
                        bucket[key] = [row]
                    else:
                        rows.append(row)
        with self.lock:
            self.universe.add_range(first_row, first_row + len(payloads))
            for path, rows in present.items():
                self.present[path].update(rows)
                if equal[path]:
                    self._add_values(path, equal[path])

    def _add_values(self, path: str, keyed: dict[tuple, list[int]]) -> None:
        """Add rows by value of one path to its equality and range indexes (lock held)."""
        bucket = self.equal[path]
        values: list[float] = []
        numbered: list[int] = []
        for key, rows in keyed.items():
            bitmap = bucket.get(key)
            if bitmap is None:
                bucket[key] = BitMap(rows)
            else:
                bitmap.update(rows)
            if key[0] == "n" and math.isfinite(key[1]):
                values += [key[1]] * len(rows)
                numbered += rows
        if values:
            self.numeric[path].extend(values, numbered)

    def swap_slices(self, removed: list[str], added: dict[str, PayloadSlice]) -> None:
        """Detach the slices of the segments named `removed` and attach `added` (by
        segment name): a seal, a compaction or a rebuild replacing segments."""
        with self.lock:
            for name in removed:
                self.slices.pop(name, None)
            self.slices.update(added)

    def drop_rows(self, rows: BitMap) -> None:
        """Forget `rows` entirely (after compaction removed them from disk; the rows of
        slices leave with their segments)."""
        with self.lock:
            self.universe -= rows
            for bitmap in self.present.values():
                bitmap -= rows
            for bucket in self.equal.values():
                for bitmap in bucket.values():
                    bitmap -= rows
                for key in [key for key, bitmap in bucket.items() if not bitmap]:
                    del bucket[key]
            for num in self.numeric.values():
                keep = [i for i, r in enumerate(num.rows) if r not in rows]
                num.values = [num.values[i] for i in keep]
                num.rows = [num.rows[i] for i in keep]
                num.sorted = None

    def equal_rows(self, path: str, value: Scalar) -> BitMap:
        key = value_key(value)
        with self.lock:
            own = self.equal.get(path, {}).get(key)
            return BitMap.union(BitMap() if own is None else own,
                                *(s.equal_rows(path, key) for s in self.slices.values()))

    def present_rows(self, path: str) -> BitMap:
        with self.lock:
            own = self.present.get(path)
            return BitMap.union(BitMap() if own is None else own,
                                *(s.present_rows(path) for s in self.slices.values()))

    def all_rows(self) -> BitMap:
        with self.lock:
            return BitMap.union(self.universe, *(s.universe() for s in self.slices.values()))

    def range_rows(self, path: str, low: Scalar, low_incl: bool, high: Scalar,
                   high_incl: bool) -> BitMap:
        """Rows whose value at `path` lies in the range; bounds are both numbers or both
        strings (None = unbounded)."""
        with self.lock:
            bound = low if low is not None else high
            if isinstance(bound, str):
                return BitMap.union(self._string_range(path, low, low_incl, high, high_incl),
                                    *(s.string_rows(path, low, low_incl, high, high_incl)
                                      for s in self.slices.values()))
            parts = [s.number_rows(path, low, low_incl, high, high_incl)
                     for s in self.slices.values()]
            num = self.numeric.get(path)
            if num is not None and num.values:
                values, rows = num.arrays()
                lo = 0 if low is None else np.searchsorted(
                    values, low, "left" if low_incl else "right")
                hi = len(values) if high is None else np.searchsorted(
                    values, high, "right" if high_incl else "left")
                parts.append(rows[lo:hi])
            rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
            return sorted_bitmap(rows) if rows.size else BitMap()

    def _string_range(self, path: str, low: Any, low_incl: bool, high: Any,
                      high_incl: bool) -> BitMap:
        out = BitMap()
        for (kind, value), bitmap in self.equal.get(path, {}).items():
            if kind != "s":
                continue
            if low is not None and (value < low or (value == low and not low_incl)):
                continue
            if high is not None and (value > high or (value == high and not high_incl)):
                continue
            out |= bitmap
        return out

    def facet(self, path: str) -> dict[tuple, BitMap]:
        """Distinct values of `path` with their rows (copies)."""
        with self.lock:
            out = {key: BitMap(bm) for key, bm in self.equal.get(path, {}).items()}
            for piece in self.slices.values():
                for key, rows in piece.facet(path).items():
                    if key in out:
                        out[key] |= rows
                    else:
                        out[key] = rows
            return out
