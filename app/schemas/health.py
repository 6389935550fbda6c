"""Liveness and readiness."""

from typing import Literal

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """Something wrong with one collection, while the server goes on serving."""

    collection: str
    reason: str


class Health(BaseModel):
    """`ready` once the store is open, every collection opened and the model loaded;
    `degraded` when ready but a collection reports a problem (background sealing
    failing, writes failing, records quarantined, or it failed to open); `failed` when
    the model could not load; `starting` before."""

    status: Literal["ready", "degraded", "starting", "failed"]
    store_open: bool
    collections_open: bool = Field(
        True, description="Every collection opened (they open on a worker thread at startup)."
    )
    model_loaded: bool
    model: str
    model_error: str | None = None
    problems: list[Problem] = Field(default_factory=list)

    @property
    def serving(self) -> bool:
        """Ready to answer every request (possibly degraded)."""
        return self.status in ("ready", "degraded")
