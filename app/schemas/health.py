"""Liveness and readiness."""

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    """`ready` once the store is open and the model loaded; `model_error` if loading failed."""

    status: Literal["ready", "starting", "failed"]
    store_open: bool
    model_loaded: bool
    model: str
    model_error: str | None = None
