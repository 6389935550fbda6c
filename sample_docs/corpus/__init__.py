"""The sample documents' sources, one module per topic folder."""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Doc:
    """One sample document: where it goes (its suffix picks the format), who wrote it, when.

    `body` is in the markup of `sample_docs.markup`.
    """

    path: str
    title: str
    author: str
    date: date
    body: str
    tags: tuple[str, ...] = ()
