"""Keep a folder and a collection in step with watchfiles.

Events are only a trigger: after each debounced burst the whole folder is reconciled
against the store (the pipeline skips what is unchanged by size, mtime and hash), so a
create, modify, delete or rename is never lost, however many files a burst touches or
however the OS coalesces or drops its events.
"""

import os
import threading
from collections.abc import Callable, Iterable

import watchfiles

from ingest.files import is_skipped_name, source_of
from ingest.pipeline import Ingestor
from ingest.report import IngestReport

DEBOUNCE_MS = 1600
"""Longest a burst of changes is gathered before a sync starts."""
QUIET_MS = 300
"""A sync starts once no change has arrived for this long."""
_FIRST_SYNC_MS = 300
"""The first sync runs on the watcher's first timeout, so no change slips in before it."""


class ChangeFilter:
    """Ignores changes to hidden paths, editor temp files and the given folders (the store)."""

    def __init__(self, root: str, ignore: Iterable[str] = ()) -> None:
        self.root = source_of(root)
        self.ignore = tuple(source_of(p) for p in ignore)

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if any(path == p or path.startswith(p + os.sep) for p in self.ignore):
            return False
        relative = os.path.relpath(path, self.root)
        return not any(is_skipped_name(part) for part in relative.split(os.sep))


def watch(
    ingestor: Ingestor,
    root: str | os.PathLike,
    *,
    on_sync: Callable[[IngestReport], None] | None = None,
    stop_event: threading.Event | None = None,
    ignore: Iterable[str | os.PathLike] = (),
    debounce_ms: int = DEBOUNCE_MS,
    quiet_ms: int = QUIET_MS,
) -> None:
    """Sync `root` at once, then after every burst of relevant changes, until `stop_event`.

    `on_sync` receives each sync's report; `ignore` lists folders whose changes never
    trigger a sync (put the data directory there when it lies inside `root`).
    """
    root = source_of(root)
    changes = watchfiles.watch(
        root,
        watch_filter=ChangeFilter(root, (str(p) for p in ignore)),
        debounce=debounce_ms,
        step=quiet_ms,
        stop_event=stop_event,
        rust_timeout=_FIRST_SYNC_MS,
        yield_on_timeout=True,
        raise_interrupt=False,
    )
    synced = False
    for batch in changes:
        if batch or not synced:
            report = ingestor.ingest([root])
            synced = True
            if on_sync is not None:
                on_sync(report)
