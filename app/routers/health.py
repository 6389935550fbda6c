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
    """Liveness (any answer) and readiness: 200 once the store and every collection are
    open and the model loaded (`degraded`, still 200, when a collection reports a
    problem, each with its reason), 503 before or when the model failed to load."""
    problems = services.problems() if services.store_open else []
    if services.model.error:
        state = "failed"
    elif not services.ready:
        state = "starting"
    else:
        state = "degraded" if problems else "ready"
    body = Health(
        status=state,
        store_open=services.store_open,
        collections_open=services.opener.done.is_set(),
        model_loaded=services.model.loaded,
        model=services.model.name,
        model_error=services.model.error,
        problems=problems,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.serving else 503)


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
