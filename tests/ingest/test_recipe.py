"""Chunks with context: what is embedded, what is stored, and the recipe a collection keeps."""

import pytest

from ingest.chunking import ChunkConfig
from ingest.errors import RecipeMismatch
from ingest.pipeline import Ingestor
from ingest.recipe import (
    BARE_TEMPLATE,
    CONTEXT_TEMPLATE,
    RECIPE_KEY,
    Contextualizer,
    RecipeError,
    check_template,
)
from ingest.store import recorded_recipe


def test_context_is_title_then_headings_less_a_repeated_title(tokenizer):
    context = Contextualizer(CONTEXT_TEMPLATE, tokenizer, 256)
    assert context.context("Guide", ("Guide", "Setup", "Linux"))[0] == "Guide\nSetup > Linux\n"
    assert context.context("Guide", ())[0] == "Guide\n"
    assert context.context("", ())[0] == ""
    assert context.embedded("Guide", ["Setup"], "Run it.") == "Guide\nSetup\nRun it."
    assert Contextualizer(BARE_TEMPLATE, tokenizer, 256).embedded("Guide", ["Setup"], "x") == "x"


def test_context_is_capped_to_a_quarter_of_the_window(tokenizer):
    context = Contextualizer(CONTEXT_TEMPLATE, tokenizer, 256)
    text, used = context.context("word " * 200, ("Setup",))
    assert used == 64 and len(tokenizer.encode(text, add_special_tokens=False).ids) == 64
    # a stored chunk that fills the window leaves its context no room at all
    assert context.embedded("Guide", [], "word " * 256) == "word " * 256


@pytest.mark.parametrize("template", ["{title}", "{text} {title}", "{author}\n{text}",
                                      "{text}{text}", "{title"])
def test_bad_templates_are_refused(template):
    with pytest.raises(RecipeError):
        check_template(template)


def test_ingest_embeds_context_and_stores_the_chunk_alone(db, embedder, docs, collection):
    (docs / "guide.md").write_text("# Tide Guide\n\n## Spring tides\n\nThey come twice a "
                                   "month, at new and full moon.\n")
    with Ingestor(collection, embedder, workers=0) as ingestor:
        ingestor.ingest([docs])
    [record] = collection.get(where={}, include_vectors=True)
    assert record.payload["text"] == "They come twice a month, at new and full moon."
    assert record.payload["heading_path"] == ["Tide Guide", "Spring tides"]
    with_context = embedder.embed(["Tide Guide\nSpring tides\nThey come twice a month, at new "
                                   "and full moon."])[0]
    bare = embedder.embed([record.payload["text"]])[0]
    assert float(record.vector @ with_context) > 0.99
    assert float(record.vector @ bare) < float(record.vector @ with_context) - 0.01
    recipe = recorded_recipe(collection)
    assert recipe.template == CONTEXT_TEMPLATE and recipe.model == embedder.name
    assert collection.metadata[RECIPE_KEY]["chunk_tokens"] == recipe.chunk_tokens


def test_chunks_leave_room_for_their_context(db, embedder, docs, collection):
    title = "A rather long document title about the tides of the northern seas"
    (docs / "long.md").write_text(f"# {title}\n\n" + " ".join(
        f"Sentence {i} about the tide tables." for i in range(300)) + "\n")
    with Ingestor(collection, embedder, workers=0) as ingestor:
        ingestor.ingest([docs])
    context = Contextualizer(CONTEXT_TEMPLATE, embedder.tokenizer, embedder.max_tokens)
    for record in collection.get(where={}):
        text = context.embedded(record.payload["title"], record.payload["heading_path"],
                                record.payload["text"])
        assert text.startswith(title + "\n")
        assert len(embedder.tokenizer.encode(text, add_special_tokens=False).ids) \
            <= embedder.max_tokens


def test_a_filled_collection_keeps_its_recipe(db, embedder, docs, collection):
    (docs / "a.txt").write_text("Alpha beta gamma.")
    with Ingestor(collection, embedder, workers=0, template=BARE_TEMPLATE) as ingestor:
        ingestor.ingest([docs])
    with Ingestor(collection, embedder, workers=0) as ingestor:  # no wish: follows the record
        assert ingestor.recipe.template == BARE_TEMPLATE
    with pytest.raises(RecipeMismatch, match="sleuth reindex"):
        Ingestor(collection, embedder, workers=0, template=CONTEXT_TEMPLATE)
    with pytest.raises(RecipeMismatch, match="chunking"):
        Ingestor(collection, embedder, workers=0, chunking=ChunkConfig(64, 8))
