"""/health (no key needed) and /metrics (Prometheus text format)."""

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.deps import ServicesDep, require_api_key
from app.schemas.common import ERRORS
from app.schemas.health import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready yet."}},
)
def health(services: ServicesDep) -> JSONResponse:
    """Liveness (any answer) and readiness (200 once the store is open and the model loaded)."""
    state = "ready" if services.ready else "failed" if services.model.error else "starting"
    body = Health(
        status=state,
        store_open=services.store_open,
        model_loaded=services.model.loaded,
        model=services.model.name,
        model_error=services.model.error,
    )
    return JSONResponse(body.model_dump(), status_code=200 if services.ready else 503)


@router.get(
    "/metrics",
    dependencies=[Depends(require_api_key)],
    response_class=Response,
    responses={
        **{s: ERRORS[s] for s in (401, 403)},
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
    },
)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this server."""
    registry = request.app.state.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
