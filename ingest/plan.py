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

from ingest.files import (
    FileInfo,
    FileSelector,
    Named,
    doc_id_of,
    sha256_file,
    shown_source,
    source_of,
)
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
    """path -> doc_id of documents whose file left a walked folder."""


def make_plan(
    paths: Iterable[str | os.PathLike | Named], collection, selector: FileSelector
) -> Plan:
    """Plan the ingest of `paths` (files, folders, `Named` files) into `collection`.

    Results name files by absolute path (the report is read where the files are); chunks
    show them relative to the folder given (a file given alone shows its name).
    """
    plan = Plan()
    candidates: dict[str, Named | str] = {}
    """absolute path -> its identity (Named) or the source shown for it"""
    in_folders: dict[str, StoredDocument] = {}
    stored: dict[str, StoredDocument] = {}
    for arg in paths:
        path = source_of(arg.path if isinstance(arg, Named) else arg)
        if isinstance(arg, Named):
            candidates[path] = arg
            known = stored_documents(collection, {"doc_id": arg.doc_id}, key="doc_id")
            if arg.doc_id in known:
                stored[path] = known[arg.doc_id]
        elif os.path.isdir(path):
            candidates.update((p, shown_source(p, path)) for p in selector.walk(path))
            in_folders.update(stored_documents(collection, under(path)))
        elif os.path.lexists(path):
            candidates[path] = shown_source(path, os.path.dirname(path))
            stored.update(stored_documents(collection, {"path": path}))
        else:
            plan.results.append(FileResult(path, "failed", reason="no such file or directory"))
    stored.update(in_folders)
    now = time.time()
    for key, (path, identity) in enumerate(candidates.items()):
        _plan_file(plan, key, path, identity, stored.get(path), now)
    plan.removals = {p: d.doc_id for p, d in in_folders.items() if p not in candidates}
    return plan


def _file_info(path: str, identity: Named | str, st: os.stat_result, digest: str) -> FileInfo:
    if isinstance(identity, Named):
        return FileInfo(path, identity.filename, identity.doc_id, st.st_size, st.st_mtime,
                        digest, filename=identity.filename)
    return FileInfo(path, identity, doc_id_of(path), st.st_size, st.st_mtime, digest)


def _plan_file(
    plan: Plan, key: int, path: str, identity: Named | str, stored: StoredDocument | None,
    now: float,
) -> None:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            plan.results.append(FileResult(path, "failed", reason="not a regular file"))
            return
        if stored is not None and stored.unchanged(st.st_size, st.st_mtime, now):
            plan.results.append(FileResult(path, "unchanged"))
            return
        digest = sha256_file(path)
    except OSError as e:
        plan.results.append(FileResult(path, "failed", reason=describe(e)))
        return
    if stored is not None and stored.hashes == {digest}:
        plan.results.append(FileResult(path, "unchanged"))
        return
    info = _file_info(path, identity, st, digest)
    plan.tasks.append(ParseTask(key, path, info))
    plan.statuses[key] = "added" if stored is None else "updated"
