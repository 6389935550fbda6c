"""The FastAPI app: `create_app(settings)` assembles routers, middleware and the lifespan."""

import importlib.util
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry

from app.errors import install_error_handlers
from app.limits import BodyLimitMiddleware
from app.metrics import CollectionSample, MetricsMiddleware, RequestMetrics, StoreCollector
from app.routers import (
    collections,
    docs,
    documents,
    health,
    jobs,
    pages,
    passages,
    records,
    reindex,
    search,
    similarity,
)
from app.services import Services
from app.settings import Settings, get_settings
from vectorstore.errors import VectorStoreError

ROUTERS = (
    health, docs, collections, documents, pages, jobs, search, passages, records, reindex,
    similarity,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Sleuth API app; the store and model open when it starts serving, not here."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.open(settings)
        app.state.services = services
        try:
            async with mcp_sessions():
                yield
        finally:
            services.close()

    app = FastAPI(
        title="Sleuth retrieval API",
        version="1.0.0",
        description="Collections, documents, search and raw records over Sleuth's store.",
        lifespan=lifespan,
        docs_url=None,  # app.routers.docs serves these three, offline and behind the key
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.registry = registry = CollectorRegistry()
    registry.register(StoreCollector(lambda: _sizes(app), lambda: _depth(app)))
    for module in ROUTERS:
        app.include_router(module.router)
    mcp_sessions = _mount_mcp(app, settings)
    install_error_handlers(app)
    if settings.api_key is None:
        app.openapi = lambda: _without_security(app)
    app.add_middleware(MetricsMiddleware, metrics=RequestMetrics(registry))
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    return app


def _mount_mcp(app: FastAPI, settings: Settings) -> Callable[[], AbstractAsyncContextManager]:
    """The MCP server at /mcp when the `mcp` extra is installed; what the lifespan holds."""
    if importlib.util.find_spec("mcp") is None:
        return nullcontext
    from app.mcp_server import mount

    return mount(app, lambda: app.state.services, settings)


def _without_security(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document minus its API-key schemes: with no key configured none applies."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        document.get("components", {}).pop("securitySchemes", None)
        for item in document["paths"].values():
            for operation in item.values():
                operation.pop("security", None)
        app.openapi_schema = document
    return app.openapi_schema


def _services(app: FastAPI) -> Services | None:
    return getattr(app.state, "services", None)


def _sizes(app: FastAPI) -> list[CollectionSample]:
    """Samples of the open collections (a scrape never opens one, nor fails on one
    dropped meanwhile)."""
    services = _services(app)
    if services is None or not services.store_open:
        return []
    samples = []
    for name, collection in services.db.open_collections().items():
        try:
            health = collection.health()
            samples.append(CollectionSample(name, collection.count(), health.status != "ok",
                                            health.failures_total))
        except VectorStoreError:  # dropped or closed meanwhile
            continue
    return samples


def _depth(app: FastAPI) -> int:
    services = _services(app)
    return 0 if services is None else services.jobs.depth()
