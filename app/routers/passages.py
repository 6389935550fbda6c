"""/v1/collections/{name}/passages/{id}: one chunk with its neighbours, for context."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.deps import CollectionDep, require_api_key
from app.passages import get_passage
from app.schemas.common import ERRORS
from app.schemas.passages import MAX_CONTEXT, Passage

router = APIRouter(
    prefix="/v1/collections/{name}/passages",
    tags=["search"],
    dependencies=[Depends(require_api_key)],
    responses=ERRORS,
)


@router.get("/{passage_id}")
def read_passage(
    collection: CollectionDep,
    passage_id: str,
    context: Annotated[int, Query(ge=0, le=MAX_CONTEXT,
                                  description="Chunks of the same document on each side.")] = 1,
) -> Passage:
    """A chunk (a search hit's `id`) and the chunks around it in its document."""
    return get_passage(collection, passage_id, context)
