"""A collection's read path: take the current snapshot, compile the filter to a bitmap,
search every segment with its mask and merge the top k (`search.py`: by vector, by text,
or both fused); get, count and facet. Every read answers from one snapshot.

`Reads` is one part of `Collection` (`collection.py` holds its state and locks)."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from pyroaring import BitMap

from .errors import (
    InvalidInput,
)
from .filters import compile_filter
from .payloads import key_value
from .search import Hit, check_fields, nearest, plan_search, run_search
from .snapshot import Snapshot, rows_array
from .text.search import TextStats, statistics
from .validate import check_ids, prepare_queries

MAX_K = 10_000


@dataclass(frozen=True)
class Record:
    id: str
    vector: np.ndarray | None
    payload: dict[str, Any]



class Reads:
    """Search, text statistics, get, count and facet, each from one snapshot."""

    def _snap(self) -> Snapshot:
        """The current snapshot, for one read to answer from (a superseded collection's
        last one: reads that hold it finish; `Database` hands out the new generation)."""
        if not self._superseded:
            self._check_open()
        return self._snapshot

    def _allowed(self, snap: Snapshot, where: dict[str, Any] | None) -> BitMap | None:
        if where is None:
            return None
        return snap.visible(compile_filter(where, self._index))

    def _select(self, snap: Snapshot, where: dict[str, Any]) -> list[str]:
        """Ids of the records of `snap` matching `where`, in insertion order."""
        found = snap.locate(rows_array(self._allowed(snap, where)))
        return [seg.record_id(local) for seg, local in filter(None, found)]

    def search(self, vector: Any = None, k: int = 10, where: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None, *, text: str | list[str] | None = None,
               mode: str | None = None, fusion: dict[str, Any] | None = None,
               text_stats: list[TextStats] | None = None,
               payload: bool | list[str] = True) -> list[Hit] | list[list[Hit]]:
        """Top-k records, best first, among records matching `where`: by a query `vector`,
        by a `text` query (BM25F over the text index), or both fused (`search.py`).

        One vector and/or one string -> a list of hits; a matrix (nq, dim) and/or a list
        of nq strings -> one list per query. `mode` is "vector", "text" or "hybrid";
        None chooses hybrid when a vector and a searchable text are given and the
        collection has a text index, else the one given. `params` are the vector index's
        knobs; `fusion` the hybrid knobs (`fusion.Fusion`: method, weights, rrf_k, depth,
        coverage). `text_stats` (one per text query) are BM25 statistics to score with
        instead of this collection's: a distributed collection's shards score with the
        sums of theirs (`text_stats`), so their scores compare. `payload`: True for
        whole payloads, False for ids and scores only (no payload is decoded, the
        cheapest search), or a list of the payload fields to return.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 < k <= MAX_K:
            raise InvalidInput(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if params is not None and not isinstance(params, dict):
            raise InvalidInput("params must be an object")
        fields = check_fields(payload)
        queries = None if vector is None else prepare_queries(vector, self.dim, self.metric)
        single = queries is not None and np.ndim(vector) == 1
        snap = self._snap()
        if single and text is None and text_stats is None and fusion is None and \
                mode in (None, "vector"):  # one query vector, the usual call
            return nearest(snap, queries, int(k), snap.masks(self._allowed(snap, where)),
                           params or {}, self.metric, fields)
        plan = plan_search(queries, single, text, mode, fusion, snap.analyzer)
        masks = snap.masks(self._allowed(snap, where))
        return run_search(snap, plan, int(k), masks, params or {}, self.metric, text_stats,
                          fields)

    def text_stats(self, text: str | list[str]) -> list[TextStats]:
        """The BM25 statistics of each text query over this collection (live rows, their
        weighted length, each query term's document frequency), checked as `search`
        checks a text query. Those of disjoint collections add up (`TextStats.total`)."""
        snap = self._snap()
        plan = plan_search(None, False, text, "text", None, snap.analyzer)
        return [statistics(snap, query) for query in plan.texts]

    def get(self, ids: list[str] | None = None, where: dict[str, Any] | None = None,
            limit: int | None = 100, offset: int = 0, include_vectors: bool = True
            ) -> list[Record | None] | list[Record]:
        """Records by id (None where absent, in the order asked) or by filter (ordered
        by insertion, paged with limit/offset)."""
        snap = self._snap()
        if ids is not None:
            ids = check_ids(ids)
            rows = snap.ids.get_many(ids)
            known = np.array([r for r in rows if r is not None], dtype=np.uint32)
            located = iter(snap.locate(known))
            return [None if r is None else self._record(next(located), include_vectors)
                    for r in rows]
        allowed = self._allowed(snap, where if where is not None else {})
        wanted = rows_array(allowed)[offset:None if limit is None else offset + limit]
        return [self._record(found, include_vectors) for found in snap.locate(wanted) if found]

    def _record(self, found: tuple[Any, int] | None, include_vectors: bool) -> Record | None:
        if found is None:
            return None
        seg, local = found
        rid, payload = seg.record(local)
        return Record(rid, seg.vector(local) if include_vectors else None, payload)

    def count(self, where: dict[str, Any] | None = None) -> int:
        """Live records, or live records matching `where`."""
        snap = self._snap()
        if where is None:
            return snap.count
        return len(self._allowed(snap, where))

    def facet(self, field: str) -> dict[Any, int]:
        """Distinct values of a payload field with the number of live records holding
        each, most frequent first."""
        snap = self._snap()
        counts = {key_value(key): len(snap.visible(rows)) for key, rows in
                  self._index.facet(field).items()}
        return dict(sorted(((v, c) for v, c in counts.items() if c),
                           key=lambda item: (-item[1], str(item[0]))))

