"""Dependencies shared by the routers: services, the collection, the API key."""

import hmac
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from app.errors import Forbidden, Unauthorized
from app.services import Services
from app.settings import Settings
from vectorstore import Collection

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <key>`")


async def get_services(request: Request) -> Services:
    """The services the lifespan opened. The light dependencies are `async` so that a
    request does not hop through the thread pool once per dependency."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_collection(
    request: Request,
    name: Annotated[str, Path(description="Collection name.", max_length=64, examples=["docs"])],
) -> Collection:
    """The collection named in the path; CollectionNotFound becomes a 404.

    An open collection is returned at once; one not open yet is opened on a worker
    thread (WAL replay and checksums take time), never on the event loop.
    This and `require_api_key` read the app state from the request rather than through
    further dependencies: every search solves them, and each level costs microseconds."""
    db = request.app.state.services.db
    return db.opened(name) or await run_in_threadpool(db.get_collection, name)


CollectionDep = Annotated[Collection, Depends(get_collection)]


async def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> None:
    """When an API key is configured, demand it (see `check_api_key`)."""
    check_api_key(request.app.state.settings, header,
                  bearer.credentials if bearer is not None else None)


def check_api_key(settings: Settings, header: str | None, bearer: str | None) -> None:
    """Raise Unauthorized or Forbidden unless the key is configured off or given right,
    compared in constant time. Either header carries it; when both are sent, both must
    hold the key. The routers and the MCP endpoint share this one check."""
    if settings.api_key is None:
        return
    given = [k for k in (header, bearer) if k]
    if not given:
        raise Unauthorized("API key required: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    expected = settings.api_key.get_secret_value().encode()
    if not all(hmac.compare_digest(key.encode(), expected) for key in given):
        raise Forbidden("API key not accepted")
