"""Split blocks into chunks measured in the embedding model's own tokens.

A chunk holds at most `target` tokens, and its context (see `ingest.recipe`) plus its text
fit the model's window, so the model never truncates it silently. Cuts prefer
a paragraph break, then a sentence end, then any space, in the second half of the window;
a word is cut only when a single run without spaces is longer than half the window. Each
next chunk starts up to `overlap` tokens back, at a sentence start when one is in reach.
"""

import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import PurePath

from tokenizers import Tokenizer

from ingest.blocks import PARAGRAPH_BREAK, LoadedDocument, count_paragraph_breaks
from ingest.files import FileInfo
from ingest.recipe import Contextualizer

_SENTENCE_END = re.compile(r"(?:[.!?…][\"'”’)\]]*\s+|[。！？]\s*|\n[ \t]*\n\s*)")
_SPACE = re.compile(r"\s+")
_MIN_TARGET = 8


@dataclass(frozen=True)
class ChunkConfig:
    """Chunk size and overlap in tokens; None means the default for the model."""

    target_tokens: int | None = None
    overlap_tokens: int | None = None

    def resolve(self, max_tokens: int) -> tuple[int, int]:
        """(target, overlap) for a model taking `max_tokens` tokens of text per input.

        The default target fills the model's window; the default overlap is an eighth of it.
        """
        target = max_tokens if self.target_tokens is None else self.target_tokens
        if not _MIN_TARGET <= target <= max_tokens:
            raise ValueError(
                f"target_tokens={target} must be between {_MIN_TARGET} and the model's "
                f"limit of {max_tokens} tokens"
            )
        overlap = target // 8 if self.overlap_tokens is None else self.overlap_tokens
        if not 0 <= overlap <= target // 2:
            raise ValueError(f"overlap_tokens={overlap} must be between 0 and {target // 2}")
        return target, overlap


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document ready to embed; `payload()` is what the store keeps with it."""

    text: str
    doc_id: str
    path: str | None
    """The file's absolute path, None for an upload (whose stored name is the server's)."""
    source: str
    filename: str | None
    title: str
    author: str | None
    date: str | None
    file_type: str
    page: int | None
    heading_path: tuple[str, ...]
    paragraph: int | None
    start: int
    end: int
    chunk_index: int
    mtime: float
    size: int
    content_hash: str
    context: str = ""
    """What is embedded before `text` (title and headings); not part of the payload."""

    @property
    def embedded_text(self) -> str:
        """The text the model embeds: the context, then the chunk."""
        return self.context + self.text

    @property
    def id(self) -> str:
        """Distinct per document version, so a new version is written before the old goes."""
        return f"{self.doc_id}:{self.content_hash[:12]}:{self.chunk_index}"

    def payload(self) -> dict:
        """The JSON payload: every field but the empty ones, the heading path as a list."""
        fields = asdict(self)
        del fields["context"]
        fields["heading_path"] = list(self.heading_path)
        return {k: v for k, v in fields.items() if v is not None}


class Chunker:
    """Cuts text into token-bounded spans with a `tokenizers.Tokenizer` (picklable).

    With a `contextualizer`, `chunk_document` gives each chunk its context and cuts the
    chunks of a block short enough for that context to fit beside them in the window.
    """

    def __init__(self, tokenizer: Tokenizer, target: int, overlap: int,
                 contextualizer: Contextualizer | None = None) -> None:
        self._tokenizer = tokenizer
        self.target = target
        self.overlap = overlap
        self.contextualizer = contextualizer

    def spans(self, text: str, target: int | None = None) -> Iterator[tuple[int, int]]:
        """Character spans (start, end) of the chunks of `text`, in order, trimmed of spaces,
        each of at most `target` tokens (default: the chunker's)."""
        target = self.target if target is None else max(_MIN_TARGET, min(target, self.target))
        overlap = min(self.overlap, target // 2)
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        offsets = [(a, b) for a, b in encoding.offsets if b > a]
        starts = [a for a, _ in offsets]
        n = len(offsets)
        first = 0
        while first < n:
            if n - first <= target:
                yield starts[first], offsets[-1][1]
                return
            cut = _cut(text, starts, first, target)
            yield starts[first], offsets[cut - 1][1]
            first = _resume(text, starts, first, cut, overlap)

    def context(self, title: str, heading_path: tuple[str, ...]) -> tuple[str, int]:
        """The context of a block's chunks and the tokens of chunk text left beside it."""
        if self.contextualizer is None:
            return "", self.target
        context, used = self.contextualizer.context(title, heading_path)
        return context, min(self.target, self.contextualizer.max_tokens - used)


def _cut(text: str, starts: list[int], first: int, target: int) -> int:
    """Index of the first token after the chunk that starts at token `first`."""
    limit = first + target
    half = first + target // 2
    for pattern in (PARAGRAPH_BREAK, _SENTENCE_END, _SPACE):
        cut = _last_boundary(pattern, text, starts, half, limit)
        if cut is not None:
            return cut
    cut = _last_boundary(_SPACE, text, starts, first + 1, half)
    return limit if cut is None else cut


def _resume(text: str, starts: list[int], first: int, cut: int, overlap: int) -> int:
    """Where the next chunk starts: within `overlap` tokens before `cut`, after `first`."""
    low = max(first + 1, cut - overlap)
    if low >= cut:
        return cut
    for pattern in (_SENTENCE_END, _SPACE):
        start = _first_boundary(pattern, text, starts, low, cut)
        if start is not None:
            return start
    return cut


def _last_boundary(pattern: re.Pattern, text: str, starts: list[int], low: int, high: int):
    """The last token index in [low, high] that `pattern` ends right before, or None."""
    found = None
    for m in pattern.finditer(text, starts[low - 1], starts[high]):
        if m.end() >= starts[low]:
            found = m
    return None if found is None else bisect_left(starts, found.end(), low, high + 1)


def _first_boundary(pattern: re.Pattern, text: str, starts: list[int], low: int, high: int):
    """The first token index in [low, high] that `pattern` ends right before, or None."""
    for m in pattern.finditer(text, starts[low - 1], starts[high]):
        if m.end() >= starts[low]:
            return bisect_left(starts, m.end(), low, high + 1)
    return None


def chunk_document(doc: LoadedDocument, info: FileInfo, chunker: Chunker) -> Iterator[Chunk]:
    """Stream the chunks of a loaded document, numbered from 0, with their provenance.

    An upload's title, when the loader could only take it from the stored name, is its
    original name's: both in the payload and in the context the chunks are cut to leave
    room for, so an upload's chunks depend on its file alone (its stored name is random)
    and match the chunks of the same file ingested under that name."""
    title = doc.title
    if info.filename and title == PurePath(info.path).stem:  # only the stored name's
        title = PurePath(info.filename).stem
    index = 0
    for block in doc.blocks:
        paragraph, counted = block.paragraph, 0
        context, room = chunker.context(title, block.heading_path)
        for a, b in chunker.spans(block.text, room):
            if paragraph is not None:
                paragraph += count_paragraph_breaks(block.text[counted:a])
                counted = a
            yield Chunk(
                text=block.text[a:b],
                doc_id=info.doc_id,
                path=None if info.filename else info.path,
                source=info.source,
                filename=info.filename,
                title=title,
                author=doc.author,
                date=doc.date,
                file_type=doc.file_type,
                page=block.page,
                heading_path=block.heading_path,
                paragraph=paragraph,
                start=block.start + a,
                end=block.start + b,
                chunk_index=index,
                mtime=info.mtime,
                size=info.size,
                content_hash=info.content_hash,
                context=context,
            )
            index += 1
