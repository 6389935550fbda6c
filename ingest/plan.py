"""Decide, before any parsing, what an ingest run does with each file.

Folders are walked, every file is compared with what the store holds (size and mtime
first, the sha256 when they differ), and documents stored under a walked folder whose file
is gone (or no longer selected by the globs) are marked for removal. Nothing here writes
to the store.
"""

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from ingest.files import FileInfo, FileSelector, doc_id_of, sha256_file, source_of
from ingest.report import FileResult
from ingest.store import StoredDocument, stored_documents, under
from ingest.worker import ParseTask, describe


@dataclass
class Plan:
    """Files to parse (with the status they will end in), decided outcomes, and removals."""

    tasks: list[ParseTask] = field(default_factory=list)
    statuses: dict[int, str] = field(default_factory=dict)
    results: list[FileResult] = field(default_factory=list)
    removals: dict[str, str] = field(default_factory=dict)
    """source -> doc_id of documents whose file left a walked folder."""


def make_plan(paths: Iterable[str | os.PathLike], collection, selector: FileSelector) -> Plan:
    """Plan the ingest of `paths` (files and folders) into `collection`."""
    plan = Plan()
    candidates: dict[str, None] = {}
    in_folders: dict[str, StoredDocument] = {}
    stored: dict[str, StoredDocument] = {}
    for path in paths:
        source = source_of(path)
        if os.path.isdir(source):
            candidates.update(dict.fromkeys(selector.walk(source)))
            in_folders.update(stored_documents(collection, under(source)))
        elif os.path.lexists(source):
            candidates[source] = None
            stored.update(stored_documents(collection, {"source": source}))
        else:
            plan.results.append(FileResult(source, "failed", reason="no such file or directory"))
    stored.update(in_folders)
    now = time.time()
    for key, source in enumerate(candidates):
        _plan_file(plan, key, source, stored.get(source), now)
    plan.removals = {s: d.doc_id for s, d in in_folders.items() if s not in candidates}
    return plan


def _plan_file(
    plan: Plan, key: int, source: str, stored: StoredDocument | None, now: float
) -> None:
    try:
        st = os.stat(source)
        if not stat.S_ISREG(st.st_mode):
            plan.results.append(FileResult(source, "failed", reason="not a regular file"))
            return
        if stored is not None and stored.unchanged(st.st_size, st.st_mtime, now):
            plan.results.append(FileResult(source, "unchanged"))
            return
        digest = sha256_file(source)
    except OSError as e:
        plan.results.append(FileResult(source, "failed", reason=describe(e)))
        return
    if stored is not None and stored.hashes == {digest}:
        plan.results.append(FileResult(source, "unchanged"))
        return
    info = FileInfo(source, doc_id_of(source), st.st_size, st.st_mtime, digest)
    plan.tasks.append(ParseTask(key, source, info))
    plan.statuses[key] = "added" if stored is None else "updated"
