"""A distributed collection as the app sees it: the `Collection` API over shards.

The router runs in the calling process. Writes are checked whole here (so a bad batch
reaches no shard), split by placement (`placement.py`) and sent to each shard's
coordinator, which acknowledges once every live replica made its part durable. Reads
scatter to one serving replica per shard and merge; a replica that fails, refuses
(catching up) or is slow is retried on another (a slow one is hedged: both race) until
the read deadline.

Consistency across shards: each shard applies its part of a batch atomically, but two
shards are not updated at one instant, so a reader may briefly see one shard's part of
a batch without the other's. A record id lives on one shard: an upsert also removes the
ids it writes from every other shard (a record whose document changed moves).
"""

import heapq
import itertools
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayError, RayTaskError

from cluster import actors
from cluster.errors import ClusterUnavailable
from cluster.placement import placement_key, shard_of
from cluster.spec import RESERVED_KEYS, CollectionSpec, Write
from vectorstore.collection import MAX_K, Record
from vectorstore.errors import InvalidInput
from vectorstore.fusion import Fusion, Ranked, fuse
from vectorstore.maintenance import Health
from vectorstore.metrics import METRICS
from vectorstore.search import Hit, plan_search
from vectorstore.text.analyzer import Analyzer
from vectorstore.text.postings import QueryTerms
from vectorstore.text.search import TextStats, coverage, weights
from vectorstore.validate import (
    check_delete,
    check_ids,
    check_payload,
    check_payloads,
    check_vectors,
)

READ_SECONDS = 30.0
"""A read fails (ClusterUnavailable) when no replica of some shard answered by then."""
HEDGE_SECONDS = 2.0
"""A replica that has not answered by then gets a competitor on another replica."""
WRITE_SECONDS = 60.0
"""A write is retried on a restarting coordinator until then."""
MEMBERS_SECONDS = 1.0
"""How long the router trusts its list of each shard's serving replicas."""
_BACKOFF = 0.05


class DistributedCollection:
    """One collection spread over `spec.shards` shards of `spec.replicas` replicas."""

    def __init__(self, spec: CollectionSpec, coordinators: list[Any]) -> None:
        self.spec = spec
        self.config = spec.config()
        self.metric = METRICS[spec.metric]
        self._analyzer = None if spec.text is None else Analyzer(spec.text)
        self.coordinators = coordinators
        self._replicas = [actors.replicas(spec, s) for s in range(spec.shards)]
        self._members: list[list[int]] = [[] for _ in range(spec.shards)]
        self._members_at = [-MEMBERS_SECONDS] * spec.shards
        self._turn = itertools.count()

    def __reduce__(self) -> tuple:
        """Sent to another process (a Ray Data writer), a router is made anew there from
        its spec and its shards' coordinators."""
        return DistributedCollection, (self.spec, self.coordinators)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def index_config(self) -> Any:
        return self.config.index

    @property
    def metadata(self) -> dict[str, Any]:
        found = self._scatter({0: ("metadata", (), {})})[0]
        return {k: v for k, v in found.items() if k not in RESERVED_KEYS}

    # ---- writes ------------------------------------------------------------------

    def upsert(self, ids: list[str], vectors: Any, payloads: list[dict[str, Any]] | None = None,
               delete: list[str] | None = None) -> None:
        """Insert or replace records, durable on every live replica when this returns;
        checked whole first (InvalidInput: no shard received anything)."""
        ids = check_ids(ids)
        check_vectors(vectors, len(ids), self.dim, self.metric, "vectors")
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        objects = [{}] * len(ids) if payloads is None else payloads
        check_payloads(objects, len(ids))
        removed = check_ids(delete or [], "delete", unique=False)
        homes = [shard_of(placement_key(i, p), self.spec.shards) for i, p in zip(ids, objects,
                                                                                  strict=True)]
        writes = {}
        for shard in range(self.spec.shards):
            mine = [n for n, home in enumerate(homes) if home == shard]
            elsewhere = [i for i, home in zip(ids, homes, strict=True) if home != shard]
            writes[shard] = Write(
                "upsert", ids=[ids[n] for n in mine], vectors=matrix[mine],
                payloads=[objects[n] for n in mine],
                delete=list(dict.fromkeys(removed + elsewhere)))
        self._write(writes)

    def delete(self, ids: list[str] | None = None, where: dict[str, Any] | None = None) -> int:
        """Delete by ids or by filter on every shard; answers how many live records went."""
        write = Write("delete", ids=check_delete(ids, where) or [], where=where)
        return sum(self._write(dict.fromkeys(range(self.spec.shards), write)).values())

    def update_metadata(self, values: dict[str, Any]) -> None:
        """Merge `values` into the metadata of every replica."""
        check_payload(values, "metadata")
        clash = sorted(set(values) & set(RESERVED_KEYS))
        if clash:
            raise InvalidInput(f"metadata keys {clash} are the cluster's own")
        self._write(dict.fromkeys(range(self.spec.shards), Write("metadata", values=values)))

    def flush(self) -> None:
        """Seal every replica's growing segment and wait."""
        ray.get([c.maintain.remote("flush") for c in self.coordinators])

    def compact(self) -> None:
        ray.get([c.maintain.remote("compact") for c in self.coordinators])

    def _write(self, writes: dict[int, Write]) -> dict[int, Any]:
        """Send each shard its write; retry a coordinator that is restarting."""
        deadline = time.monotonic() + WRITE_SECONDS
        results: dict[int, Any] = {}
        pending = {self.coordinators[s].write.remote(w): s for s, w in writes.items()}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1,
                                timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                raise ClusterUnavailable(f"shards {sorted(pending.values())} of "
                                         f"{self.name!r} did not acknowledge a write in time")
            shard = pending.pop(ready[0])
            try:
                results[shard] = ray.get(ready[0])
            except RayTaskError as exc:
                raise exc.cause from None
            except RayError:  # the coordinator died: Ray restarts it; writes are idempotent
                time.sleep(_BACKOFF)
                pending[self.coordinators[shard].write.remote(writes[shard])] = shard
        return results

    # ---- reads -------------------------------------------------------------------

    def search(self, vector: Any = None, k: int = 10, where: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None, *, text: str | list[str] | None = None,
               mode: str | None = None, fusion: dict[str, Any] | None = None
               ) -> list[Hit] | list[list[Hit]]:
        """Top-k over all shards, as `Collection.search` answers over one collection.

        The request is checked and its mode settled here, as the store does. Vector hits
        merge by score. For text, the shards' BM25 statistics are summed first (one
        round trip) and every shard scores with the sums, so text hits merge by score
        too. Hybrid: each shard gives its top `fusion.depth` of both rankings in one call;
        they are merged into the two rankings of the whole collection and fused here as
        one collection fuses its own.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 < k <= MAX_K:
            raise InvalidInput(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        queries = None if vector is None else \
            check_vectors(vector, None, self.dim, self.metric, "query")
        plan = plan_search(queries, np.ndim(vector) == 1, text, mode, fusion, self._analyzer)
        texts = None if text is None else [text] if isinstance(text, str) else list(text)
        depth = max(k, plan.fusion.depth) if plan.mode == "hybrid" else k
        asked = []
        if plan.mode != "text":
            asked.append(("vector", depth, {"vector": queries, "params": params}))
        if plan.mode != "vector":
            stats = [TextStats.total(list(parts)) for parts in
                     zip(*self._scatter_all("read", "text_stats", texts), strict=True)]
            asked.append(("text", depth, {"text": texts, "text_stats": stats}))
        rankings = self._rankings(asked, where)
        if plan.mode == "hybrid":
            found = [self._fused(*parts, plan.fusion, k) for parts in
                     zip(*rankings, stats, plan.texts, strict=True)]
        else:
            found = rankings[0]
        return found[0] if plan.single else found

    def _rankings(self, asked: list[tuple[str, int, dict[str, Any]]],
                  where: dict[str, Any] | None) -> list[list[list[Hit]]]:
        """For each (component "vector" or "text", k, request) asked, each query's top k
        of that ranking over all shards, with its rank over all shards (a shard's hit
        carries its rank on that shard). Each shard answers all of them in one call."""
        calls = [("search", {"k": k, "where": where, "mode": component, **request})
                 for component, k, request in asked]
        parts = self._scatter_all("reads", calls)
        rankings = []
        for n, (component, k, _) in enumerate(asked):
            higher = component == "text" or self.metric.higher_is_better
            pick = heapq.nlargest if higher else heapq.nsmallest
            found = []
            for per_query in zip(*(shard[n] for shard in parts), strict=True):
                best = pick(k, itertools.chain.from_iterable(per_query), key=lambda h: h.score)
                found.append([replace(h, **{f"{component}_rank": rank})
                              for rank, h in enumerate(best, 1)])
            rankings.append(found)
        return rankings

    def _fused(self, vector: list[Hit], text: list[Hit], stats: TextStats, terms: QueryTerms,
               fusion: Fusion, k: int) -> list[Hit]:
        """One query's two rankings over all shards fused into its top k, as the store
        fuses one collection's (`vectorstore.fusion.fuse`; text coverage from the summed
        statistics)."""
        keys = {h.id: n for n, h in enumerate(itertools.chain(vector, text))}
        covered = coverage(text[0].score, weights(stats, terms),
                           self.config.text.k1) if text else 0.0

        def ranked(hits: list[Hit], **how: Any) -> Ranked:
            return Ranked(np.array([keys[h.id] for h in hits], dtype=np.int64),
                          np.array([h.score for h in hits], dtype=np.float32), **how)

        fused = fuse(ranked(vector, higher_is_better=self.metric.higher_is_better),
                     ranked(text, coverage=covered), fusion, k)
        out = []
        for score, pv, pt in zip(fused.scores.tolist(), fused.vector_pos.tolist(),
                                 fused.text_pos.tolist(), strict=True):
            seen = vector[pv] if pv >= 0 else text[pt]
            out.append(Hit(seen.id, score, seen.payload,
                           vector_score=vector[pv].score if pv >= 0 else None,
                           vector_rank=pv + 1 if pv >= 0 else None,
                           text_score=text[pt].score if pt >= 0 else None,
                           text_rank=pt + 1 if pt >= 0 else None))
        return out

    def get(self, ids: list[str] | None = None, where: dict[str, Any] | None = None,
            limit: int | None = None, offset: int = 0,
            include_vectors: bool = True) -> list[Record | None] | list[Record]:
        """By ids (None for unknown ones), or a page of the records matching `where`:
        shard 0's matches first, then shard 1's, and so on."""
        if ids is not None:
            parts = self._scatter_all("read", "get", ids=ids, include_vectors=include_vectors)
            return [next((r for r in found if r is not None), None)
                    for found in zip(*parts, strict=True)]
        counts = self._scatter_all("read", "count", where)
        calls, skip = {}, offset
        left = sum(counts) if limit is None else limit
        for shard, count in enumerate(counts):
            if left <= 0:
                break
            if skip >= count:
                skip -= count
                continue
            take = min(left, count - skip)
            calls[shard] = ("read", ("get",), {"where": where, "limit": take, "offset": skip,
                                               "include_vectors": include_vectors})
            left -= take
            skip = 0
        pages = self._scatter(calls)
        return [r for shard in sorted(pages) for r in pages[shard]]

    def count(self, where: dict[str, Any] | None = None) -> int:
        return sum(self._scatter_all("read", "count", where))

    def facet(self, field: str) -> dict[Any, int]:
        total: Counter = Counter()
        for part in self._scatter_all("read", "facet", field):
            total.update(part)
        return dict(total)

    def health(self) -> Health:
        """The worst health of the shards' serving replicas."""
        worst = [h for h in self._scatter_all("read", "health") if h.status != "ok"]
        return worst[0] if worst else Health("ok")

    def stats(self) -> dict[str, Any]:
        """The store statistics summed over shards (one replica each), with the layout."""
        parts = self._scatter_all("read", "stats")
        summed = {key: sum(p[key] for p in parts) for key in
                  ("count", "sealed_segments", "sealed_rows", "growing_rows", "deleted_rows",
                   "text_bytes", "disk_bytes", "maintenance_failures", "quarantined")}
        health = self.health()
        return {"name": self.name, "dim": self.dim, "metric": self.spec.metric,
                "index": self.config.index.type, **summed, "text_index": parts[0]["text_index"],
                "memory": {"resident_bytes": sum(p["memory"]["resident_bytes"] for p in parts),
                           "shards": [p["memory"] for p in parts]},
                "health": health.status,
                "health_reason": health.reason, "shards": self.spec.shards,
                "replicas": self.spec.replicas}

    def _scatter_all(self, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        found = self._scatter({s: (method, args, kwargs) for s in range(self.spec.shards)})
        return [found[s] for s in range(self.spec.shards)]

    def _scatter(self, calls: dict[int, tuple[str, tuple, dict]]) -> dict[int, Any]:
        """Run one replica call per shard, retrying failures and hedging slow replicas
        on the shard's other serving replicas, until READ_SECONDS have passed."""
        deadline = time.monotonic() + READ_SECONDS
        results: dict[int, Any] = {}
        inflight: dict[Any, tuple[int, float]] = {}
        tried: dict[int, set[int]] = {s: set() for s in calls}

        def launch(shard: int) -> None:
            method, args, kwargs = calls[shard]
            replica = self._pick(shard, tried[shard], deadline)
            call = getattr(self._replicas[shard][replica], method)
            inflight[call.remote(*args, **kwargs)] = (shard, time.monotonic())

        for shard in calls:
            launch(shard)
        while len(results) < len(calls):
            now = time.monotonic()
            if now >= deadline:
                missing = sorted(set(calls) - set(results))
                raise ClusterUnavailable(f"no replica of shards {missing} of {self.name!r} "
                                         f"answered within {READ_SECONDS:.0f} s")
            ready, _ = ray.wait(list(inflight), num_returns=1,
                                timeout=min(HEDGE_SECONDS, deadline - now))
            if not ready:
                for shard in set(calls) - set(results):
                    newest = max(t for s, t in inflight.values() if s == shard)
                    if time.monotonic() - newest >= HEDGE_SECONDS:
                        launch(shard)
                continue
            shard, _ = inflight.pop(ready[0])
            if shard in results:
                continue
            try:
                results[shard] = ray.get(ready[0], timeout=0)
            except RayTaskError as exc:
                if not isinstance(exc.cause, ClusterUnavailable):
                    raise exc.cause from None
                launch(shard)
            except (RayError, GetTimeoutError):
                launch(shard)
        return results

    def _pick(self, shard: int, tried: set[int], deadline: float) -> int:
        """A serving replica of `shard` not tried yet by this read, round robin; when all
        were tried, the coordinator is asked again (and the tries start over)."""
        while True:
            members = self._serving(shard, refresh=False)
            fresh = [r for r in members if r not in tried]
            if not fresh:
                time.sleep(_BACKOFF)
                tried.clear()
                fresh = self._serving(shard, refresh=True)
            if fresh:
                replica = fresh[next(self._turn) % len(fresh)]
                tried.add(replica)
                return replica
            if time.monotonic() >= deadline:
                raise ClusterUnavailable(f"shard {shard} of {self.name!r} has no live replica")

    def _serving(self, shard: int, refresh: bool) -> list[int]:
        if refresh or time.monotonic() - self._members_at[shard] > MEMBERS_SECONDS:
            try:
                self._members[shard] = ray.get(self.coordinators[shard].members.remote(),
                                               timeout=READ_SECONDS)
                self._members_at[shard] = time.monotonic()
            except (RayError, GetTimeoutError):
                self._members[shard] = []
        return self._members[shard]

