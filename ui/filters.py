"""Sidebar filters built from a collection's documents, and the store filter they select.

The API has no facet endpoint, so the choices come from the document list: each document's
source path, file type, folder (the source's parent, shown relative to the folder all
sources share) and day: the date it declares (front matter, properties, meta tags), else
its file's modification day. A selection compiles to the store's Mongo-like filter
language; folders become ranges on the source path, days a range on the ISO `date` of the
documents that declare one and on `mtime` for the others.
"""

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.schemas.documents import DocumentInfo


@dataclass(frozen=True)
class Facets:
    """What a collection's documents can be filtered on; labels map to stored values."""

    sources: dict[str, str]
    """Document label -> source path."""
    file_types: tuple[str, ...]
    folders: dict[str, str]
    """Folder label -> folder path on the server."""
    first_day: date | None
    last_day: date | None
    dated: int
    """Documents that declare their date: filtered on `date`."""
    undated: int
    """Documents that do not: filtered on `mtime`, their modification time."""


@dataclass(frozen=True)
class Selection:
    """The filter values picked in the sidebar; empty means "any"."""

    sources: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    days: tuple[date, date] | None = None


def _folders(documents: Sequence[DocumentInfo]) -> list[str]:
    """The folders of the documents that came from one (uploads, named by their file
    name, have none)."""
    return [posixpath.dirname(d.source) for d in documents if d.source and not d.filename]


def common_root(documents: Sequence[DocumentInfo]) -> str:
    """The deepest folder holding every folder document's source ("" when there are none)."""
    parents = _folders(documents)
    return posixpath.commonpath(parents) if parents else ""


def label(source: str | None, filename: str | None, root: str) -> str:
    """How a document is named on the page: its upload name, else its path under `root`."""
    if filename or not source:
        return filename or "?"
    return posixpath.relpath(source, root) if root else source


def day_of(timestamp: float) -> date:
    """The UTC calendar day of a Unix time."""
    return datetime.fromtimestamp(timestamp, UTC).date()


def declared_day(document: DocumentInfo) -> date | None:
    """The day a document declares itself of, None when it declares none (or no ISO day)."""
    try:
        return date.fromisoformat(document.date) if document.date else None
    except ValueError:
        return None


def document_day(document: DocumentInfo) -> date | None:
    """A document's day for filters and tables: its declared day, else its file's mtime's."""
    declared = declared_day(document)
    if declared is not None or document.modified is None:
        return declared
    return day_of(document.modified)


def facets(documents: Sequence[DocumentInfo]) -> Facets:
    """The filter choices offered by `documents`, each list sorted."""
    root = common_root(documents)
    folders = {f for f in _folders(documents) if f}
    days = sorted(day for day in map(document_day, documents) if day is not None)
    dated = sum(declared_day(d) is not None for d in documents)
    return Facets(
        sources=dict(sorted((label(d.source, d.filename, root), d.source) for d in documents)),
        file_types=tuple(sorted({d.file_type for d in documents if d.file_type})),
        folders=dict(sorted((_folder_label(f, root), f) for f in folders)),
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
        dated=dated,
        undated=len(documents) - dated,
    )


def _folder_label(folder: str, root: str) -> str:
    relative = posixpath.relpath(folder, root) if root else folder
    if relative == ".":
        return posixpath.basename(root) or "/"
    return relative


def where(selection: Selection, available: Facets) -> dict[str, Any] | None:
    """The store filter for `selection`, None when it keeps everything."""
    clauses: list[dict[str, Any]] = []
    if selection.sources:
        clauses.append({"source": {"$in": list(selection.sources)}})
    if selection.file_types:
        clauses.append({"file_type": {"$in": list(selection.file_types)}})
    if selection.folders:
        ranges = [_under(folder) for folder in selection.folders]
        clauses.append(ranges[0] if len(ranges) == 1 else {"$or": ranges})
    if selection.days and selection.days != (available.first_day, available.last_day):
        clauses.append(_days(*selection.days, available))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _under(folder: str) -> dict[str, Any]:
    """Sources anywhere below `folder`: a string range, as paths sort by their prefix."""
    prefix = folder.rstrip("/") + "/"
    return {"source": {"$gte": prefix, "$lt": prefix[:-1] + chr(ord("/") + 1)}}


def _days(first: date, last: date, available: Facets) -> dict[str, Any]:
    """Documents of the days `first` to `last`: by declared date, else by modification time."""
    by_date = {"date": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
    by_mtime = {"mtime": {"$gte": _midnight(first), "$lt": _midnight(last + timedelta(1))}}
    if not available.undated:
        return by_date
    if not available.dated:
        return by_mtime
    return {"$or": [by_date, {"$and": [{"date": {"$exists": False}}, by_mtime]}]}


def _midnight(day: date) -> float:
    return datetime.combine(day, time(0), UTC).timestamp()
