"""BM25F over one snapshot, with collection-wide statistics.

The statistics that make scores comparable across segments come from the whole
snapshot and count live rows only: N (live rows), the average weighted length, and each
query term's document frequency summed over the segments (a deleted or overwritten row
is in no statistic). idf = ln(1 + (N - df + 0.5) / (df + 0.5)) (Lucene's, never
negative). Every segment then ranks its allowed rows with the same weights, so the
per-segment top-k lists merge by score.
"""

from typing import Any

import numpy as np

from ..config import TextConfig
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


def idf(n_rows: int, doc_freq: np.ndarray) -> np.ndarray:
    """Lucene's BM25 idf of each term: float64."""
    df = doc_freq.astype(np.float64)
    return np.log1p((n_rows - df + 0.5) / (df + 0.5))


def coverage(top_score: float, weights: np.ndarray, k1: float) -> float:
    """How much of a query the best text match covers, from 0 to 1: its score over the
    score of a document of average length holding every query term once. A query whose
    best match shares only a common word or two with it covers little."""
    full = float(weights.sum()) / (1.0 + k1)
    return min(1.0, top_score / full) if full > 0 else 0.0


def segment_topk(snap: Any, query: QueryTerms, config: TextConfig, k: int,
                 masks: list[np.ndarray | None]
                 ) -> tuple[list[tuple[int, np.ndarray, np.ndarray]], np.ndarray]:
    """Each segment's top k allowed rows by BM25F: (segment position, rows int64 (k,),
    -score float32 (k,)), padded -1 / +inf; segments with nothing to return left out.
    Also the query terms' weights (idf x count in the query). `masks` are the allowed
    rows per segment (`Snapshot.masks`)."""
    segments = snap.segments
    resolved = [seg.text.resolve(query) for seg in segments]
    n_rows, length = totals(snap)
    if n_rows == 0 or length <= 0:
        return [], np.zeros(len(query))
    doc_freq = sum(seg.text.doc_freq(res, live, len(query)) for seg, res, live in
                   zip(segments, resolved, snap.masks(None), strict=True))
    weights = idf(n_rows, doc_freq) * query.counts
    avgdl = length / n_rows
    found = []
    for pos, (seg, res, mask) in enumerate(zip(segments, resolved, masks, strict=True)):
        if len(seg) == 0 or (mask is not None and not mask.any()):
            continue
        rows, dist = seg.text.top_k(res, weights, k, mask, config.k1, config.b, avgdl)
        if rows[0] >= 0:
            found.append((pos, rows, dist))
    return found, weights
