"""Extraction limits and document atomicity in the pipeline: hostile files fail with the
limit they broke while the rest of the batch goes in; a document appears whole or not at all."""

import threading
import time

import pytest

from ingest.limits import Limits
from ingest.pipeline import Ingestor
from tests.hostile import big_text, empty_pages_pdf, zip_bomb_docx
from tests.ingest.conftest import sentences, write_docx, write_pdf


def outcomes(report) -> dict[str, tuple[str, str]]:
    return {r.path.rsplit("/", 1)[-1]: (r.status, r.reason) for r in report.results}


def with_good_file(docs, ingestor):
    (docs / "good.md").write_text(f"# Good\n\n{sentences('good things', 8)}\n")
    report = ingestor.ingest([docs])
    outcome = outcomes(report)
    assert outcome.pop("good.md") == ("added", "")
    return outcome


def test_a_zip_bomb_docx_fails_before_anything_is_inflated(docs, ingestor, collection):
    zip_bomb_docx(docs / "bomb.docx")
    ((status, reason),) = with_good_file(docs, ingestor).values()
    assert status == "failed"
    assert "-fold" in reason
    assert "max_zip_ratio" in reason and "zip bomb" in reason
    assert collection.count(where={"file_type": "docx"}) == 0


def test_a_docx_inflating_past_the_size_limit_fails(docs, collection, embedder):
    write_docx(docs / "memo.docx", [("", sentences("memo", 30))])
    with Ingestor(collection, embedder, workers=0,
                  limits=Limits(max_unzipped_bytes=20_000)) as ingestor:
        (result,) = ingestor.ingest([docs]).results
    assert result.status == "failed" and "max_unzipped_bytes" in result.reason


def test_a_pdf_of_100000_empty_pages_fails_on_its_declared_count(docs, ingestor, collection):
    empty_pages_pdf(docs / "blank.pdf", 100_000)
    ((status, reason),) = with_good_file(docs, ingestor).values()
    assert (status, reason) == ("failed", "100,000 pages, over the limit of 5,000 (max_pdf_pages)")
    assert collection.count(where={"file_type": "pdf"}) == 0


def test_a_pdf_understating_its_pages_is_caught_while_reading(docs, collection, embedder):
    path = write_pdf(docs / "liar.pdf", [sentences("page", 3)] * 3)
    raw = path.read_bytes()
    assert raw.count(b"/Count 3") == 1
    path.write_bytes(raw.replace(b"/Count 3", b"/Count 1"))
    with Ingestor(collection, embedder, workers=0, limits=Limits(max_pdf_pages=2)) as ingestor:
        (result,) = ingestor.ingest([path]).results
    assert (result.status, result.reason) == (
        "failed", "3 pages, over the limit of 2 (max_pdf_pages)"
    )
    assert collection.count() == 0


def test_a_200_mb_text_file_fails_on_its_characters(docs, ingestor, collection):
    big_text(docs / "huge.txt", 200 << 20)
    ((status, reason),) = with_good_file(docs, ingestor).values()
    assert (status, reason) == (
        "failed", "more text than the limit of 20,000,000 characters (max_file_chars)"
    )
    assert collection.count(where={"file_type": "text"}) == 0


@pytest.mark.parametrize("name", ["page.html", "memo.docx", "notes.md"])
def test_text_of_in_memory_formats_is_counted_before_any_embedding(
    name, docs, collection, embedder, monkeypatch
):
    body = sentences("counted", 40)
    if name.endswith(".docx"):
        write_docx(docs / name, [("Heading 1", "Counted"), ("", body)])
    elif name.endswith(".html"):
        (docs / name).write_text(f"<html><body><h1>Counted</h1><p>{body}</p></body></html>")
    else:
        (docs / name).write_text(f"# Counted\n\n{body}\n")
    embedded = []
    monkeypatch.setattr(embedder, "encode", lambda texts: embedded.append(texts))
    with Ingestor(collection, embedder, workers=0, embed_batch=1,
                  limits=Limits(max_file_chars=len(body) // 2)) as ingestor:
        (result,) = ingestor.ingest([docs / name]).results
    assert result.status == "failed" and "max_file_chars" in result.reason
    assert embedded == []


def test_a_document_over_the_chunk_limit_fails_and_writes_nothing(docs, collection, embedder):
    path = docs / "long.txt"
    path.write_text(sentences("chunky", 400))
    with Ingestor(collection, embedder, workers=0) as ingestor:
        clean = ingestor.ingest([path]).results[0].chunks
    assert clean > 3
    path.write_text(sentences("chunkier", 400))
    with Ingestor(collection, embedder, workers=0,
                  limits=Limits(max_document_chunks=3)) as ingestor:
        (result,) = ingestor.ingest([path]).results
    assert (result.status, result.reason) == (
        "failed", "more chunks than the limit of 3 (max_document_chunks)"
    )
    assert collection.count() == clean
    assert {r.payload["text"][:30] for r in collection.get(where={}, limit=1)} <= {
        sentences("chunky", 1)[:30]
    }


@pytest.mark.parametrize("value", [0, -1, True, "5"])
def test_limits_must_be_positive_numbers(value):
    with pytest.raises(ValueError, match="max_pdf_pages must be a positive number"):
        Limits(max_pdf_pages=value)


@pytest.mark.parametrize("workers", [0, 1])
def test_stop_fails_the_unwritten_files_with_its_reason(docs, collection, embedder, workers):
    for i in range(3):
        (docs / f"{i}.md").write_text(f"# Doc {i}\n\n{sentences(f'topic {i}', 60)}\n")
    polls = []

    def stop() -> str | None:
        polls.append(1)
        return "cancelled by request" if len(polls) > 2 else None

    with Ingestor(collection, embedder, workers=workers, embed_batch=2) as ingestor:
        report = ingestor.ingest([docs], stop=stop)
        failed = report.of("failed")
        assert failed and {r.reason for r in failed} == {"cancelled by request"}
        assert len(report.results) == 3
        written = {r.payload["doc_id"] for r in collection.get(where={}, limit=10_000)}
        assert len(written) == 3 - len(failed)
        again = ingestor.ingest([docs])  # the ingestor works on after a stop
    assert again.counts()["added"] == len(failed) and again.counts()["failed"] == 0


def test_readers_see_a_document_whole_or_not_at_all(docs, collection, embedder):
    """A reader polling during ingest and re-ingest sees 0 or all chunks of one version."""
    path = docs / "long.md"
    path.write_text(f"# Long\n\n{sentences('first version', 400)}\n")
    seen: list[tuple[int, frozenset[str]]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            records = collection.get(where={"path": str(path)}, limit=None)
            seen.append((len(records), frozenset(r.payload["content_hash"] for r in records)))
            time.sleep(0.005)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with Ingestor(collection, embedder, workers=0, embed_batch=8) as ingestor:
            first = ingestor.ingest([path]).results[0].chunks
            path.write_text(f"# Long\n\n{sentences('second version', 300)}\n")
            second = ingestor.ingest([path]).results[0].chunks
    finally:
        done.set()
        reader.join()
    assert first > 8 and second > 8, "several embedding batches per version"
    counts = {count for count, hashes in seen if len(hashes) <= 1}
    assert all(len(hashes) <= 1 for _, hashes in seen), "two versions seen at once"
    assert counts <= {0, first, second}, sorted(counts)
