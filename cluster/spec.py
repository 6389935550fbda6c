"""What defines a distributed collection, the names of its actors, and a shard write.

Plain data, no Ray: the router, the shard coordinators and the replicas all pass these.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vectorstore.config import CollectionConfig, TextConfig, parse_index_config
from vectorstore.errors import InvalidConfig

NAMESPACE = "sleuth"
"""The Ray namespace of every Sleuth actor: collections are found by name in it."""

PREFIX = "sleuth.shard."
COMPLETE_KEY = "cluster.complete"
STALE_KEY = "cluster.stale"
RESERVED_KEYS = (COMPLETE_KEY, STALE_KEY)
"""Metadata a replica keeps for its shard (not shown as the collection's own)."""


@dataclass(frozen=True)
class CollectionSpec:
    """A distributed collection: the store's collection settings (`text`: its text index,
    None for none), its shards x replicas, and the directory under which every node
    keeps its replicas' data."""

    name: str
    dim: int
    metric: str
    index: dict[str, Any]
    shards: int
    replicas: int
    root: str
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    text: TextConfig | None = None

    def __post_init__(self) -> None:
        for what in ("shards", "replicas"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
                raise InvalidConfig(f"{what}={value!r} must be an integer from 1 to 256")

    def config(self) -> CollectionConfig:
        """The store configuration every replica's collection has (validated by it)."""
        return CollectionConfig(name=self.name, dim=self.dim, metric=self.metric,
                                index=parse_index_config(self.index), text=self.text,
                                **self.options)

    def shard_name(self, shard: int) -> str:
        return f"{PREFIX}{self.name}.{shard}"

    def replica_name(self, shard: int, replica: int) -> str:
        return f"sleuth.replica.{self.name}.{shard}.{replica}"

    def group_name(self, shard: int) -> str:
        """The placement group spreading the shard's replicas over nodes."""
        return f"sleuth.group.{self.name}.{shard}"


def collection_of(actor_name: str) -> tuple[str, int] | None:
    """(collection, shard) of a shard coordinator's actor name, None for other actors."""
    if not actor_name.startswith(PREFIX):
        return None
    name, _, shard = actor_name[len(PREFIX):].rpartition(".")
    return (name, int(shard)) if name and shard.isdigit() else None


@dataclass(frozen=True)
class Write:
    """One write to one shard, applied in the same order by each of its replicas.

    kind "upsert": `ids`/`vectors`/`payloads` with `delete` (removed in the same batch);
    kind "delete": by `ids` or by `where`; kind "metadata": merge `values`.
    """

    kind: str
    ids: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = None
    payloads: list[dict[str, Any]] | None = None
    delete: list[str] = field(default_factory=list)
    where: dict[str, Any] | None = None
    values: dict[str, Any] | None = None

    def apply(self, collection: Any) -> int | None:
        """Carry the write out on a store collection; deletes answer how many went."""
        if self.kind == "upsert":
            vectors = self.vectors if self.ids else np.empty((0, collection.dim), np.float32)
            collection.upsert(self.ids, vectors, self.payloads, delete=self.delete)
            return None
        if self.kind == "delete":
            if self.where is not None:
                return collection.delete(where=self.where)
            return collection.delete(ids=self.ids)
        collection.update_metadata(self.values)
        return None
