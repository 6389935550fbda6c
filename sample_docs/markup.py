"""The small markup the sample documents are written in, parsed into blocks to render.

One source per document, rendered into whichever format its file name asks for. Blocks are
separated by blank lines: `## ` and `### ` lines are headings, lines starting with `- `
form a bullet list, ``` fences a code block, `<<page>>` starts a new page (PDF only; the
other formats ignore it), and any other lines are joined into one paragraph.
"""

from dataclasses import dataclass

PAGE_BREAK = "<<page>>"


@dataclass(frozen=True)
class Heading:
    """A section heading; level 2 is a section, 3 a subsection (1 is the title)."""

    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    """Running text, on one line."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """An unordered list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    """A block of commands or configuration, kept verbatim."""

    text: str


@dataclass(frozen=True)
class PageBreak:
    """Where a PDF starts its next page."""


Block = Heading | Paragraph | Bullets | Code | PageBreak


def parse(body: str) -> list[Block]:
    """Split `body` into blocks, in order."""
    blocks: list[Block] = []
    lines = body.strip("\n").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            blocks.append(Code("\n".join(lines[i + 1 : end])))
            i = end + 1
            continue
        group: list[str] = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith("```"):
            group.append(lines[i].strip())
            i += 1
        if group:
            blocks.append(_block(group))
        while i < len(lines) and not lines[i].strip():
            i += 1
    return blocks


def _block(lines: list[str]) -> Block:
    first = lines[0]
    if first.startswith(("#", PAGE_BREAK)) and len(lines) > 1:
        raise ValueError(f"a heading or page break needs a blank line after it: {first!r}")
    if first == PAGE_BREAK:
        return PageBreak()
    if first.startswith("### "):
        return Heading(3, first[4:])
    if first.startswith("## "):
        return Heading(2, first[3:])
    if first.startswith("- "):
        items: list[str] = []
        for line in lines:
            if line.startswith("- "):
                items.append(line[2:])
            else:
                items[-1] += " " + line
        return Bullets(tuple(items))
    return Paragraph(" ".join(lines))
