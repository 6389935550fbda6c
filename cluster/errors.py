"""Errors of a distributed collection, in the store's hierarchy (the app maps them once)."""

from vectorstore.errors import VectorStoreError


class ClusterUnavailable(VectorStoreError):
    """No live replica of a shard answered within the deadline: nothing is lost (every
    acknowledged write is on the replicas), and the call can be retried."""


class NotServing(ClusterUnavailable):
    """A replica asked to read before it caught up with its shard (or after it fell
    behind): the router asks another replica."""


class StaleIncarnation(ClusterUnavailable):
    """A write addressed to an earlier life of a replica, which restarted since: the
    shard re-admits it through a catch-up before it takes writes again."""
