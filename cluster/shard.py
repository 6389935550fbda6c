"""A shard's coordinator: the one writer of its replicas, and the keeper of which of
them are up to date. Run as an async Ray actor (`actors.py`), restarted by Ray.

Writes: one at a time, to every live replica, acknowledged once all of them made it
durable. A replica that fails or times out leaves the live set, and the others record
durably that it is stale (collection metadata `cluster.stale`) before the write is
acknowledged, so no later coordinator can mistake it for an up-to-date copy.

Catch-up: a watcher asks each replica for its state twice a second. One that is back
(restarted by Ray, on its node or another) is brought up to date from a live peer: under
the write lock the peer makes a checkpoint (no write in flight, so it holds every
acknowledged one) and writes from then on are kept in a backlog; the replica copies the
checkpoint's files, then, under the lock again, applies the backlog, is told to serve
and rejoins the live set. A replica that restarted is always caught up this way: the
writes it may have missed are not known to it.

On (re)start the coordinator trusts the replicas that are complete and that no reachable
replica records as stale; a new shard (every replica empty and reachable) trusts all.
"""

import asyncio
import logging
from typing import Any

from ray.exceptions import RayError, RayTaskError

from cluster.errors import ClusterUnavailable
from cluster.replica import ReplicaState
from cluster.spec import STALE_KEY, CollectionSpec, Write

log = logging.getLogger("cluster.shard")

WRITE_SECONDS = 30.0
"""A replica that has not made a write durable by then is dropped from the live set."""
STATE_SECONDS = 5.0
WATCH_SECONDS = 0.5
MISSES = 2
"""Watcher rounds in a row a live replica may fail to answer before it is dropped."""
MAX_BACKLOG = 10_000
"""Writes kept for a catching-up replica; past this its catch-up starts over."""


class Shard:
    """Coordinates the replicas of one shard (see the module docstring)."""

    def __init__(self, spec: CollectionSpec, shard: int, replicas: list[Any]) -> None:
        self.spec = spec
        self.shard = shard
        self.replicas = replicas
        self.live: dict[int, str] = {}
        """Up-to-date replicas, by index, with the incarnation that is up to date."""
        self.joining: dict[int, list[Write]] = {}
        """Replicas catching up, with the writes acknowledged since their checkpoint."""
        self.stale: set[int] = set()
        self._misses: dict[int, int] = {}
        self._lock = asyncio.Lock()
        self._started: asyncio.Task | None = None
        self._watcher: asyncio.Task | None = None

    # ---- start -------------------------------------------------------------------

    async def _ready(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        while True:
            states = await self._states()
            reachable = [s for s in states if s is not None]
            marked = {r for s in reachable for r in s.stale}
            good = [s for s in reachable if s.complete and s.replica not in marked]
            if not good and len(reachable) == len(self.replicas) and \
                    not any(s.complete for s in reachable):
                good = reachable  # a new shard: every copy is empty
            if good:
                break
            await asyncio.sleep(WATCH_SECONDS)
        async with self._lock:
            for state in good:
                await self.replicas[state.replica].serve.remote(state.incarnation)
                self.live[state.replica] = state.incarnation
            self.stale = set(range(len(self.replicas))) - set(self.live)
            if self.stale - marked:
                await self._apply(self._stale_write())
        log.info("shard %s.%d live %s", self.spec.name, self.shard, sorted(self.live))
        self._watcher = asyncio.ensure_future(self._watch())

    async def _states(self) -> list[ReplicaState | None]:
        async def one(replica: Any) -> ReplicaState | None:
            try:
                return await asyncio.wait_for(replica.state.remote(), STATE_SECONDS)
            except (TimeoutError, RayError):
                return None
        return list(await asyncio.gather(*(one(r) for r in self.replicas)))

    # ---- writes --------------------------------------------------------------------

    async def write(self, write: Write) -> int | None:
        """Apply `write` on every live replica; answers its result once all made it
        durable (ClusterUnavailable if none could)."""
        await self._ready()
        async with self._lock:
            return await self._apply(write)

    async def _apply(self, write: Write) -> int | None:
        """One write to the live replicas (lock held); the failed ones are dropped and
        durably marked stale on the others before this returns."""
        while True:
            if not self.live:
                raise ClusterUnavailable(f"no live replica of shard {self.shard} of "
                                         f"{self.spec.name!r}")
            order = list(self.live)
            outcomes = await asyncio.gather(
                *(asyncio.wait_for(self.replicas[r].apply.remote(self.live[r], write),
                                   WRITE_SECONDS) for r in order),
                return_exceptions=True)
            results = [o for o in outcomes if not isinstance(o, BaseException)]
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            if not results and errors and all(_refused(e) for e in errors):
                raise errors[0].cause  # the store refused it on every copy: nothing applied
            failed = [r for r, o in zip(order, outcomes, strict=True)
                      if isinstance(o, BaseException)]
            for r in failed:
                self._lose(r)
            if results:
                for backlog in self.joining.values():
                    backlog.append(write)
                if failed:
                    await self._apply(self._stale_write())
                return results[0]

    def _stale_write(self) -> Write:
        return Write("metadata", values={STALE_KEY: sorted(self.stale)})

    def _lose(self, replica: int) -> None:
        log.warning("replica %d of shard %s.%d left the live set", replica, self.spec.name,
                    self.shard)
        self.live.pop(replica, None)
        self.joining.pop(replica, None)
        self.stale.add(replica)
        self.replicas[replica].stop.remote()

    # ---- catching up -----------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await self._check_all()
            except Exception:  # the watcher must outlive any one failure
                log.exception("shard %s.%d watcher", self.spec.name, self.shard)

    async def _check_all(self) -> None:
        states = await self._states()
        for replica, state in enumerate(states):
            if replica in self.joining:
                continue
            live = self.live.get(replica)
            self._misses[replica] = self._misses.get(replica, 0) + 1 if state is None else 0
            gone = state is None and self._misses[replica] >= MISSES
            if live is not None and (gone or state is not None and state.incarnation != live):
                async with self._lock:
                    if self.live.get(replica) == live:
                        self._lose(replica)
                        await self._apply(self._stale_write())
            elif live is None and state is not None and self.live:
                self.joining[replica] = []
                asyncio.ensure_future(self._join(replica, state))

    async def _join(self, replica: int, state: ReplicaState) -> None:
        """Bring a returning replica up to date from a live peer, then let it serve."""
        peer = token = None
        try:
            async with self._lock:
                peer = next(iter(self.live))
                self.joining[replica] = []
                token, entries = await self.replicas[peer].checkpoint.remote()
            target = self.replicas[replica]
            count = await target.install.remote(state.incarnation, self.replicas[peer],
                                                token, entries)
            async with self._lock:
                backlog = self.joining.get(replica)
                if backlog is None or len(backlog) > MAX_BACKLOG:
                    return
                for write in backlog:
                    await target.apply.remote(state.incarnation, write)
                await target.serve.remote(state.incarnation)
                del self.joining[replica]
                self.live[replica] = state.incarnation
                self.stale.discard(replica)
                await self._apply(self._stale_write())
            log.info("replica %d of shard %s.%d caught up (%d records, %d writes replayed)",
                     replica, self.spec.name, self.shard, count, len(backlog))
        except Exception as exc:
            log.warning("replica %d of shard %s.%d did not catch up: %s", replica,
                        self.spec.name, self.shard, exc)
        finally:
            self.joining.pop(replica, None)
            if token is not None:
                self.replicas[peer].release.remote(token)

    # ---- for the router and for status ---------------------------------------------

    async def definition(self) -> CollectionSpec:
        """The collection this shard belongs to (how routers find it by name)."""
        return self.spec

    async def members(self) -> list[int]:
        """The replicas reads may go to."""
        await self._ready()
        return sorted(self.live)

    async def describe(self) -> list[dict[str, Any]]:
        """Each replica: its role (live, joining, stale, down), node, records, bytes on
        disk and store health (None where it did not answer)."""
        await self._ready()
        rows = []
        for replica, state in enumerate(await self._states()):
            role = ("live" if replica in self.live else "joining" if replica in self.joining
                    else "stale" if state is not None else "down")
            known = state is not None
            rows.append({"shard": self.shard, "replica": replica, "role": role,
                         "node": state.node if known else None,
                         "count": state.count if known else None,
                         "disk_bytes": state.disk_bytes if known else None,
                         "health": state.health if known else None})
        return rows

    async def maintain(self, method: str) -> None:
        """`flush` or `compact` every live replica."""
        await self._ready()
        await asyncio.gather(*(self.replicas[r].maintain.remote(method) for r in self.live))

    async def drop(self) -> None:
        """Delete every replica's data (the collection is being dropped)."""
        if self._watcher is not None:
            self._watcher.cancel()
        await asyncio.gather(*(r.drop.remote() for r in self.replicas),
                             return_exceptions=True)


def _refused(error: BaseException) -> bool:
    """Whether a replica's error is the store refusing the write (the same on every
    copy), rather than the replica failing."""
    return isinstance(error, RayTaskError) and not isinstance(error.cause, ClusterUnavailable)
