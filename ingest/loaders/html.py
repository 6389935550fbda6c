"""HTML with selectolax: the main text only, title and headings kept.

Scripts, styles, navigation, forms and page chrome (a header or footer outside the
article) are dropped; when the page marks its content with `<main>`, only that is read.
Block elements end paragraphs, `h1`-`h6` open sections, `<pre>` keeps its line breaks.
Author and date come from `<meta name="author">` and `<meta name="date">`.
"""

import re
from collections.abc import Iterator
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.blocks import LoadedDocument
from ingest.filetype import HTML
from ingest.loaders.outline import Heading, outline_blocks
from ingest.loaders.text import open_text
from ingest.metadata import clean_author, iso_day

_NOISE = (
    "script, style, noscript, template, svg, canvas, iframe, nav, aside, form, button, "
    "[role=navigation], [role=banner], [role=contentinfo], [role=search], [aria-hidden=true]"
)
_CHROME = "header, footer"
_CONTENT = ("article", "main")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = frozenset({
    "address", "article", "blockquote", "body", "br", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "pre", "section",
    "summary", "table", "td", "th", "tr", "ul",
})
_SPACES = re.compile(r"\s+")


def load_html(path: Path) -> LoadedDocument:
    """Parse the whole page (HTML files are small) and yield its outline as blocks."""
    with open_text(path) as f:
        tree = LexborHTMLParser(f.read())
    title_node = tree.css_first("title")
    title = _SPACES.sub(" ", title_node.text()).strip() if title_node else ""
    meta = _meta(tree)
    root = _content_root(tree)
    return LoadedDocument(
        HTML, title or path.stem, outline_blocks(_outline(root)),
        author=clean_author(meta.get("author")), date=iso_day(meta.get("date")),
    )


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    """The page's `<meta name=... content=...>` pairs, names lower-cased, the first kept."""
    found: dict[str, str] = {}
    for node in tree.css("meta[name][content]"):
        found.setdefault((node.attributes.get("name") or "").strip().lower(),
                         node.attributes.get("content") or "")
    return found


def _content_root(tree: LexborHTMLParser) -> LexborNode | None:
    for node in tree.css(_NOISE):
        node.decompose()
    for node in tree.css(_CHROME):
        if not _inside(node, _CONTENT):
            node.decompose()
    return tree.css_first("main, [role=main]") or tree.body


def _inside(node: LexborNode, tags: tuple[str, ...]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


def _outline(root: LexborNode | None) -> Iterator[Heading | str]:
    """Walk the tree in document order (iteratively: pages nest deeply) into an outline."""
    if root is None:
        return
    words: list[str] = []
    stack: list[LexborNode | None] = [root]
    while stack:
        node = stack.pop()
        if node is None or node.tag in _BLOCKS or node.tag in _HEADINGS:
            if words:
                yield _SPACES.sub(" ", "".join(words))
                words = []
            if node is None:
                continue
        if node.is_text_node:
            words.append(node.text_content or "")
        elif node.tag in _HEADINGS:
            yield Heading(_HEADINGS[node.tag], _SPACES.sub(" ", node.text()))
        elif node.tag == "pre":
            yield node.text()
        elif node.is_element_node:
            children = list(node.iter(include_text=True))
            if node.tag in _BLOCKS:
                stack.append(None)
            stack.extend(reversed(children))
    if words:
        yield _SPACES.sub(" ", "".join(words))
