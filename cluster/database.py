"""`ClusterDatabase`: the `Database` API over the collections of a Ray cluster.

`connect(address)` joins the cluster (or starts a local one for "local"); collections
are created as shards x replicas of actors (`actors.py`) and found again by name from
any process connected to the same cluster: the serving API, `sleuth ingest --cluster`
and `sleuth cluster status` share them.
"""

import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ray

from cluster import actors
from cluster.collection import DistributedCollection
from cluster.spec import NAMESPACE, PREFIX, CollectionSpec, collection_of
from vectorstore.config import parse_index_config, parse_text_config
from vectorstore.database import OPTIONS, check_name
from vectorstore.errors import CollectionExists, CollectionNotFound, InvalidConfig
from vectorstore.validate import check_payload

DEFAULT_SHARDS = 2
DEFAULT_REPLICAS = 2
DEFAULT_ROOT = os.path.join(os.path.expanduser("~"), ".sleuth", "cluster")
"""Where each node keeps its replicas (a directory on that node's own disk)."""


def connect(address: str, root: str | os.PathLike[str] | None = None) -> "ClusterDatabase":
    """Join the Ray cluster at `address` ("host:port", or "auto") in Sleuth's namespace,
    with Ray's usage statistics off (Sleuth sends nothing anywhere) unless asked for."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not ray.is_initialized():
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                 configure_logging=False)
    return ClusterDatabase(root or DEFAULT_ROOT)


class ClusterDatabase:
    """The collections of the connected cluster (see the module docstring).

    `root` is the data directory on each node under which new collections keep their
    replicas; `path` is that root too, for callers that show where data lives.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.path = Path(root)
        self._collections: dict[str, DistributedCollection] = {}
        self._mutex = threading.Lock()

    def __enter__(self) -> "ClusterDatabase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_collection(self, name: str, dim: int, metric: str = "cosine", index: Any = None,
                          metadata: dict[str, Any] | None = None, *, text: Any = True,
                          shards: int = DEFAULT_SHARDS, replicas: int = DEFAULT_REPLICAS,
                          **options: Any) -> DistributedCollection:
        """Create a collection of `shards` x `replicas`; the rest as `Database`'s."""
        name = check_name(name)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InvalidConfig(f"unknown collection option(s) {unknown}; known: {OPTIONS}")
        check_payload(metadata or {}, "metadata")
        spec = CollectionSpec(name=name, dim=dim, metric=metric,
                              index=asdict(parse_index_config(index)), shards=shards,
                              replicas=replicas, root=str(self.path),
                              metadata=dict(metadata or {}), options=options,
                              text=parse_text_config(text))
        spec.config()  # the store's own checks, before any actor starts
        with self._mutex:
            if name in self:
                raise CollectionExists(f"collection {name!r} already exists")
            coordinators = actors.create(spec)
            collection = DistributedCollection(spec, coordinators)
            ray.get([c.members.remote() for c in coordinators])
            self._collections[name] = collection
            return collection

    def get_collection(self, name: str) -> DistributedCollection:
        with self._mutex:
            found = self._collections.get(name)
            if found is not None:
                return found
            first = actors.lookup(f"{PREFIX}{name}.0") if isinstance(name, str) else None
            if first is None:
                raise CollectionNotFound(f"collection {name!r} not found")
            spec = ray.get(first.definition.remote())
            coordinators = [actors.lookup(spec.shard_name(s)) for s in range(spec.shards)]
            found = self._collections[name] = DistributedCollection(spec, coordinators)
            return found

    def opened(self, name: str) -> DistributedCollection | None:
        return self._collections.get(name)

    def open_collections(self) -> dict[str, DistributedCollection]:
        with self._mutex:
            return dict(self._collections)

    def open_all(self) -> dict[str, str]:
        """Find every collection of the cluster; those that failed, with the reason."""
        failed = {}
        for name in self.list_collections():
            try:
                self.get_collection(name)
            except Exception as exc:  # reported, not raised: the others go on
                failed[name] = f"{type(exc).__name__}: {exc}"
        return failed

    def list_collections(self) -> list[str]:
        found = (collection_of(n) for n in actors.actor_names())
        return sorted({name for name, shard in filter(None, found) if shard == 0})

    def __contains__(self, name: str) -> bool:
        return name in self.list_collections()

    def drop_collection(self, name: str) -> None:
        """Delete a collection: every replica's files, then its actors."""
        collection = self.get_collection(name)
        with self._mutex:
            ray.get([c.drop.remote() for c in collection.coordinators])
            actors.remove(collection.spec)
            self._collections.pop(name, None)

    def close(self) -> None:
        """Forget the handles (the collections live on in the cluster)."""
        with self._mutex:
            self._collections.clear()
