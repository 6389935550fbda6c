"""A passage's place on a page of its PDF, for drawing it over the page's image."""

from pydantic import BaseModel, Field


class Box(BaseModel):
    """A rectangle in fractions of the page, from its top left corner (0..1)."""

    left: float
    top: float
    right: float
    bottom: float


class PageHighlight(BaseModel):
    """The lines of a passage on one page; no boxes when its text is not found there."""

    page: int = Field(description="The page, 1-based.")
    pages: int = Field(description="Pages of the document.")
    boxes: list[Box] = Field(description="One box per line of the passage on the page.")
    located: float = Field(description="Share of the passage's letters and digits found on "
                           "the page, 0..1 (boxes are drawn from 0.5).")
