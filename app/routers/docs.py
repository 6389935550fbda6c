"""The API's own documentation: /openapi.json, Swagger UI at /docs, ReDoc at /redoc.

The pages' JavaScript, CSS and icon are the copies of Swagger UI (Apache-2.0) and ReDoc
(MIT) that the `fastapi-offline` package installs, served from here, so the pages work
with no network. Like every route but /health they need the API key when one is set.
"""

from collections.abc import Callable
from functools import partial
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from app.deps import require_api_key
from app.errors import NotFound

STATIC = Path(str(files("fastapi_offline") / "static"))
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
SWAGGER_PARAMETERS = {"validatorUrl": None}  # no badge fetched from validator.swagger.io
OWN_ORIGIN_ONLY = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'"
}
"""The pages may load nothing from elsewhere: ReDoc's footer logo, the one such request left,
is refused by the browser (ReDoc then hides it)."""

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_api_key)])


def _page(request: Request, name: str, make: Callable[..., HTMLResponse],
          **assets: str) -> HTMLResponse:
    """Documentation page `name` over this app's /openapi.json, its assets (keyword -> file)
    served from /docs/assets, under the app's root path, loading nothing from elsewhere."""
    root = request.scope.get("root_path", "")
    urls = {key: f"{root}/docs/assets/{file}" for key, file in assets.items()}
    page = make(openapi_url=f"{root}/openapi.json", title=f"{request.app.title} - {name}",
                **urls)
    page.headers.update(OWN_ORIGIN_ONLY)
    return page


@router.get("/openapi.json")
async def openapi(request: Request) -> JSONResponse:
    """The OpenAPI document the pages read."""
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    swagger = partial(get_swagger_ui_html, swagger_ui_parameters=SWAGGER_PARAMETERS)
    return _page(request, "Swagger UI", swagger, swagger_js_url="swagger-ui-bundle.js",
                 swagger_css_url="swagger-ui.css", swagger_favicon_url="favicon.png")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _page(request, "ReDoc", partial(get_redoc_html, with_google_fonts=False),
                 redoc_js_url="redoc.standalone.js", redoc_favicon_url="favicon.png")


@router.get("/docs/assets/{name}")
async def asset(name: str) -> FileResponse:
    """One of the four files the pages load; nothing else of the package's folder."""
    if name not in ASSETS:
        raise NotFound(f"no documentation asset {name!r}")
    return FileResponse(STATIC / name)
