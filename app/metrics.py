"""Prometheus metrics: requests and latency per route, collection sizes and health, ingest
queue depth.

Each app has its own registry, so several apps (tests) never clash. Request metrics are
recorded by a plain ASGI middleware labelled with the route template (`/v1/collections/
{name}/search`), never the raw path, so the label set stays bounded.
"""

import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class RequestMetrics:
    """The request counter and latency histogram of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "sleuth_http_requests", "HTTP requests by route and status.",
            ("method", "route", "status"), registry=registry,
        )
        self.latency = Histogram(
            "sleuth_http_request_seconds", "HTTP request latency by route.",
            ("method", "route"), buckets=LATENCY_BUCKETS, registry=registry,
        )


class MetricsMiddleware:
    """Times every HTTP request and counts it by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, template, str(status)).inc()


class CollectionSample(NamedTuple):
    """What a scrape reports of one open collection."""

    name: str
    records: int
    degraded: bool
    maintenance_failures: int


class StoreCollector(Collector):
    """Collection sizes and health and the ingest queue depth, read at scrape time."""

    def __init__(
        self, collections: Callable[[], list[CollectionSample]], depth: Callable[[], int]
    ) -> None:
        self._collections = collections
        self._depth = depth

    def collect(self) -> Iterator[Metric]:
        sizes = GaugeMetricFamily(
            "sleuth_collection_records", "Live records per collection.", labels=["collection"]
        )
        degraded = GaugeMetricFamily(
            "sleuth_collection_degraded",
            "1 when a collection reports a problem (see /health for the reason), else 0.",
            labels=["collection"],
        )
        failures = CounterMetricFamily(
            "sleuth_collection_maintenance_failures",
            "Failed background sealing/compaction passes since the collection opened.",
            labels=["collection"],
        )
        for sample in self._collections():
            sizes.add_metric([sample.name], sample.records)
            degraded.add_metric([sample.name], int(sample.degraded))
            failures.add_metric([sample.name], sample.maintenance_failures)
        yield sizes
        yield degraded
        yield failures
        yield GaugeMetricFamily(
            "sleuth_ingest_queue_depth", "Uploaded files queued or being ingested.",
            value=self._depth(),
        )
