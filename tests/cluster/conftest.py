"""One local three-node Ray cluster for every cluster test (started once: it takes
seconds), and collections in it that each test drops."""

import pytest

from cluster import local


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """A three-node cluster on 127.0.0.1 (2 CPUs, 150 MB of object store each)."""
    started = local.start(nodes=3, cpus=2, store_mb=150)
    yield started
    local.stop(started)


@pytest.fixture(scope="session")
def cluster_db(ray_cluster, tmp_path_factory):
    """A ClusterDatabase whose nodes keep their replicas under a temporary directory."""
    from cluster.database import ClusterDatabase

    return ClusterDatabase(tmp_path_factory.mktemp("nodes"))
