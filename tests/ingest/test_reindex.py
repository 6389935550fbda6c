"""`ingest.reindex`: a collection re-embedded from its stored chunks into a new generation."""

import numpy as np
import pytest

from ingest.errors import IngestError, ModelMismatch
from ingest.pipeline import Ingestor
from ingest.recipe import BARE_TEMPLATE, CONTEXT_TEMPLATE, Contextualizer
from ingest.reindex import ReindexStopped, reindex
from ingest.store import open_collection, recorded_recipe
from vectorstore.errors import CollectionBusy


@pytest.fixture
def bare(db, embedder, docs):
    """A collection of three Markdown files ingested with bare chunks (no context)."""
    for topic in ("glaciers", "volcanoes", "tides"):
        sections = "\n\n".join(f"## Part {p}\n\nThe {topic} part {p} says: "
                               + " ".join(f"Sentence {s} of part {p}." for s in range(30))
                               for p in range(3))
        (docs / f"{topic}.md").write_text(f"# All about {topic}\n\n{sections}\n")
    collection = open_collection(db, "docs", embedder)
    with Ingestor(collection, embedder, workers=0, template=BARE_TEMPLATE) as ingestor:
        ingestor.ingest([docs])
    return collection


def _records(collection):
    return {r.id: r for r in collection.get(where={}, limit=None)}


def test_reindex_switches_to_the_context_recipe(db, embedder, bare):
    before = _records(bare)
    assert recorded_recipe(bare).template == BARE_TEMPLATE
    seen = []
    report = reindex(db, "docs", embedder, progress=seen.append)
    after_collection = db.get_collection("docs")
    assert after_collection is not bare
    recipe = recorded_recipe(after_collection)
    assert recipe.template == CONTEXT_TEMPLATE and recipe.model == embedder.name
    assert recipe.chunk_tokens == recorded_recipe(bare).chunk_tokens
    assert (report.records, report.embedded, report.copied, report.resumed) == (
        len(before), len(before), 0, False)
    assert seen[-1].done == seen[-1].total == len(before)
    after = _records(after_collection)
    assert after.keys() == before.keys()
    context = Contextualizer(CONTEXT_TEMPLATE, embedder.tokenizer, embedder.max_tokens)
    sample = sorted(after)[:5]
    for rid in sample:
        assert after[rid].payload == before[rid].payload  # stored text stays the chunk alone
    texts = [context.embedded(after[r].payload["title"], after[r].payload["heading_path"],
                              after[r].payload["text"]) for r in sample]
    assert texts[0].startswith("All about") and texts[0].endswith(after[sample[0]].payload["text"])
    got = np.stack([after[r].vector for r in sample])
    # int8 activations are quantised per batch, so a vector moves a little with its batch
    with_context = np.sum(got * embedder.embed(texts), axis=1)
    bare_text = np.sum(got * embedder.embed([after[r].payload["text"] for r in sample]), axis=1)
    assert (with_context > 0.98).all() and (with_context > bare_text + 0.01).all()
    hit = after_collection.search(embedder.embed_query("volcanoes part 2"), k=1)[0]
    assert "volcanoes" in hit.payload["source"]


def test_same_recipe_carries_vectors_over(db, embedder, bare):
    reindex(db, "docs", embedder, template=BARE_TEMPLATE)
    before = _records(bare)
    report = reindex(db, "docs", embedder, template=BARE_TEMPLATE)
    assert (report.embedded, report.copied) == (0, len(before))
    after = _records(db.get_collection("docs"))
    # cosine collections normalise what they take: a unit vector may move in its last bits
    assert all(np.allclose(after[r].vector, before[r].vector, atol=1e-6) for r in before)


def test_stopped_run_resumes_where_it_was(db, embedder, bare, monkeypatch):
    monkeypatch.setattr("ingest.reindex.BATCH", 4)
    total = bare.count()
    calls = iter(range(1000))
    with pytest.raises(ReindexStopped, match="enough"):
        reindex(db, "docs", embedder, stop=lambda: "enough" if next(calls) >= 2 else None)
    assert db.get_collection("docs") is bare and recorded_recipe(bare).template == BARE_TEMPLATE
    report = reindex(db, "docs", embedder)
    assert report.resumed and report.embedded == total - 8 and report.records == total


def test_writes_during_the_rebuild_are_carried_over(db, embedder, bare, docs, monkeypatch):
    monkeypatch.setattr("ingest.reindex.BATCH", 8)
    (docs / "tides.md").unlink()
    (docs / "comets.md").write_text("# Comets\n\nComets have tails of dust and gas.\n")
    calls = []

    def ingest_once():  # a writer comes in while the first pass runs
        if len(calls) == 1:
            with Ingestor(bare, embedder, workers=0) as ingestor:
                ingestor.ingest([docs])
        calls.append(1)

    reindex(db, "docs", embedder, stop=lambda: ingest_once())
    current = db.get_collection("docs")
    sources = {r.payload["source"].rsplit("/", 1)[-1] for r in _records(current).values()}
    assert sources == {"glaciers.md", "volcanoes.md", "comets.md"}
    assert current.count() == bare.count()


def test_bad_requests_fail_before_anything_is_written(db, embedder, bare):
    class Wider:
        name, dim = "wide-model", embedder.dim * 2

    with pytest.raises(ModelMismatch, match="fixed for its life"):
        reindex(db, "docs", Wider())
    bare.upsert(["raw"], np.ones((1, embedder.dim), np.float32), [{"note": "no text"}])
    with pytest.raises(IngestError, match="1 record.*without stored text"):
        reindex(db, "docs", embedder)
    bare.delete(ids=["raw"])
    db.stage("docs", bare.config)  # as a reindex running in this process has
    with pytest.raises(CollectionBusy, match="already being rebuilt"):
        reindex(db, "docs", embedder)
    db.unstage("docs")
    assert db.get_collection("docs") is bare
    assert sorted(p.name for p in (db.path / "collections" / "docs").iterdir()) == [
        "manifest.json", "segments", "wal"]
