"""Blocks from an outline of headings and paragraphs: the shared back half of HTML and DOCX.

Those loaders reduce a file to a sequence of `Heading`s, paragraph strings and `SectionEnd`s
(where a run of sections closes without a next heading, as a definition list's); this module
lays them out as one text (paragraphs and headings joined by blank lines; a blank line inside
a paragraph becomes a line break) and cuts it into blocks, one section (the paragraphs under
one heading path) at a time.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ingest.blocks import PARAGRAPH_BREAK, Block, TextJoiner, bounded_blocks


@dataclass(frozen=True, slots=True)
class Heading:
    """A heading of `level` 0 (a document title), 1 (top) to 6, or deeper: TERM_LEVEL and
    below for the terms of definition lists, which head their definitions."""

    level: int
    text: str


TERM_LEVEL = 7
"""The level of a definition list's terms (a list nested in a definition: one deeper)."""


@dataclass(frozen=True, slots=True)
class SectionEnd:
    """The end of the sections opened by headings of `level` or deeper (e.g. at the end of a
    definition list, the text after it belongs to the section the list is in)."""

    level: int
    text = ""
    """Outline items all have a text; an end adds none."""


class HeadingPath:
    """The chain of open headings above the current point of a document."""

    def __init__(self) -> None:
        self._stack: list[Heading] = []

    def enter(self, heading: Heading) -> None:
        """Open `heading`, closing every open heading of the same or a deeper level."""
        while self._stack and self._stack[-1].level >= heading.level:
            self._stack.pop()
        self._stack.append(heading)

    def close(self, level: int) -> None:
        """Close every open heading of `level` or deeper."""
        while self._stack and self._stack[-1].level >= level:
            self._stack.pop()

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(h.text for h in self._stack)


def outline_blocks(items: Iterable[Heading | SectionEnd | str]) -> Iterator[Block]:
    """Lay out headings and paragraphs (blank paragraphs dropped) and yield section blocks."""
    joiner = TextJoiner()
    headings = HeadingPath()
    section: list[str] = []
    section_start = 0
    paragraph = 1
    first_paragraph = 1
    for item in items:
        if isinstance(item, SectionEnd):
            yield from _section(section, section_start, first_paragraph, headings.path)
            headings.close(item.level)
            section = []
            continue
        text = item.text if isinstance(item, Heading) else item
        text = PARAGRAPH_BREAK.sub("\n", text.strip())
        if not text:
            continue
        start = joiner.place(text)
        if isinstance(item, Heading):
            yield from _section(section, section_start, first_paragraph, headings.path)
            headings.enter(Heading(item.level, text))
            section = []
        else:
            if not section:
                section_start, first_paragraph = start, paragraph
            section.append(text)
        paragraph += 1
    yield from _section(section, section_start, first_paragraph, headings.path)


def _section(
    paragraphs: list[str], start: int, paragraph: int, path: tuple[str, ...]
) -> Iterator[Block]:
    text = TextJoiner.SEPARATOR.join(paragraphs)
    yield from bounded_blocks([text], start, paragraph, heading_path=path)
