"""The API's errors and the one place every domain error becomes an HTTP status.

Store and ingest errors keep their own types down below; here each is given a status and
a JSON body `{"detail": message, "code": name}`. Only errors a caller can cause are
mapped: anything else is a bug and stays a 500.
"""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cluster.errors import ClusterUnavailable
from ingest.errors import IngestError, ModelMismatch, ModelUnavailable, RecipeMismatch
from ingest.recipe import RecipeError
from vectorstore.errors import (
    CollectionBusy,
    CollectionExists,
    CollectionNotFound,
    CollectionSuperseded,
    DimensionMismatch,
    InvalidInput,
    MaintenanceFailed,
    StorageFull,
    StoreClosed,
    VectorStoreError,
    WriteFailed,
)


class ApiError(Exception):
    """An error raised by the app layer itself; subclasses set the status. `extra` holds
    further fields of the JSON body."""

    status = 400
    headers: dict[str, str] | None = None
    extra: dict[str, Any] | None = None


class Unauthorized(ApiError):
    """No API key given where one is required."""

    status = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    """A wrong API key."""

    status = 403


class NotFound(ApiError):
    """A document or job that does not exist."""

    status = 404


class PayloadTooLarge(ApiError):
    """An upload over the size or count limit."""

    status = 413


class UnsupportedFile(ApiError):
    """An uploaded file of a type the loaders cannot read."""

    status = 415


class UploadRefused(ApiError):
    """An upload none of whose files was accepted: the body lists each with its reason.
    413 when every file was too large, 415 when every one was of a type not read, else 400."""

    def __init__(self, files: list[tuple[str, ApiError]]) -> None:
        listed = "; ".join(f"{name}: {error}" for name, error in files)
        super().__init__(f"no file accepted ({listed})")
        statuses = {error.status for _, error in files}
        self.status = statuses.pop() if len(statuses) == 1 else 400
        self.extra = {"files": [{"filename": n, "reason": str(e)} for n, e in files]}


class Unavailable(ApiError):
    """The server is not ready for this request (model loading, shutting down)."""

    status = 503


STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (CollectionNotFound, 404),
    (CollectionExists, 409),
    (DimensionMismatch, 400),
    (InvalidInput, 400),
    (StorageFull, 507),
    (WriteFailed, 503),
    (MaintenanceFailed, 503),
    (StoreClosed, 503),
    (ClusterUnavailable, 503),
    (ModelMismatch, 400),
    (ModelUnavailable, 400),
    (RecipeMismatch, 400),
    (RecipeError, 400),
    (CollectionBusy, 409),
    (CollectionSuperseded, 409),
    (IngestError, 400),
)
"""First match wins: the more specific types come first."""


def status_of(error: Exception) -> int:
    """The HTTP status for a domain error, 500 for one not expected from callers."""
    if isinstance(error, ApiError):
        return error.status
    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            return status
    return 500


def code_of(error: Exception) -> str:
    """A stable snake_case name of the error's type, for clients to branch on."""
    name = type(error).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def message_of(error: Exception) -> str:
    """The error's first line, or its type name when it has no message; characters
    UTF-8 cannot carry (a lone surrogate quoted from bad input) are escaped."""
    text = str(error).strip().encode("utf-8", "backslashreplace").decode("utf-8")
    return text.splitlines()[0] if text else type(error).__name__


async def _handle(request: Request, error: Exception) -> JSONResponse:
    status = status_of(error)
    if status == 500:
        raise error
    body = {"detail": message_of(error), "code": code_of(error)}
    body.update(getattr(error, "extra", None) or {})
    return JSONResponse(body, status, headers=getattr(error, "headers", None))


async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 body without the offending input, which may be huge; a malformed
    body's message says what the parser stopped at."""
    detail = [{"loc": list(e["loc"]), "msg": _message(e), "type": e["type"]}
              for e in error.errors()]
    return JSONResponse({"detail": detail}, 422)


def _message(error: dict) -> str:
    reason = error.get("ctx", {}).get("error") if error["type"] == "json_invalid" else None
    return f"{error['msg']}: {reason}" if isinstance(reason, str) else error["msg"]


async def _http(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's own errors (unknown route, unparsable body) in the same JSON shape."""
    code = HTTPStatus(error.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    body = {"detail": str(error.detail), "code": code}
    return JSONResponse(body, error.status_code, headers=error.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route the store's, ingest's and the app's own errors through `_handle`."""
    for kind in (ApiError, VectorStoreError, IngestError):
        app.add_exception_handler(kind, _handle)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
