"""The watcher reflects creates, edits, deletes, renames and a burst of 1,000 files."""

import threading
import time
from collections.abc import Callable

import pytest

from ingest.watch import ChangeFilter, watch
from tests.ingest.conftest import sentences

WAIT_SECONDS = 20


def eventually(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> bool:
    """Poll `condition` until it holds or `seconds` pass; bounded, never a timing assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def watching(docs, ingestor):
    """A watcher on `docs` in a thread; yields the list of sync reports it has produced."""
    reports = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(ingestor, docs),
        kwargs={"on_sync": reports.append, "stop_event": stop, "quiet_ms": 100},
        daemon=True,
    )
    thread.start()
    assert eventually(lambda: len(reports) >= 1), "the first sync never ran"
    yield reports
    stop.set()
    thread.join(timeout=WAIT_SECONDS)
    assert not thread.is_alive()


def sources(collection) -> set[str]:
    return set(collection.facet("path"))


def test_create_modify_rename_delete(docs, watching, collection):
    first, second = docs / "first.md", docs / "second.md"
    first.write_text(f"# First\n\n{sentences('lighthouses', 3)}\n")
    assert eventually(lambda: sources(collection) == {str(first)})

    first.write_text("# First\n\nLighthouse keepers trim the wick at dusk.\n")
    assert eventually(
        lambda: [r.payload["text"] for r in collection.get(where={"path": str(first)})]
        == ["Lighthouse keepers trim the wick at dusk."]
    )

    first.rename(second)
    assert eventually(lambda: sources(collection) == {str(second)})

    second.unlink()
    assert eventually(lambda: collection.count() == 0)


def test_editor_temp_files_are_ignored(docs, watching, collection):
    for name in ("~$report.docx", "notes.md.swp", "big.pdf.part", ".#notes.md", ".hidden.md"):
        (docs / name).write_text("temporary words")
    (docs / "real.md").write_text("real words")
    assert eventually(lambda: sources(collection) == {str(docs / "real.md")})
    assert all(r.counts()["failed"] == 0 for r in watching)


def test_a_burst_of_a_thousand_files_loses_none(docs, watching, collection):
    for i in range(1000):
        (docs / f"note-{i:04d}.txt").write_text(f"Note number {i} is here.")
    assert eventually(lambda: collection.count() == 1000, seconds=120)
    assert len(sources(collection)) == 1000


def test_change_filter_skips_hidden_temp_and_store(tmp_path):
    keep = ChangeFilter(str(tmp_path), ignore=[str(tmp_path / "data")])
    assert keep(None, str(tmp_path / "a" / "b.pdf"))
    for skipped in (".git/x.md", "a/.hidden/b.md", "~$x.docx", "a.swp", "b.part", ".#c.md",
                    "data/wal/0001.log"):
        assert not keep(None, str(tmp_path / skipped))
