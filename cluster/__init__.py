"""One collection spread over a Ray cluster: shards x replicas of store collections.

`cluster.database.connect(address)` gives a `ClusterDatabase`, the `Database` API whose
collections are distributed (`cluster.collection.DistributedCollection`, the `Collection`
API); `cluster.ingest.RayIngestor` ingests files on Ray Data. Ray is imported by this
package only, and only by the modules that need it (`cluster.errors` does not).
"""
