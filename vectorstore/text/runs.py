"""A growing segment's documents to forward-index rows, a batch at a time.

The analyzer turns text into terms one raw run (a `RUN` match) at a time; a document's
row is the sum of its runs' terms. So each distinct raw run is analysed once per segment
and remembered as the term ids it gives in the segment's vocabulary, with the weight each
counts for (1, or `part_weight` for a compound's parts). A batch of documents then costs
one regex scan per field and a dictionary lookup per run, and the rest is array work: no
Python per token.
"""

from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from ..kernels.bm25 import sum_rows
from .analyzer import RUN, Analyzer, field_text

RUN_LIMIT = 1 << 20
"""Distinct runs remembered per segment; past it the table starts afresh (memory bound)."""


class RunTable:
    """A segment's vocabulary (term -> id, append-only) and the distinct raw runs seen so
    far, each with its term ids and weights (`_start` delimits run i's entries in
    `_terms`/`_weights`) and its weighted length. One writer; readers only read
    `vocab` and `names` (a term id is valid once its name is appended)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.vocab: dict[str, int] = {}
        self.names: list[str] = []
        self._slots = np.full(1024, -1, dtype=np.int64)  # sum_rows's scratch, by term id
        self._stamp = 0
        self._forget()

    def _forget(self) -> None:
        self._ids: dict[str, int] = {}
        self._start = np.zeros(1024 + 1, dtype=np.int64)
        self._length = np.zeros(1024, dtype=np.float64)
        self._terms = np.zeros(1024, dtype=np.int32)
        self._weights = np.zeros(1024, dtype=np.float64)

    def rows(self, payloads: list[dict[str, Any]]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The payloads' forward rows over the configured fields (BM25F: each field's term
        frequencies and length times its weight, summed): (row_start int64 (n + 1,),
        term ids int32, weighted frequencies float32, weighted lengths float64 (n,))."""
        n = len(payloads)
        fields = self.analyzer.config.fields
        raws: list[str] = []
        sizes: list[int] = []
        for name, _ in fields:
            for payload in payloads:  # each row's list freed at once: few objects for the GC
                found = RUN.findall(field_text(payload, name))
                raws += found
                sizes.append(len(found))
        runs = self._run_ids(raws)
        per_field = np.array(sizes, dtype=np.int64).reshape(len(fields), n)
        row = np.repeat(np.tile(np.arange(n), len(fields)), per_field.ravel())
        weight = np.repeat(np.array([w for _, w in fields], dtype=np.float64),
                           per_field.sum(axis=1))
        lengths = np.bincount(row, weight * self._length[runs], minlength=n)
        starts = self._start[runs]
        counts = self._start[runs + 1] - starts
        ends = np.cumsum(counts)
        entries = np.repeat(starts - ends + counts, counts) + np.arange(ends[-1] if n and
                                                                        ends.size else 0)
        if self._slots.shape[0] < len(self.names):
            self._slots = np.concatenate([self._slots, np.full(
                max(len(self.names), 2 * self._slots.shape[0]) - self._slots.shape[0], -1,
                dtype=np.int64)])
        row_start, ids, tfs = sum_rows(np.repeat(row, counts), self._terms[entries],
                                       np.repeat(weight, counts) * self._weights[entries], n,
                                       self._slots, self._stamp)
        self._stamp += ids.shape[0]
        return row_start, ids, tfs, lengths

    def _run_ids(self, raws: list[str]) -> np.ndarray:
        """Each raw run's id (int64), analysing the runs not seen before. One pass over
        the runs (a small dictionary of this batch's distinct runs: each run's first
        position); the segment's table is asked once per distinct run."""
        first: dict[str, int] = {}
        position = np.fromiter(map(first.setdefault, raws, range(len(raws))), np.int64,
                               len(raws))
        distinct = list(first)
        ids = self._ids
        new = [raw for raw in distinct if raw not in ids]
        if new:
            if len(ids) + len(new) > RUN_LIMIT:
                self._forget()
                ids, new = self._ids, distinct
            self._add(new)
        index = np.zeros(len(raws), dtype=np.int64)
        index[np.fromiter(first.values(), np.int64, len(first))] = np.fromiter(
            map(ids.__getitem__, distinct), np.int64, len(distinct))
        return index[position]

    def _add(self, raws: list[str]) -> None:
        analysed = self.analyzer.analysed(raws)
        terms = list(chain.from_iterable(map(itemgetter(2), analysed)))
        vocab, names = self.vocab, self.names
        for term in dict.fromkeys(terms):
            if term not in vocab:
                vocab[term] = len(names)
                names.append(term)
        sizes = np.fromiter(map(len, map(itemgetter(2), analysed)), np.int64, len(raws))
        full = np.fromiter(map(len, map(itemgetter(0), analysed)), np.int64, len(raws))
        part = self.analyzer.config.part_weight
        position = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        runs, entries = len(self._ids), int(self._start[len(self._ids)])
        self._ids.update(zip(raws, range(runs, runs + len(raws)), strict=True))
        self._start = _put(self._start, runs + 1, entries + np.cumsum(sizes))
        self._length = _put(self._length, runs, full + part * (sizes - full))
        self._terms = _put(self._terms, entries,
                           np.fromiter(map(vocab.__getitem__, terms), np.int32, len(terms)))
        self._weights = _put(self._weights, entries,
                             np.where(position < np.repeat(full, sizes), 1.0, part))


def _put(array: np.ndarray, at: int, values: np.ndarray) -> np.ndarray:
    """`array` with `values` written from `at` on, reallocated (doubling) if too short."""
    end = at + values.shape[0]
    if end > array.shape[0]:
        grown = np.zeros(max(end, 2 * array.shape[0]), dtype=array.dtype)
        grown[:at] = array[:at]
        array = grown
    array[at:end] = values
    return array
