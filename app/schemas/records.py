"""Raw records, for apps that bring their own embeddings."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import Filter, Request
from app.schemas.search import Vector

MAX_RECORDS = 5000
ONE_SELECTOR = {"oneOf": [{"required": ["ids"]}, {"required": ["where"]}]}
"""The schema of a request taking exactly one of `ids` or `where`."""


class RecordIn(Request):
    id: str = Field(min_length=1, max_length=512)
    vector: Vector
    payload: dict[str, Any] = Field(default_factory=dict)


class RecordsUpsert(Request):
    """Records inserted or replaced by id, all or none; vectors must match the dimension."""

    records: list[RecordIn] = Field(min_length=1, max_length=MAX_RECORDS)


class RecordsDelete(Request):
    """Exactly one of `ids` or `where`."""

    model_config = ConfigDict(json_schema_extra=ONE_SELECTOR)

    # Typed without null (a default of None stands for "absent"), so that the schema's
    # oneOf says what the validator below checks.
    ids: list[str] = Field(None, min_length=1, max_length=MAX_RECORDS)  # type: ignore[assignment]
    where: Filter = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _one_selector(self) -> "RecordsDelete":
        if (self.ids is None) == (self.where is None):
            raise ValueError("give exactly one of 'ids' or 'where'")
        return self


class RecordsGet(Request):
    """Exactly one of `ids` (ids not in the collection are left out of the answer) or
    `where` (matching records in insertion order, a page of `limit` from `offset`)."""

    model_config = ConfigDict(json_schema_extra=ONE_SELECTOR)

    ids: list[str] = Field(None, min_length=1, max_length=MAX_RECORDS)  # type: ignore[assignment]
    where: Filter = None  # type: ignore[assignment]
    limit: int = Field(100, ge=1, le=MAX_RECORDS, description="With `where`: page size.")
    offset: int = Field(0, ge=0, description="With `where`: records to skip.")
    include_vectors: bool = False

    @model_validator(mode="after")
    def _one_selector(self) -> "RecordsGet":
        if (self.ids is None) == (self.where is None):
            raise ValueError("give exactly one of 'ids' or 'where'")
        return self


class RecordOut(BaseModel):
    id: str
    vector: list[float] | None = Field(description="Present when asked for.")
    payload: dict[str, Any]


class RecordList(BaseModel):
    records: list[RecordOut] = Field(description="The records found, in the order asked.")


class Upserted(BaseModel):
    upserted: int


class Deleted(BaseModel):
    deleted: int
