"""Chunking in the model's own tokens: bounded, on word boundaries, with overlap and provenance."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.blocks import Block, LoadedDocument
from ingest.chunking import ChunkConfig, Chunker, chunk_document
from ingest.files import FileInfo
from tests.ingest.conftest import sentences

INFO = FileInfo("/docs/a.txt", "a.txt", "d0c", 10, 1.5, "ab" * 32)


def token_count(tokenizer, text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def inside_a_word(text: str, at: int) -> bool:
    return 0 < at < len(text) and text[at - 1].isalnum() and text[at].isalnum()


def is_giant_word(chunker: Chunker, tokenizer, text: str, at: int) -> bool:
    """Whether the run of non-space characters around `at` has over half a window of tokens."""
    left = max(text.rfind(c, 0, at) for c in " \t\n") + 1
    right = min((i for i in (text.find(c, at) for c in " \t\n") if i >= 0), default=len(text))
    return token_count(tokenizer, text[left:right]) > chunker.target // 2


def check_spans(chunker: Chunker, tokenizer, text: str) -> list[tuple[int, int]]:
    """The invariants every split must keep: trimmed, bounded, in order, nothing skipped, and
    never inside a word unless that word alone outgrows half the window. Returns the spans."""
    spans = list(chunker.spans(text))
    covered = 0
    for start, end in spans:
        piece = text[start:end]
        assert piece == piece.strip() and piece
        assert token_count(tokenizer, piece) <= chunker.target
        assert not inside_a_word(text, start) or is_giant_word(chunker, tokenizer, text, start)
        assert not inside_a_word(text, end) or is_giant_word(chunker, tokenizer, text, end)
        assert not text[covered:start].strip(), "text skipped between chunks"
        covered = max(covered, end)
    assert not text[covered:].strip()
    assert [s for s, _ in spans] == sorted({s for s, _ in spans})
    return spans


def test_default_config_fills_the_model_window(embedder):
    target, overlap = ChunkConfig().resolve(embedder.max_tokens)
    assert (target, overlap) == (254, 31)
    with pytest.raises(ValueError, match="limit of 254"):
        ChunkConfig(target_tokens=300).resolve(embedder.max_tokens)
    with pytest.raises(ValueError, match="overlap_tokens"):
        ChunkConfig(target_tokens=100, overlap_tokens=80).resolve(embedder.max_tokens)


def test_model_never_truncates_a_chunk(embedder, chunker):
    text = sentences("tokenisation", 400)
    for start, end in chunker.spans(text):
        with_specials = embedder.tokenizer.encode(text[start:end], add_special_tokens=True)
        assert len(with_specials.ids) <= embedder.model.max_seq_length


def test_cuts_at_sentence_ends_with_sentence_overlap(tokenizer):
    chunker = Chunker(tokenizer, target=40, overlap=12)
    text = sentences("overlap", 30)
    spans = check_spans(chunker, tokenizer, text)
    assert len(spans) > 5
    for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert text[end - 1] == "."
        assert next_start < end, "consecutive chunks overlap"
        assert text[next_start:].startswith("Fact")
        assert token_count(tokenizer, text[next_start:end]) <= 12


def test_paragraph_break_preferred_to_a_later_sentence_end(tokenizer):
    chunker = Chunker(tokenizer, target=60, overlap=0)
    first = sentences("alpha", 4)
    text = first + "\n\n" + sentences("beta", 10)
    spans = check_spans(chunker, tokenizer, text)
    assert text[spans[0][0] : spans[0][1]] == first


def test_only_a_giant_word_is_cut_inside(tokenizer):
    chunker = Chunker(tokenizer, target=32, overlap=4)
    text = "start " + "abc.def," * 300 + " end words here"
    spans = check_spans(chunker, tokenizer, text)
    assert text[spans[0][0] : spans[0][1]] == "start"


words = st.sampled_from(
    ["alpha", "beta.", "gamma,", "delta!", "naïve", "日本語", "x" * 40, "e.g.", "(paren)", "3.14"]
)
separators = st.sampled_from([" ", " ", " ", "\n", "\n\n", "  \n \n", "\t"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(words, separators), min_size=1, max_size=300), st.integers(8, 48))
def test_split_invariants_hold_for_any_text(tokenizer, parts, target):
    text = "".join(w + s for w, s in parts)
    check_spans(Chunker(tokenizer, target=target, overlap=target // 4), tokenizer, text)


def test_chunks_carry_provenance_and_exact_offsets(tokenizer):
    text = "Intro words here.\n\nSecond paragraph, longer. " + sentences("provenance", 12)
    blocks = [
        Block(text[:17], 0, page=3, heading_path=("A",), paragraph=1),
        Block(text[19:], 19, page=4, heading_path=("A", "B"), paragraph=2),
    ]
    doc = LoadedDocument("text", "Doc Title", iter(blocks))
    chunks = list(chunk_document(doc, INFO, Chunker(tokenizer, target=30, overlap=6)))
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert chunks[0].page == 3 and chunks[0].heading_path == ("A",)
    assert all(c.page == 4 and c.heading_path == ("A", "B") for c in chunks[1:])
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert (c.doc_id, c.path, c.source, c.title) == ("d0c", "/docs/a.txt", "a.txt", "Doc Title")
        assert c.content_hash == INFO.content_hash
    payload = chunks[1].payload()
    assert payload["heading_path"] == ["A", "B"] and payload["text"] == chunks[1].text
    assert chunks[1].id == f"d0c:{'ab' * 6}:1"


def test_paragraph_numbers_follow_blank_lines(tokenizer):
    text = "\n\n".join(sentences(f"para{i}", 3) for i in range(6))
    doc = LoadedDocument("text", "t", iter([Block(text, 0, paragraph=1)]))
    for chunk in chunk_document(doc, INFO, Chunker(tokenizer, target=24, overlap=0)):
        assert chunk.text.startswith(f"Fact 0 about para{chunk.paragraph - 1}") or (
            f"para{chunk.paragraph - 1} " in chunk.text
        )


def test_an_uploads_chunks_depend_on_its_file_alone_not_its_stored_name(tmp_path, embedder):
    """An upload is stored under a random hex name; a title the loader takes from the file
    name must come from the original name, in the payload and in the context the chunks are
    cut around, or the hex name's token count changes the chunking (#13: 15, 16 or 17
    chunks for one file)."""
    from ingest.loaders import load
    from ingest.recipe import CONTEXT_TEMPLATE, Contextualizer

    chunker = Chunker(embedder.tokenizer, *ChunkConfig().resolve(embedder.max_tokens),
                      Contextualizer(CONTEXT_TEMPLATE, embedder.tokenizer, embedder.max_tokens))
    content = sentences("harbour logistics", 300).encode()

    def chunks(name: str, filename: str | None) -> list[tuple]:
        path = tmp_path / name
        path.write_bytes(content)
        info = FileInfo(str(path), filename or name, "d0c", len(content), 1.5, "ab" * 32,
                        filename=filename)
        return [(c.text, c.context, c.title, c.start, c.end)
                for c in chunk_document(load(str(path)), info, chunker)]

    original = chunks("notes.txt", None)
    assert original[0][1:3] == ("notes\n", "notes") and len(original) > 10
    for stored in ("0" * 32, "deadbeef" * 4, "9f3a71c25e0b84d6a1f7c3e9b2d05a68"):
        assert chunks(f"{stored}.txt", "notes.txt") == original, stored
