"""BM25F over one snapshot, with collection-wide statistics.

The statistics that make scores comparable across segments come from the whole
snapshot and count live rows only: N (live rows), the average weighted length, and each
query term's document frequency summed over the segments (a deleted or overwritten row
is in no statistic). idf = ln(1 + (N - df + 0.5) / (df + 0.5)) (Lucene's, never
negative). Every segment then ranks its allowed rows with the same weights, so the
per-segment top-k lists merge by score. The statistics of disjoint collections add up
(`TextStats.total`): a distributed collection's shards score with the sums over all of
them, so their lists merge by score the same way.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import TextConfig
from ..kernels.bm25 import term_weights
from .postings import QueryTerms


def totals(snap: Any) -> tuple[int, float]:
    """(live rows, their summed weighted length), computed once per snapshot."""
    cached = snap._cache.get("text_totals")
    if cached is None:
        rows, length = 0, 0.0
        for seg, live in zip(snap.segments, snap.masks(None), strict=True):
            if live is None:
                rows += len(seg)
                length += seg.text.total_length
            else:
                keep = live.view(bool)
                rows += int(np.count_nonzero(keep))
                length += float(seg.text.lengths[keep].sum(dtype=np.float64))
        cached = snap._cache["text_totals"] = (rows, length)
    return cached


@dataclass(frozen=True)
class TextStats:
    """What BM25 scores one query with: live rows, their summed weighted length, and each
    query term's document frequency (int64, in the query's term order)."""

    rows: int
    length: float
    doc_freq: np.ndarray

    @classmethod
    def total(cls, parts: "list[TextStats]") -> "TextStats":
        """The statistics of the union of disjoint collections (shards)."""
        return cls(sum(p.rows for p in parts), sum(p.length for p in parts),
                   np.sum([p.doc_freq for p in parts], axis=0, dtype=np.int64))


def _resolved(snap: Any, query: QueryTerms) -> list:
    """`query`'s terms looked up in each segment of `snap`; None for an empty segment."""
    return [seg.text.resolve(query) if len(seg) else None for seg in snap.segments]


def statistics(snap: Any, query: QueryTerms, resolved: list | None = None) -> TextStats:
    """The snapshot's statistics for `query` (`resolved`: its terms looked up in each
    segment, as `_resolved` gives them, when the caller has them)."""
    if resolved is None:
        resolved = _resolved(snap, query)
    n_rows, length = totals(snap)
    doc_freq = None
    for seg, res, live in zip(snap.segments, resolved, snap.masks(None), strict=True):
        if res is not None:
            found = seg.text.doc_freq(res, live, len(query))
            doc_freq = found if doc_freq is None else doc_freq + found
    return TextStats(n_rows, length,
                     np.zeros(len(query), dtype=np.int64) if doc_freq is None else doc_freq)


def weights(stats: TextStats, query: QueryTerms) -> np.ndarray:
    """Each query term's weight in the scores: Lucene's BM25 idf under `stats` times the
    term's count in the query. float64."""
    return term_weights(float(stats.rows), stats.doc_freq, query.counts)


def coverage(top_score: float, weights: np.ndarray, k1: float) -> float:
    """How much of a query the best text match covers, from 0 to 1: its score over the
    score of a document of average length holding every query term once. A query whose
    best match shares only a common word or two with it covers little."""
    full = float(weights.sum()) / (1.0 + k1)
    return min(1.0, top_score / full) if full > 0 else 0.0


def segment_topk(snap: Any, query: QueryTerms, config: TextConfig, k: int,
                 masks: list[np.ndarray | None], stats: TextStats | None = None
                 ) -> tuple[list[tuple[int, np.ndarray, np.ndarray]], np.ndarray]:
    """Each segment's top k allowed rows by BM25F: (segment position, rows int64 (k,),
    -score float32 (k,)), padded -1 / +inf; segments with nothing to return left out.
    Also the query terms' weights (idf x count in the query). `masks` are the allowed
    rows per segment (`Snapshot.masks`); `stats` the statistics to score with, when not
    the snapshot's own (a shard scoring on its whole collection's scale)."""
    segments = snap.segments
    resolved = _resolved(snap, query)
    if stats is None:
        stats = statistics(snap, query, resolved)
    if stats.rows == 0 or stats.length <= 0:
        return [], np.zeros(len(query))
    scales = weights(stats, query)
    avgdl = stats.length / stats.rows
    found = []
    for pos, (seg, res, mask) in enumerate(zip(segments, resolved, masks, strict=True)):
        if res is None or (mask is not None and not mask.any()):
            continue
        rows, dist = seg.text.top_k(res, scales, k, mask, config.k1, config.b, avgdl)
        if rows[0] >= 0:
            found.append((pos, rows, dist))
    return found, scales
