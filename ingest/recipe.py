"""What a collection's vectors are made of: the model, the context template, the chunking.

The text embedded for a chunk is its *context* (the document title and the heading path)
followed by the chunk's own text, so a passage that never repeats its subject's name is
still found by it; the stored and displayed text stays the chunk alone. A template says
how: `{title}`, `{headings}` (the heading path joined by " > ", less a first heading that
repeats the title) and, last, `{text}`; lines left empty are dropped.

A collection records its recipe in its metadata when its first chunks are written, and
every later ingest follows it, so all its vectors are alike. Changing the model or the
template is `sleuth reindex` (a new generation from the stored chunk texts); a collection
made before recipes existed holds bare chunks (`LEGACY`).
"""

import string
from dataclasses import asdict, dataclass, replace
from typing import Any

from tokenizers import Tokenizer

from ingest.errors import IngestError

RECIPE_KEY = "recipe"
"""The collection metadata key holding the recipe (the model stays under MODEL_KEY)."""

VERSION = 1
"""Recipe version: 1 = chunks sized to leave room for their context in the window."""

CONTEXT_TEMPLATE = "{title}\n{headings}\n{text}"
BARE_TEMPLATE = "{text}"
FIELDS = ("title", "headings", "text")

CONTEXT_SHARE = 4
"""A context takes at most 1/CONTEXT_SHARE of the model's window; longer ones are cut."""


class RecipeError(IngestError, ValueError):
    """A template or recorded recipe that cannot be used."""


def check_template(template: str) -> str:
    """`template` if it is usable: known fields only, `{text}` once and at the end."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise RecipeError(f"context template {template!r}: {e}") from None
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise RecipeError(f"context template {template!r} has unknown field(s) {unknown}; "
                          f"known: {list(FIELDS)}")
    if fields.count("text") != 1 or not template.endswith("{text}"):
        raise RecipeError(f"context template {template!r} must end with {{text}}, once")
    return template


@dataclass(frozen=True)
class Recipe:
    """How a collection's chunks are cut and embedded. `chunk_tokens` and `overlap_tokens`
    are None when unknown (a collection made before recipes were recorded)."""

    model: str
    template: str = CONTEXT_TEMPLATE
    chunk_tokens: int | None = None
    overlap_tokens: int | None = None
    version: int = VERSION

    def metadata(self) -> dict[str, Any]:
        """What the collection's metadata records under RECIPE_KEY."""
        fields = asdict(self)
        del fields["model"]
        return fields

    @classmethod
    def recorded(cls, metadata: dict[str, Any], model: str) -> "Recipe":
        """The recipe a collection's metadata records (LEGACY when it records none)."""
        fields = metadata.get(RECIPE_KEY)
        if fields is None:
            return replace(LEGACY, model=model)
        if not isinstance(fields, dict) or set(fields) - set(asdict(LEGACY)):
            raise RecipeError(f"unreadable recipe {fields!r} in the collection's metadata")
        return cls(model=model, **{k: v for k, v in fields.items() if k != "model"})

    def describe(self) -> str:
        """One line for people: the template in words, chunking, version."""
        what = "title + headings + text" if self.template == CONTEXT_TEMPLATE else (
            "bare text" if self.template == BARE_TEMPLATE else repr(self.template))
        size = ("chunks of unknown size" if self.chunk_tokens is None else
                f"{self.chunk_tokens}-token chunks, {self.overlap_tokens} overlap")
        return f"{what}; {size}; v{self.version}"

    def same_vectors(self, other: "Recipe") -> bool:
        """Whether the two embed stored chunks alike (the chunking may differ)."""
        return (self.model, self.template, self.version) == (
            other.model, other.template, other.version)


LEGACY = Recipe(model="", template=BARE_TEMPLATE, version=0)
"""Collections filled before recipes existed: bare chunks, chunking unrecorded."""


class Contextualizer:
    """Renders the context a chunk is embedded with, cut to fit the model's window."""

    def __init__(self, template: str, tokenizer: Tokenizer, max_tokens: int) -> None:
        self._prefix = check_template(template)[: -len("{text}")]
        self._tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.cap = max_tokens // CONTEXT_SHARE

    def context(self, title: str, heading_path: tuple[str, ...] | list[str],
                room: int | None = None) -> tuple[str, int]:
        """(the context to put before a chunk's text, its length in tokens): at most
        `room` tokens (and at most the cap), cut at a token boundary when longer."""
        if not self._prefix:
            return "", 0
        headings = list(heading_path)
        if headings and headings[0] == title:
            headings = headings[1:]
        rendered = self._prefix.format(title=title or "", headings=" > ".join(headings))
        lines = [line.strip() for line in rendered.split("\n")]
        text = "\n".join(line for line in lines if line)
        if not text:
            return "", 0
        limit = self.cap if room is None else max(0, min(self.cap, room))
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        if len(offsets) > limit:
            text = text[: offsets[limit - 1][1]].rstrip() if limit else ""
        return (text + "\n", min(len(offsets), limit)) if text else ("", 0)

    def embedded(self, title: str, heading_path: tuple[str, ...] | list[str],
                 text: str) -> str:
        """The text embedded for a stored chunk: its context in whatever room its text
        leaves in the window (a chunk cut for another model may leave none)."""
        used = len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        context, _ = self.context(title, heading_path, self.max_tokens - used)
        return context + text
