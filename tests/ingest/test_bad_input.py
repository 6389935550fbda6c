"""Bad input: each bad file is reported with its reason, the batch goes on, the store unhurt."""

import itertools
import os
import tracemalloc

import pytest

import ingest.plan
from ingest.blocks import MAX_BLOCK_CHARS, Block, LoadedDocument
from ingest.chunking import chunk_document
from ingest.files import FileInfo
from ingest.limits import Limits
from ingest.loaders import load
from tests.ingest.conftest import sentences, write_pdf

FIFTY_MB = 50 * 1024 * 1024
LATIN = "Crème brûlée à la française, s'il vous plaît."


@pytest.fixture
def stored(docs, ingestor, collection):
    """A folder already ingested once: what must survive the bad batch untouched."""
    (docs / "good.md").write_text(f"# Good\n\n{sentences('good things', 8)}\n")
    write_pdf(docs / "fine.pdf", [sentences("fine print", 6)])
    assert ingestor.ingest([docs]).counts()["added"] == 2
    return {r.id: r.payload["text"] for r in collection.get(where={}, limit=1000)}


def add_bad_files(docs):
    whole = write_pdf(docs / "whole.pdf", [sentences("a real pdf", 6)] * 3).read_bytes()
    (docs / "whole.pdf").unlink()
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog" + os.urandom(2000))
    (docs / "truncated.pdf").write_bytes(whole[: len(whole) // 2])
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (docs / "blank.txt").write_text("   \n\n \t\n")
    (docs / "latin1.txt").write_bytes(LATIN.encode("latin-1"))
    (docs / "loop.md").symlink_to(docs / "loop.md")
    (docs / "sub").mkdir()
    (docs / "sub" / "up").symlink_to(docs, target_is_directory=True)
    (docs / "locked.txt").write_text("secret words")
    (docs / "locked.txt").chmod(0)


def test_a_batch_of_bad_files(docs, stored, ingestor, collection, monkeypatch):
    add_bad_files(docs)
    locked = str(docs / "locked.txt")
    if os.access(locked, os.R_OK):
        # Running as root: chmod 000 does not stop reads, so make reading it fail the same way.
        real = ingest.plan.sha256_file

        def sha256_file(path):
            if str(path) == locked:
                raise PermissionError(13, "Permission denied", path)
            return real(path)

        monkeypatch.setattr(ingest.plan, "sha256_file", sha256_file)
    report = ingestor.ingest([docs])
    outcome = {os.path.basename(r.path): (r.status, r.reason) for r in report.results}
    assert outcome.pop("good.md") == ("unchanged", "")
    assert outcome.pop("fine.pdf") == ("unchanged", "")
    assert outcome.pop("latin1.txt") == ("added", "")
    reasons = {name: reason for name, (status, reason) in outcome.items() if status == "failed"}
    assert set(reasons) == set(outcome), f"not all failed: {outcome}"
    assert reasons.pop("corrupt.pdf").startswith("unreadable PDF")
    assert reasons.pop("truncated.pdf").startswith("unreadable PDF")
    assert reasons.pop("empty.txt") == "empty file"
    assert reasons.pop("binary.txt") == "binary content, not text (named .txt)"
    assert reasons.pop("blank.txt") == "no extractable text"
    assert reasons.pop("loop.md") == "too many levels of symbolic links"
    assert reasons.pop("locked.txt") == "permission denied"
    assert reasons == {}
    after = {r.id: r.payload["text"] for r in collection.get(where={}, limit=1000)}
    assert {k: v for k, v in after.items() if k in stored} == stored
    [latin] = collection.get(where={"path": str(docs / "latin1.txt")})
    assert latin.payload["text"] == LATIN


def test_pdf_page_without_text_is_reported_not_dropped(docs, ingestor):
    write_pdf(docs / "scan.pdf", [sentences("typed page", 3), ""])
    [result] = ingestor.ingest([docs]).results
    assert result.status == "added"
    assert result.warnings == ("page 2: no extractable text (scanned image?)",)


def test_fifty_megabyte_text_file_streams_in_bounded_memory(tmp_path):
    """The loader reads a 50 MB file in bounded blocks: peak memory is a small fraction of it."""
    path = tmp_path / "huge.txt"
    paragraph = sentences("a very large file", 40) + "\n\n"
    with open(path, "w") as f:
        for _ in range(FIFTY_MB // len(paragraph) + 1):
            f.write(paragraph)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        end = 0
        for block in load(path, Limits(max_file_chars=2 * FIFTY_MB)).blocks:
            assert block.start == end and len(block.text) <= MAX_BLOCK_CHARS
            end = block.start + len(block.text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert end == size - len("\n\n")  # all of it but the trailing blank line, cleaned away
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte file"


def test_chunking_consumes_blocks_lazily(chunker):
    """Chunks come out while blocks are still being produced: a file is never held whole."""
    produced = itertools.count()

    def endless():
        for i in produced:
            yield Block(sentences(f"block {i}", 40), i * 5000)

    doc = LoadedDocument("text", "endless", endless())
    info = FileInfo("/x", "x", "id", 0, 0.0, "0" * 64)
    first = list(itertools.islice(chunk_document(doc, info, chunker), 5))
    assert len(first) == 5 and next(produced) <= 4
