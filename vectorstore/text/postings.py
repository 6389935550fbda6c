"""A segment's text postings: growing in memory, sealed as memory-mapped array files.

Growing: a forward index appended row by row (each row's distinct term ids and their
field-weighted frequencies) with the vocabulary in a dict; a view of its first rows is
immutable, as for the growing vectors. It is rebuilt by WAL replay like the rest of the
growing segment, and searched by a scan (`kernels/bm25.py: forward_topk`).

Sealed: an inverted index written with the segment (`text_*` files, each checksummed by
`arrayfile`): the term dictionary ordered by a 64-bit FNV-1a hash of each term
(`text_hash.arr` uint64, `text_terms.off/.blob` the UTF-8 terms), `text_start.arr`
(int64, terms + 1) delimiting each term's postings in `text_doc.arr` (uint32 local rows,
ascending) and `text_tf.arr` (float32 weighted frequencies), and `text_len.arr` (float32
weighted length of every row). A query term is found by binary search on the hash.

Both answer the same calls: `resolve(query)`, `doc_freq(resolved, live)`,
`top_k(resolved, weights, k, allowed, ...)`, `lengths`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..arrayfile import StringArray, pack_strings, read_array, write_array, write_strings
from ..errors import CorruptFile
from ..kernels.bm25 import (
    count_allowed,
    forward_df,
    forward_topk,
    group_by_term,
    hash_terms,
    inverted_topk,
    lookup_terms,
    posting_impacts,
)
from .analyzer import Analyzer
from .runs import RunTable

EMPTY_MASK = np.zeros(0, dtype=np.uint8)
EMPTY_F32 = np.zeros(0, dtype=np.float32)
DIRECTORY_LOAD = 8
"""Terms per bucket of a sealed dictionary's hash directory (`hash_directory`): one
cache line of hashes."""
FILES = ("text_hash.arr", "text_start.arr", "text_doc.arr", "text_tf.arr", "text_len.arr",
         "text_terms.off", "text_terms.blob")


@dataclass(frozen=True)
class QueryTerms:
    """A query's distinct terms, how often each occurs in it, and their UTF-8 bytes
    (packed) and hashes, for looking them up in sealed dictionaries."""

    terms: tuple[str, ...]
    counts: np.ndarray  # float64 (m,)
    blob: np.ndarray  # uint8
    offsets: np.ndarray  # int64 (m + 1,)
    hashes: np.ndarray  # uint64 (m,)

    @classmethod
    def of(cls, counted: Mapping[str, int]) -> "QueryTerms":
        """From each distinct term of a query with its count (`Analyzer.query`)."""
        blob, offsets = pack_strings([t.encode() for t in counted])
        return cls(tuple(counted), np.fromiter(counted.values(), np.float64, len(counted)),
                   blob, offsets, hash_terms(blob, offsets))

    def __len__(self) -> int:
        return len(self.terms)


def _mask(mask: np.ndarray | None) -> tuple[np.ndarray, bool]:
    return (EMPTY_MASK, False) if mask is None else (mask, True)


def _empty(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(k, -1, dtype=np.int64), np.full(k, np.inf, dtype=np.float32)


@dataclass(frozen=True)
class PostingArrays:
    """Sealed postings in memory, as `build_postings` makes them and `write` stores them."""

    terms: list[bytes]
    hashes: np.ndarray
    starts: np.ndarray
    docs: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray

    def write(self, directory: Path) -> None:
        write_array(directory / "text_hash.arr", self.hashes)
        write_array(directory / "text_start.arr", self.starts)
        write_array(directory / "text_doc.arr", self.docs)
        write_array(directory / "text_tf.arr", self.tfs)
        write_array(directory / "text_len.arr", self.lengths)
        write_strings(directory, "text_terms", self.terms)


def build_postings(vocab: list[bytes], term_ids: np.ndarray, docs: np.ndarray,
                   tfs: np.ndarray, lengths: np.ndarray) -> PostingArrays:
    """Invert (term id, row, tf) triples into sealed postings.

    The triples must list each term's rows in ascending order (the grouping by term is
    stable); vocabulary entries no triple uses are dropped.
    """
    term_ids = np.asarray(term_ids, dtype=np.int64)
    hashes = hash_terms(*pack_strings(vocab))
    used = np.bincount(term_ids, minlength=len(vocab)) > 0
    order = np.argsort(hashes, kind="stable")
    order = order[used[order]]
    rank = np.full(len(vocab), -1, dtype=np.int64)
    rank[order] = np.arange(order.size)
    perm, starts = group_by_term(rank[term_ids], order.size)
    return PostingArrays(
        terms=[vocab[i] for i in order.tolist()], hashes=hashes[order], starts=starts,
        docs=np.ascontiguousarray(docs[perm], dtype=np.uint32),
        tfs=np.ascontiguousarray(tfs[perm], dtype=np.float32),
        lengths=np.ascontiguousarray(lengths, dtype=np.float32))


def hash_directory(hashes: np.ndarray) -> tuple[np.ndarray, int]:
    """Where each bucket of hash prefixes starts in `hashes` (sorted uint64), for
    `lookup_terms`: (starts int64 (2^bits + 1,), shift = 64 - bits) such that the hashes
    whose top `bits` bits are i are hashes[starts[i]:starts[i + 1]]; about
    DIRECTORY_LOAD hashes per bucket (bits >= 1)."""
    bits = max(1, int(np.ceil(np.log2(max(1.0, hashes.shape[0] / DIRECTORY_LOAD)))))
    shift = 64 - bits
    bounds = np.arange(1 << bits, dtype=np.uint64) << np.uint64(shift)
    starts = np.empty((1 << bits) + 1, dtype=np.int64)
    starts[:-1] = np.searchsorted(hashes, bounds)
    starts[-1] = hashes.shape[0]
    return starts, shift


class SealedPostings:
    """A sealed segment's inverted index, opened memory-mapped."""

    def __init__(self, directory: Path, rows: int) -> None:
        self.hashes = read_array(directory / "text_hash.arr")
        self.starts = read_array(directory / "text_start.arr")
        self.docs = read_array(directory / "text_doc.arr")
        self.tfs = read_array(directory / "text_tf.arr")
        self.lengths = read_array(directory / "text_len.arr")
        self.terms = StringArray(directory, "text_terms")
        n_terms = self.hashes.shape[0]
        if (self.starts.shape != (n_terms + 1,) or len(self.terms) != n_terms
                or self.docs.shape != (int(self.starts[-1]),) or self.tfs.shape !=
                self.docs.shape or self.lengths.shape != (rows,)):
            raise CorruptFile(f"{directory}: text postings do not match each other or the "
                              f"segment's {rows} rows")
        self.total_length = float(self.lengths.sum(dtype=np.float64))
        self._impacts: tuple[tuple, np.ndarray] | None = None
        self._asked: tuple | None = None

    def _impacts_for(self, k1: float, b: float, avgdl: float) -> np.ndarray | None:
        """The postings' impacts for these statistics, computed the second time in a row
        they are asked for and kept until others are: a read-mostly collection scores a
        query with one multiply-add per posting, while one whose statistics change at
        every write does not pay for impacts it would use once."""
        key = (k1, b, avgdl)
        cached = self._impacts
        if cached is not None and cached[0] == key:
            return cached[1]
        if self._asked != key:
            self._asked = key
            return None
        impacts = posting_impacts(self.docs, self.tfs, self.lengths, k1, b, avgdl)
        self._impacts = (key, impacts)
        return impacts

    def resolve(self, query: QueryTerms) -> np.ndarray:
        """ranges int64 (2, m): query term j's postings are ranges[0, j]:ranges[1, j],
        empty when the term is absent."""
        directory, shift = self._directory
        return lookup_terms(self.hashes, directory, shift, self.terms.offsets, self.terms.blob,
                            self.starts, query.hashes, query.offsets, query.blob)

    @cached_property
    def _directory(self) -> tuple[np.ndarray, int]:
        """`hash_directory` of the term dictionary, made at the first lookup."""
        return hash_directory(self.hashes)

    def doc_freq(self, ranges: np.ndarray, live: np.ndarray | None, m: int) -> np.ndarray:
        """Each query term's number of rows among `live` (None: every row)."""
        if live is None:
            return ranges[1] - ranges[0]
        return count_allowed(self.docs, ranges, live)

    def top_k(self, ranges: np.ndarray, weights: np.ndarray, k: int,
              allowed: np.ndarray | None, k1: float, b: float,
              avgdl: float) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows among `allowed` (None: every row): (rows, -score) as the kernel."""
        if not (ranges[1] > ranges[0]).any():
            return _empty(k)
        k1, b, avgdl = float(k1), float(b), float(avgdl)
        impacts = self._impacts_for(k1, b, avgdl)
        return inverted_topk(self.docs, self.tfs, self.lengths, ranges, weights, k1, b, avgdl,
                             EMPTY_F32 if impacts is None else impacts,
                             EMPTY_MASK if allowed is None else allowed, k)

    def term_list(self) -> list[bytes]:
        blob = self.terms.blob.tobytes()
        bounds = self.terms.offsets.tolist()
        return [blob[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


def merge_postings(parts: list[tuple[SealedPostings, np.ndarray]]) -> PostingArrays:
    """One segment's postings from the rows `keep` (ascending local rows) of each sealed
    segment in `parts`, in that order: what compaction writes."""
    vocab: dict[bytes, int] = {}
    terms, docs, tfs, lengths = [], [], [], []
    offset = 0
    for postings, keep in parts:
        renumber = np.full(postings.lengths.shape[0], -1, dtype=np.int64)
        renumber[keep] = offset + np.arange(keep.size)
        names = postings.term_list()
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in names), np.int64,
                          count=len(names))
        rows = renumber[postings.docs]
        live = rows >= 0
        terms.append(np.repeat(ids, np.diff(postings.starts))[live])
        docs.append(rows[live])
        tfs.append(postings.tfs[live])
        lengths.append(postings.lengths[keep])
        offset += keep.size
    return build_postings(list(vocab), np.concatenate(terms), np.concatenate(docs),
                          np.concatenate(tfs), np.concatenate(lengths))


@dataclass(frozen=True)
class GrowingPostingsView:
    """An immutable view of the first rows of a growing forward index."""

    row_start: np.ndarray  # int64 (n + 1,)
    terms: np.ndarray  # int32 (postings,)
    tfs: np.ndarray  # float32 (postings,)
    lengths: np.ndarray  # float32 (n,)
    vocab: dict[str, int]  # shared with the writer; ids >= n_terms are newer than the view
    names: list[str]  # shared with the writer, append-only
    n_terms: int

    @property
    def total_length(self) -> float:
        return float(self.lengths.sum(dtype=np.float64))

    def resolve(self, query: QueryTerms) -> np.ndarray | None:
        """slots int32 (n_terms,): each term id's query slot or -1; None if no query term
        occurs here."""
        found = [(self.vocab.get(t, self.n_terms), j) for j, t in enumerate(query.terms)]
        found = [(tid, j) for tid, j in found if tid < self.n_terms]
        if not found:
            return None
        slots = np.full(self.n_terms, -1, dtype=np.int32)
        for tid, j in found:
            slots[tid] = j
        return slots

    def doc_freq(self, slots: np.ndarray | None, live: np.ndarray | None,
                 m: int) -> np.ndarray:
        if slots is None:
            return np.zeros(m, dtype=np.int64)
        mask, use_mask = _mask(live)
        return forward_df(self.row_start, self.terms, slots, m, mask, use_mask)

    def top_k(self, slots: np.ndarray | None, weights: np.ndarray, k: int,
              allowed: np.ndarray | None, k1: float, b: float,
              avgdl: float) -> tuple[np.ndarray, np.ndarray]:
        if slots is None:
            return _empty(k)
        mask, use_mask = _mask(allowed)
        return forward_topk(self.row_start, self.terms, self.tfs, self.lengths, slots,
                            weights, float(k1), float(b), float(avgdl), mask, use_mask, k)

    def sealed(self) -> PostingArrays:
        """The sealed form of these rows' postings."""
        n = self.lengths.shape[0]
        docs = np.repeat(np.arange(n, dtype=np.uint32), np.diff(self.row_start))
        vocab = [t.encode() for t in self.names[:self.n_terms]]
        return build_postings(vocab, self.terms, docs, self.tfs, self.lengths)


class GrowingPostings:
    """The growing segment's forward index; one writer appends, readers take views."""

    def __init__(self, analyzer: Analyzer, capacity: int = 1024) -> None:
        self.analyzer = analyzer
        self._runs = RunTable(analyzer)
        self._row_start = np.zeros(capacity + 1, dtype=np.int64)
        self._lengths = np.zeros(capacity, dtype=np.float32)
        self._terms = np.zeros(16 * capacity, dtype=np.int32)
        self._tfs = np.zeros(16 * capacity, dtype=np.float32)
        self._roots = frozenset(name.split(".")[0] for name, _ in analyzer.config.fields)
        """The top-level payload keys the indexed fields live under."""
        self.rows = 0

    def append(self, payloads: list[dict[str, Any]]) -> None:
        """Analyse and add one row per payload. A batch where no payload has a key an
        indexed field lives under (payloads of metadata only) adds empty rows at once:
        analysing it would cost ~30 us of array calls for nothing."""
        if all(map(self._roots.isdisjoint, payloads)):
            self._append_empty(len(payloads))
            return
        row_start, ids, freqs, lengths = self._runs.rows(payloads)
        self._grow(len(payloads), ids.shape[0])
        n, p = self.rows, int(self._row_start[self.rows])
        self._terms[p:p + ids.shape[0]] = ids
        self._tfs[p:p + ids.shape[0]] = freqs
        self._lengths[n:n + len(payloads)] = lengths
        self._row_start[n + 1:n + 1 + len(payloads)] = p + row_start[1:]
        self.rows = n + len(payloads)

    def _append_empty(self, rows: int) -> None:
        """Add `rows` rows without terms (length 0)."""
        self._grow(rows, 0)
        n = self.rows
        self._lengths[n:n + rows] = 0
        self._row_start[n + 1:n + 1 + rows] = self._row_start[n]
        self.rows = n + rows

    def truncate(self, rows: int) -> None:
        """Forget the rows from `rows` on (undoing an append no view has seen); terms
        only they held stay in the vocabulary, unused, and are dropped when sealed."""
        self.rows = rows

    def _grow(self, rows: int, postings: int) -> None:
        """Make room; growth reallocates, so a view taken before keeps its own arrays."""
        n, p = self.rows, int(self._row_start[self.rows])
        if n + rows > self._lengths.shape[0]:
            size = max(n + rows, 2 * self._lengths.shape[0])
            self._row_start = _grown(self._row_start, size + 1, n + 1)
            self._lengths = _grown(self._lengths, size, n)
        if p + postings > self._terms.shape[0]:
            size = max(p + postings, 2 * self._terms.shape[0])
            self._terms = _grown(self._terms, size, p)
            self._tfs = _grown(self._tfs, size, p)

    def view(self, rows: int | None = None) -> GrowingPostingsView:
        """A view of the first `rows` rows (all by default); see `GrowingSegment.view`."""
        n = self.rows if rows is None else rows
        p = int(self._row_start[n])
        return GrowingPostingsView(self._row_start[:n + 1], self._terms[:p], self._tfs[:p],
                                   self._lengths[:n], self._runs.vocab, self._runs.names,
                                   len(self._runs.names))


def load_kernels(analyzer: Analyzer) -> None:
    """Load the append path's numba kernel (`sum_rows`: from numba's on-disk cache, about
    a second the first time in a process) by appending a document whose first indexed
    field is empty to a throwaway index. A collection with a text index calls it as it
    opens, so that its first write does not pay for it while holding the writer lock."""
    field = analyzer.config.fields[0][0]
    GrowingPostings(analyzer, capacity=1).append([{field.split(".")[0]: ""}])


def _grown(array: np.ndarray, size: int, keep: int) -> np.ndarray:
    out = np.zeros(size, dtype=array.dtype)
    out[:keep] = array[:keep]
    return out
