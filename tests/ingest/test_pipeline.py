"""End to end: real files in, cited chunks out; incremental runs touch only what changed."""

import pytest

from ingest.errors import LoadError, ModelMismatch
from ingest.files import FileSelector
from ingest.pipeline import Ingestor
from ingest.store import open_collection
from tests.ingest.conftest import sentences, write_docx, write_pdf

TOPICS = ["volcanoes", "tax law", "sourdough", "chess", "glaciers", "jazz", "beekeeping",
          "orbital mechanics", "knitting"]
PAGE_SEVEN = "Honeybee colonies swarm in late spring when the old queen leaves with the workers."


def search(collection, embedder, question: str, k: int = 3, where=None):
    return collection.search(embedder.embed_query(question), k=k, where=where)


def ids_of(collection, source: str) -> set[str]:
    return {r.id for r in collection.get(where={"path": source}, limit=10_000)}


@pytest.fixture
def corpus(docs):
    pages = [sentences(topic, 12) for topic in TOPICS]
    pages[6] = f"{sentences('beekeeping', 6)} {PAGE_SEVEN} {sentences('hives', 6)}"
    write_pdf(docs / "manual.pdf", pages, title="The Manual")
    write_docx(docs / "memo.docx", [("Heading 1", "Budget"), ("", sentences("budget", 5))])
    (docs / "page.html").write_text(
        "<html><head><title>Home</title></head><body><nav>Menu Login</nav>"
        f"<h1>News</h1><p>{sentences('news', 4)}</p></body></html>"
    )
    (docs / "notes.md").write_text(f"# Notes\n\n## Cooking\n\n{sentences('risotto', 5)}\n")
    return docs


def test_a_sentence_from_page_seven_is_cited_as_page_seven(corpus, ingestor, collection, embedder):
    report = ingestor.ingest([corpus])
    assert report.counts() == {"added": 4, "updated": 0, "unchanged": 0, "removed": 0, "failed": 0}
    hit = search(collection, embedder, "When do honeybee colonies swarm?")[0]
    assert hit.payload["path"] == str(corpus / "manual.pdf")
    assert hit.payload["source"] == "manual.pdf"
    assert hit.payload["page"] == 7 and PAGE_SEVEN in hit.payload["text"]
    assert hit.payload["title"] == "The Manual" and hit.payload["file_type"] == "pdf"
    budget = search(collection, embedder, "budget facts", where={"file_type": "docx"})[0]
    assert budget.payload["heading_path"] == ["Budget"]
    cooking = search(collection, embedder, "risotto", where={"heading_path": "Cooking"})[0]
    assert cooking.payload["heading_path"] == ["Notes", "Cooking"]
    news = search(collection, embedder, "news", k=5)
    assert "Menu" not in " ".join(h.payload["text"] for h in news)


def test_unchanged_folder_embeds_nothing(corpus, ingestor, collection, embedder, monkeypatch):
    ingestor.ingest([corpus])
    count = collection.count()
    embedded = []
    monkeypatch.setattr(embedder, "encode", lambda texts: embedded.append(texts))
    report = ingestor.ingest([corpus])
    assert report.counts()["unchanged"] == 4 and report.chunks == 0
    assert embedded == [] and collection.count() == count


def test_editing_a_file_replaces_only_its_chunks(corpus, ingestor, collection, embedder):
    ingestor.ingest([corpus])
    notes, manual = str(corpus / "notes.md"), str(corpus / "manual.pdf")
    before_manual, before_notes = ids_of(collection, manual), ids_of(collection, notes)
    (corpus / "notes.md").write_text("# Notes\n\n## Garden\n\nTomatoes need full sun.\n")
    report = ingestor.ingest([corpus])
    assert [r.path for r in report.of("updated")] == [notes]
    assert report.counts()["unchanged"] == 3
    assert ids_of(collection, manual) == before_manual
    after_notes = ids_of(collection, notes)
    assert after_notes and not after_notes & before_notes
    hit = search(collection, embedder, "what do tomatoes need?")[0]
    assert hit.payload["path"] == notes and hit.payload["heading_path"] == ["Notes", "Garden"]
    assert collection.count(where={"path": notes, "text": {"$exists": True}}) == len(after_notes)


def test_deleting_a_file_removes_its_chunks(corpus, ingestor, collection):
    ingestor.ingest([corpus])
    (corpus / "memo.docx").unlink()
    report = ingestor.ingest([corpus])
    assert [r.path for r in report.of("removed")] == [str(corpus / "memo.docx")]
    assert collection.count(where={"path": str(corpus / "memo.docx")}) == 0
    assert collection.count(where={"file_type": "pdf"}) > 0


def test_a_file_that_turns_bad_keeps_its_stored_chunks(corpus, ingestor, collection):
    ingestor.ingest([corpus])
    manual = str(corpus / "manual.pdf")
    before = ids_of(collection, manual)
    (corpus / "manual.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 500)
    report = ingestor.ingest([corpus])
    [failed] = report.of("failed")
    assert failed.path == manual and "PDF" in failed.reason
    assert ids_of(collection, manual) == before


def test_failure_after_chunks_were_embedded_leaves_no_trace(
    docs, collection, embedder, monkeypatch
):
    """A file failing mid-stream, after some of its chunks were embedded: nothing of it
    reaches the store, and its old version stays whole."""
    import ingest.worker
    from ingest.blocks import Block, LoadedDocument

    path = docs / "long.txt"
    path.write_text(sentences("stable", 10))
    with Ingestor(collection, embedder, workers=0, embed_batch=4) as ingestor:
        ingestor.ingest([path])
        before = ids_of(collection, str(path))
        path.write_text(sentences("changed", 10))

        def blocks():
            for i in range(12):
                yield Block(f"Block {i} says something new.", i * 100)
            raise LoadError("stream broke at block 12")

        monkeypatch.setattr(ingest.worker, "CHUNKS_PER_MESSAGE", 2)
        monkeypatch.setattr(
            ingest.worker, "load", lambda p, limits: LoadedDocument("text", "t", blocks())
        )
        embedded = []
        encode = embedder.encode
        monkeypatch.setattr(embedder, "encode",
                            lambda texts: embedded.extend(texts) or encode(texts))
        writes = []
        monkeypatch.setattr(collection, "upsert", lambda *a, **k: writes.append(a))
        report = ingestor.ingest([path])
    assert report.of("failed")[0].reason == "stream broke at block 12"
    assert len(embedded) >= 4, "chunks were embedded before the failure"
    assert writes == [] and report.chunks == 0
    assert ids_of(collection, str(path)) == before


def test_include_exclude_and_hidden_files(docs, collection, embedder):
    (docs / "keep.md").write_text("kept text")
    (docs / "drafts").mkdir()
    (docs / "drafts" / "wip.md").write_text("draft text")
    (docs / ".hidden.md").write_text("hidden text")
    (docs / ".git").mkdir()
    (docs / ".git" / "config.txt").write_text("git internals")
    (docs / "~$lock.docx").write_bytes(b"lock")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    selector = FileSelector(exclude=["drafts/*"])
    with Ingestor(collection, embedder, selector=selector, workers=0) as ingestor:
        report = ingestor.ingest([docs])
    assert [r.path for r in report.results] == [str(docs / "keep.md")]


def test_another_model_is_refused(db, embedder):
    other = db.create_collection(
        "docs", dim=embedder.dim, metric="cosine", metadata={"embedding_model": "other-model"}
    )
    other.upsert(["x"], [[1.0] * embedder.dim], [{"text": "x"}])
    with pytest.raises(ModelMismatch, match="other-model"):
        open_collection(db, "docs", embedder)
    with pytest.raises(ModelMismatch, match="dim 8"):
        Ingestor(db.create_collection("small", dim=8), embedder)


def test_missing_path_is_reported(tmp_path, ingestor):
    report = ingestor.ingest([tmp_path / "nope.pdf"])
    assert [(r.status, r.reason) for r in report.results] == [
        ("failed", "no such file or directory")
    ]
