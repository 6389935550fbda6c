"""Markdown: sections under ATX (`## x`) and setext headings, offsets into the raw text.

The document text is the decoded file itself; each section's body (the lines between two
headings, code fences included) becomes blocks carrying the heading path above it.
Headings inside fenced code are text, and YAML front matter is skipped (its top-level
`title`, `author` and `date` used).
"""

import itertools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.blocks import Block, LoadedDocument, bounded_blocks
from ingest.filetype import MARKDOWN
from ingest.limits import DEFAULT_LIMITS, Limits, check_text_file
from ingest.loaders.outline import Heading, HeadingPath
from ingest.loaders.text import open_text
from ingest.metadata import clean_author, iso_day

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\n?$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*\n?$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_FIELD = re.compile(r"(\w+):\s*['\"]?(.*?)['\"]?\s*$")
_TITLE_LOOKAHEAD = 200


def load_markdown(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedDocument:
    """Title from front matter, else the first `#` heading near the top, else the file name."""
    with open_text(path) as f:
        check_text_file(f, limits)
    f = open_text(path)
    head = list(itertools.islice(f, _TITLE_LOOKAHEAD))
    fields, rest = _front_matter_fields(head)
    title = (fields["title"] or None) if "title" in fields else _first_h1(rest)
    return LoadedDocument(
        MARKDOWN, title or path.stem, _blocks(f, itertools.chain(head, f)),
        author=clean_author(fields.get("author")), date=iso_day(fields.get("date")),
    )


def _front_matter_fields(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """The top-level `key: value` lines of the front matter (the first of each key kept),
    and the lines after it (all of `lines` when there is no front matter)."""
    if not lines or lines[0].strip() != "---":
        return {}, lines
    fields: dict[str, str] = {}
    for n, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return fields, lines[n + 1 :]
        if m := _FRONT_MATTER_FIELD.match(line):
            fields.setdefault(m.group(1), m.group(2))
    return fields, []


def _first_h1(lines: list[str]) -> str | None:
    for line in lines:
        m = _ATX.match(line)
        if m and len(m.group(1)) == 1 and m.group(2):
            return m.group(2).strip()
    return None


def _blocks(f, lines: Iterable[str]) -> Iterator[Block]:
    with f:
        for key, group in itertools.groupby(_classify(lines), key=lambda item: item[0]):
            _, path, start = key
            body = (line for _, line in group)
            yield from bounded_blocks(body, start, heading_path=path)


def _classify(lines: Iterable[str]) -> Iterator[tuple[tuple[int, tuple[str, ...], int], str]]:
    """Yield (section key, body line) for every line that is not a heading or front matter.

    The key is (section number, heading path, offset of the section's first body character):
    consecutive lines with one key form one contiguous slice of the text.
    """
    headings = HeadingPath()
    section, offset, body_start = 0, 0, 0
    fence: str | None = None
    pending: str | None = None
    lines = iter(lines)
    first = next(lines, None)
    if first is not None and first.strip() == "---":
        offset = len(first) + sum(len(line) for line in _front_matter(lines))
    elif first is not None:
        pending = first
    body_start = offset
    for line in itertools.chain(lines, [None]):
        heading: Heading | None = None
        consumed = ""
        if pending is not None and fence is None and line is not None and pending.strip():
            setext = _SETEXT.match(line)
            if setext and not _ATX.match(pending) and not _FENCE.match(pending):
                heading = Heading(1 if setext.group(1)[0] == "=" else 2, pending.strip())
                consumed, line = pending + line, None
        if heading is None and pending is not None:
            atx = _ATX.match(pending) if fence is None else None
            if atx:
                heading = Heading(len(atx.group(1)), (atx.group(2) or "").strip())
                consumed = pending
            else:
                fence = _update_fence(fence, pending)
                yield (section, headings.path, body_start), pending
                offset += len(pending)
        if heading is not None:
            headings.enter(heading)
            section += 1
            offset += len(consumed)
            body_start = offset
        pending = line


def _front_matter(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line
        if line.strip() in ("---", "..."):
            return


def _update_fence(fence: str | None, line: str) -> str | None:
    """The open code fence after `line`: None outside code, else the fence that opened it."""
    m = _FENCE.match(line)
    if not m:
        return fence
    marker = m.group(1)
    if fence is None:
        return marker
    if marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker):]:
        return None
    return fence
