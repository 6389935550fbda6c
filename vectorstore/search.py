"""Search over one snapshot: vector candidates, text candidates, their fusion, the hits.

`Collection.search` checks the vectors and takes the snapshot; `plan_search` checks the
rest and decides the mode, `run_search` answers from that snapshot alone. Modes:
- "vector": the k nearest vectors; score = similarity (cosine, dot) or L2 distance;
- "text": the k best BM25F matches of the text query; score = BM25;
- "hybrid": the top `fusion.depth` of each, fused (`fusion.py`); score = the fused score.
With no mode given: hybrid when a vector and a text with searchable terms are given and
the collection has a text index, vector when a vector is given, text otherwise. Every hit
carries the rank and score it had in each ranking that found it.
"""

from collections import Counter
from dataclasses import dataclass
from itertools import count, repeat
from typing import Any, NamedTuple

import numpy as np

from .errors import InvalidQuery, TextIndexMissing
from .fusion import Fusion, Ranked, fuse, parse_fusion
from .metrics import Metric
from .text.analyzer import Analyzer
from .text.postings import QueryTerms
from .text.search import TextStats, coverage, segment_topk

MODES = ("vector", "text", "hybrid")
MAX_QUERY_TOKENS = 1024
ROW_BITS = 32
ROW_MASK = (1 << ROW_BITS) - 1
"""A fusion key is a candidate's segment position above its local row (`_keys`)."""


@dataclass(slots=True)
class Hit:
    """One result. `score` is the mode's score; the components say where the record
    stood in each ranking that found it (None: not among that ranking's candidates).
    Not frozen: a frozen dataclass costs ~2 us to construct, 10 of them per search."""

    id: str
    score: float
    payload: dict[str, Any]
    vector_score: float | None = None
    vector_rank: int | None = None
    text_score: float | None = None
    text_rank: int | None = None


@dataclass(frozen=True)
class Plan:
    """A checked search: its mode, prepared query vectors and analysed text queries."""

    mode: str
    queries: np.ndarray | None
    texts: list[QueryTerms] | None
    fusion: Fusion
    single: bool


class Candidates(NamedTuple):
    """One query's ranking, best first: segment positions, local rows, scores, and for a
    text ranking the share of the query its best match covers (`text.search.coverage`)."""

    segs: np.ndarray
    rows: np.ndarray
    scores: np.ndarray
    coverage: float = 1.0


def _texts(text: Any) -> tuple[list[str] | None, bool]:
    if text is None:
        return None, False
    if isinstance(text, str):
        return [text], True
    if isinstance(text, list | tuple) and text and all(isinstance(t, str) for t in text):
        return list(text), False
    raise InvalidQuery("text must be a string or a non-empty list of strings")


def _analyse(analyzer: Analyzer, text: str) -> Counter[str]:
    tokens, terms = analyzer.query(text)
    if tokens > MAX_QUERY_TOKENS:
        raise InvalidQuery(f"text query has {tokens} tokens; at most {MAX_QUERY_TOKENS} "
                           "are searched")
    return terms


def plan_search(queries: np.ndarray | None, single_vector: bool, text: Any, mode: str | None,
                fusion: Any, analyzer: Analyzer | None) -> Plan:
    """Check a search request and settle its mode (see the module docstring).

    `queries` are the prepared query vectors (nq, d) or None; `analyzer` is the
    collection's, None when it has no text index.
    """
    if mode is not None and mode not in MODES:
        raise InvalidQuery(f"mode must be one of {list(MODES)} or None, got {mode!r}")
    texts, single_text = _texts(text)
    if queries is None and texts is None:
        raise InvalidQuery("search needs a query vector, a text query, or both")
    if queries is not None and texts is not None and (
            single_vector != single_text or len(texts) != queries.shape[0]):
        raise InvalidQuery("give one text per query vector: a string with one vector, a "
                           "list of as many strings with a matrix")
    fusion = parse_fusion(fusion)
    terms = None
    if texts is not None and analyzer is not None and mode != "vector":
        terms = [_analyse(analyzer, t) for t in texts]
    if mode is None:
        mode = "vector" if queries is not None and (terms is None or not all(terms)) else \
            "text" if queries is None else "hybrid"
    if mode in ("vector", "hybrid") and queries is None:
        raise InvalidQuery(f"mode {mode!r} needs a query vector")
    if mode in ("text", "hybrid"):
        if texts is None:
            raise InvalidQuery(f"mode {mode!r} needs a text query")
        if analyzer is None:
            raise TextIndexMissing(f"mode {mode!r} needs a text index, and this collection "
                                   "has none (build it with Collection.build_text_index or "
                                   "`sleuth reindex`)")
        for t, found in zip(texts, terms, strict=True):
            if not found:
                raise InvalidQuery(f"text query {t[:80]!r} has no searchable terms (it is "
                                   "empty, or only stopwords and punctuation)")
    return Plan(mode, queries if mode != "text" else None,
                [QueryTerms.of(t) for t in terms] if mode != "vector" else None,
                fusion, single_vector if queries is not None else single_text)


def _one_list(pos: int, rows: np.ndarray, dist: np.ndarray, k: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One segment's sorted list (padding last) cut to its k best found rows."""
    n = k if rows.shape[0] >= k and rows[k - 1] >= 0 else int(np.count_nonzero(rows[:k] >= 0))
    segs = np.empty(n, dtype=np.int64)
    segs.fill(pos)
    return segs, rows[:n], dist[:n]


def _merge(found: list[tuple[int, np.ndarray, np.ndarray]], k: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-segment (position, rows, proxies) lists of one query -> the k best overall."""
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    if len(found) == 1:
        return _one_list(*found[0], k)
    dist = np.concatenate([d for _, _, d in found])
    rows = np.concatenate([r for _, r, _ in found])
    segs = np.concatenate([np.full(r.shape, pos) for pos, r, _ in found])
    order = np.argsort(dist, kind="stable")[:k]
    order = order[rows[order] >= 0]
    return segs[order], rows[order], dist[order]


def _segment_lists(snap: Any, queries: np.ndarray, k: int, masks: list, params: dict
                   ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Each segment that holds allowed rows, searched: (position, rows (nq, k), proxies
    (nq, k)), each list sorted best first and padded -1 / +inf."""
    found = []
    for pos, (seg, mask) in enumerate(zip(snap.segments, masks, strict=True)):
        if len(seg) == 0 or (mask is not None and not mask.any()):
            continue
        rows, dist = seg.search(queries, k, mask, params)
        found.append((pos, rows, dist))
    return found


def vector_candidates(snap: Any, queries: np.ndarray, k: int, masks: list, params: dict,
                      metric: Metric) -> list[Candidates]:
    """The k nearest allowed rows of each query vector."""
    found = _segment_lists(snap, queries, k, masks, params)
    if len(found) == 1:  # the usual single graph: score its lists at once, no merge
        pos, rows, dist = found[0]
        scores = metric.score(dist)
        return [Candidates(*_one_list(pos, rows[q], scores[q], k))
                for q in range(queries.shape[0])]
    out = []
    for q in range(queries.shape[0]):
        segs, rows, dist = _merge([(pos, r[q], d[q]) for pos, r, d in found], k)
        out.append(Candidates(segs, rows, metric.score(dist)))
    return out


def nearest(snap: Any, query: np.ndarray, k: int, masks: list, params: dict, metric: Metric,
            fields: bool | tuple[str, ...]) -> list[Hit]:
    """The hits of one prepared query vector (1, d) in mode "vector": what `run_search`
    answers for that plan, specialised because it is the call most users make (one
    question, one embedding) and its fixed cost is paid on every search. It builds no
    plan and no per-query candidate lists: one segment's ranking (the usual single
    graph) becomes hits straight from its row arrays, several are merged as
    `vector_candidates` merges them. The segment search, the merge and the hit
    building are the general path's own."""
    found = _segment_lists(snap, query, k, masks, params)
    if len(found) == 1:
        pos, rows, dist = found[0]
        rows, dist = rows[0], dist[0]
        n = k if rows[k - 1] >= 0 else int(np.count_nonzero(rows >= 0))
        return _hits(snap, pos, rows[:n].tolist(), metric.score(dist[:n]).tolist(), False,
                     fields)
    segs, rows, dist = _merge([(pos, r[0], d[0]) for pos, r, d in found], k)
    return _hits(snap, segs.tolist(), rows.tolist(), metric.score(dist).tolist(), False,
                 fields)


def text_candidates(snap: Any, query: QueryTerms, k: int, masks: list,
                    stats: TextStats | None = None) -> Candidates:
    """The k best allowed rows of one text query by BM25F (scored with `stats`, when
    given, instead of the snapshot's own statistics)."""
    config = snap.analyzer.config
    found, weights = segment_topk(snap, query, config, k, masks, stats)
    segs, rows, dist = _merge(found, k)
    scores = (-dist).astype(np.float32)
    covered = coverage(float(scores[0]), weights, config.k1) if scores.size else 0.0
    return Candidates(segs, rows, scores, covered)


def check_fields(payload: Any) -> bool | tuple[str, ...]:
    """The `payload` argument of a search: True (whole payloads), False (ids and scores
    only) or the names of the payload fields to return."""
    if isinstance(payload, bool):
        return payload
    if isinstance(payload, list | tuple) and all(isinstance(f, str) for f in payload):
        return tuple(payload)
    raise InvalidQuery("payload must be true, false or a list of field names")


def _records(snap: Any, segs: int | list[int], rows: list[int],
             fields: bool | tuple[str, ...]) -> tuple[list[str], list[dict[str, Any]]]:
    """The ids and payloads of hits at (segment position, local row): payloads whole,
    empty (`fields` False: nothing is decoded) or only the named fields present. `segs`
    is one position per hit, or one position for all of them. Each segment decodes its
    hits in one call (one call for the usual single segment)."""
    if isinstance(segs, list) and segs and segs.count(segs[0]) == len(segs):
        segs = segs[0]
    if isinstance(segs, int):
        seg = snap.segments[segs]
        ids = seg.record_ids(rows)
        payloads = seg.payloads_at(rows) if fields else [{} for _ in rows]
    else:
        ids, payloads = [""] * len(rows), [{}] * len(rows)
        groups: dict[int, list[int]] = {}
        for i, pos in enumerate(segs):
            groups.setdefault(pos, []).append(i)
        for pos, where in groups.items():
            seg = snap.segments[pos]
            local = [rows[i] for i in where]
            for i, rid in zip(where, seg.record_ids(local), strict=True):
                ids[i] = rid
            decoded = seg.payloads_at(local) if fields else [{} for _ in local]
            for i, payload in zip(where, decoded, strict=True):
                payloads[i] = payload
    if isinstance(fields, tuple):
        payloads = [{f: p[f] for f in fields if f in p} for p in payloads]
    return ids, payloads


def _hits(snap: Any, segs: int | list[int], rows: list[int], scores: list[float], text: bool,
          fields: bool | tuple[str, ...]) -> list[Hit]:
    """The hits of one ranking (segment positions as `_records` takes them, local rows,
    scores): vector scores, or text scores when `text`."""
    ids, payloads = _records(snap, segs, rows, fields)
    if text:
        return list(map(Hit, ids, scores, payloads, repeat(None), repeat(None), scores,
                        count(1)))
    return list(map(Hit, ids, scores, payloads, scores, count(1)))


def _ranking_hits(snap: Any, found: Candidates, text: bool, fields: bool | tuple[str, ...]
                  ) -> list[Hit]:
    return _hits(snap, found.segs.tolist(), found.rows.tolist(), found.scores.tolist(), text,
                 fields)


def _keys(found: Candidates) -> np.ndarray:
    """What identifies a candidate in both rankings: its segment position and local row
    as one int64 (a live record is at one place in a snapshot)."""
    return (found.segs << ROW_BITS) | found.rows


def _fused_hits(snap: Any, vector: Candidates, text: Candidates, fusion: Fusion, k: int,
                higher_is_better: bool, fields: bool | tuple[str, ...]) -> list[Hit]:
    fused = fuse(Ranked(_keys(vector), vector.scores, higher_is_better),
                 Ranked(_keys(text), text.scores, coverage=text.coverage), fusion, k)
    keys = fused.keys.tolist()
    ids, payloads = _records(snap, [key >> ROW_BITS for key in keys],
                             [key & ROW_MASK for key in keys], fields)
    vector_scores, text_scores = vector.scores.tolist(), text.scores.tolist()
    return [Hit(rid, score, payload,
                vector_score=vector_scores[pv] if pv >= 0 else None,
                vector_rank=pv + 1 if pv >= 0 else None,
                text_score=text_scores[pt] if pt >= 0 else None,
                text_rank=pt + 1 if pt >= 0 else None)
            for rid, payload, score, pv, pt in zip(ids, payloads, fused.scores.tolist(),
                                                   fused.vector_pos.tolist(),
                                                   fused.text_pos.tolist(), strict=True)]


def run_search(snap: Any, plan: Plan, k: int, masks: list, params: dict, metric: Metric,
               text_stats: list[TextStats] | None = None,
               fields: bool | tuple[str, ...] = True) -> list[Hit] | list[list[Hit]]:
    """Answer a planned search from `snap`; `masks` are its allowed rows per segment;
    `text_stats`, one per text query, the BM25 statistics to score with (default: the
    snapshot's); `fields` what of each hit's payload to decode (`check_fields`)."""
    if text_stats is not None and (plan.texts is None or len(text_stats) != len(plan.texts)):
        raise InvalidQuery("text_stats needs one entry per text query")
    depth = max(k, plan.fusion.depth) if plan.mode == "hybrid" else k
    vectors = None if plan.queries is None else \
        vector_candidates(snap, plan.queries, depth, masks, params, metric)
    texts = None if plan.texts is None else \
        [text_candidates(snap, query, depth, masks, stats) for query, stats in
         zip(plan.texts, text_stats or [None] * len(plan.texts), strict=True)]
    if plan.mode == "vector":
        out = [_ranking_hits(snap, found, False, fields) for found in vectors]
    elif plan.mode == "text":
        out = [_ranking_hits(snap, found, True, fields) for found in texts]
    else:
        out = [_fused_hits(snap, v, t, plan.fusion, k, metric.higher_is_better, fields)
               for v, t in zip(vectors, texts, strict=True)]
    return out[0] if plan.single else out
