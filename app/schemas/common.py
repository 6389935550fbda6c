"""Models shared by several resources."""

from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

CollectionName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
    Field(description="1-64 letters, digits, '_', '-' or '.', starting with a letter or digit."),
]

Filter = Annotated[
    dict[str, Any],
    Field(
        description='Mongo-like filter on payload fields, e.g. {"page": {"$gte": 3}}; '
        "operators $eq $ne $in $nin $gt $gte $lt $lte $exists $and $or $not.",
        examples=[{"source": {"$in": ["a.pdf", "b.md"]}, "page": {"$gte": 2}}],
    ),
]


class Request(BaseModel):
    """Base of request bodies: unknown keys are an error, never silently dropped, and a
    JSON true or false is no number (pydantic's lax mode would take it for 1 or 0)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                if isinstance(data.get(name), bool) and _numeric(field.annotation):
                    raise ValueError(f"{name}: Input should be a number, not a boolean")
        return data


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number, or a union or annotation of one."""
    if annotation in (int, float):
        return True
    return any(_numeric(arg) for arg in get_args(annotation) if arg is not type(None))


class ErrorBody(BaseModel):
    """Every error but request validation (422) has this body."""

    detail: str = Field(description="What went wrong, in one line.")
    code: str = Field(description="A stable snake_case name of the error.")


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed filter, wrong dimension or another rejected input.",
        401: "API key missing.",
        403: "API key wrong.",
        404: "Unknown collection, document or job.",
    }.items()
}
"""Responses every /v1 route may give; routes add their own (409, 413, 415)."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """ERRORS plus the given statuses, all with ErrorBody."""
    extra = {s: {"model": ErrorBody} for s in statuses}
    return {**ERRORS, **extra}
