"""One collection spread over a Ray cluster: shards x replicas of store collections.

`connect(address)` gives a `ClusterDatabase`, the `Database` API whose collections are
distributed (`DistributedCollection`, the `Collection` API). Ray is imported here only.
"""

from cluster.collection import DistributedCollection
from cluster.database import ClusterDatabase, connect

__all__ = ["ClusterDatabase", "DistributedCollection", "connect"]
