"""HTML with selectolax: the main content of a page, its title and headings kept.

What a person reads of a web page is its main content, not the site around it (banners,
menus, sidebars, "previous | next" bars, footers, search boxes), and chunks of that chrome
repeated on every page crowd real passages out of search results. So:

1. What is never content goes: scripts, styles, embedded media, navigation, forms, buttons,
   hidden elements (but for the hidden panels of tabbed content, which a reader opens with
   one click), ARIA banners, navigation, content info and search, and the permalink anchors
   that documentation generators put after headings ("¶", "#", "§").
2. The content root is `<main>` or `[role=main]` (narrowed to its one `<article>` when that
   holds most of its text), else the page's one `<article>` if it holds most of the text.
   A page marking neither is cleaned by names first: block elements that their id or class
   names as chrome (header, footer, nav, menu, sidebar, breadcrumbs, ...) go, unless they
   open with a heading (a section of the document, whose id often comes from its title) or
   hold most of the text; then the root is the tightest element named as the content
   ("content", "main", "article", "body", "post", "entry", and no chrome word) holding at
   least half of what is left, else `<body>`.
3. Chrome left inside the root goes: `header`, `footer`, `aside` that are not within an
   article or main content (an article's own header or footnotes stay).

Block elements end paragraphs, `h1`-`h6` open sections, `<pre>` keeps its line breaks.
A definition list's terms head their definitions as headings one level below `h6`: each
`<dt>` (with the `<dt>`s right after it, its aliases) opens a section that its `<dd>`s fill
and the end of the list closes, so the term joins the heading path of its definition's
chunks and every definition is chunked on its own. That is what a glossary, a reference of
settings or options, and API documentation (Sphinx renders each function, class and method
as a `<dl>` with its signature in the `<dt>`) are made of: a definition is about its term,
which its text often never repeats. Field lists (docutils' `<dl class="field-list">`:
"Parameters", "Returns" inside a function's definition) label parts of one definition, not
subjects of their own, and stay in the text.
The title is `<title>` (else the first `<h1>`, else the file name); author and date come
from `<meta name="author">` and `<meta name="date">`.
"""

import re
from collections.abc import Iterator
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.blocks import LoadedDocument
from ingest.filetype import HTML
from ingest.limits import DEFAULT_LIMITS, Limits, counted_outline
from ingest.loaders.outline import TERM_LEVEL, Heading, SectionEnd, outline_blocks
from ingest.loaders.text import open_text
from ingest.metadata import clean_author, iso_day

_NOISE = (
    "script, style, noscript, template, svg, canvas, iframe, object, embed, nav, form, "
    "button, [role=navigation], [role=banner], [role=contentinfo], [role=search], "
    "[aria-hidden=true]"
)
_CHROME = "header, footer, aside, [role=complementary]"
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = frozenset({
    "address", "article", "blockquote", "body", "br", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "hr", "li", "main", "ol", "p", "pre", "section",
    "summary", "table", "td", "th", "tr", "ul",
})
_CHROME_CANDIDATES = frozenset({"div", "section", "ul", "ol", "dl", "table", "p"})
"""Elements that page chrome is built of: inline elements are never dropped by name."""
_CONTENT_WORDS = frozenset({"content", "main", "article", "body", "post", "entry"})
_CHROME_WORDS = frozenset({
    "header", "footer", "nav", "navbar", "navigation", "menu", "sidebar", "sidenav",
    "breadcrumb", "breadcrumbs", "toc", "masthead", "banner", "related", "pagination", "pager",
    "skip", "share", "social", "cookie", "cookies", "comments",
})
_SPACES = re.compile(r"\s+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NAME_WORD = re.compile(r"[a-z0-9]+")
_HIDDEN_STYLE = re.compile(r"display:none|visibility:hidden")
_FIELD_LIST = "field-list"
"""docutils' class for a list of labelled fields of one definition (Parameters, Returns)."""
_TERMS_END = "the end of a definition list"
"""Marks, on the walk's stack, where a definition list's sections close."""


def load_html(path: Path, limits: Limits = DEFAULT_LIMITS) -> LoadedDocument:
    """Parse the whole page (HTML files are small) and yield its outline as blocks."""
    with open_text(path) as f:
        tree = LexborHTMLParser(f.read())
    meta = _meta(tree)
    root = _content_root(tree)
    first_h1 = root.css_first("h1") if root is not None else None
    title = _clean(tree.css_first("title")) or _clean(first_h1)
    return LoadedDocument(
        HTML, title or path.stem, outline_blocks(counted_outline(_outline(root), limits)),
        author=clean_author(meta.get("author")), date=iso_day(meta.get("date")),
    )


def _clean(node: LexborNode | None) -> str:
    return _SPACES.sub(" ", node.text()).strip() if node is not None else ""


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    """The page's `<meta name=... content=...>` pairs, names lower-cased, the first kept."""
    found: dict[str, str] = {}
    for node in tree.css("meta[name][content]"):
        found.setdefault((node.attributes.get("name") or "").strip().lower(),
                         node.attributes.get("content") or "")
    return found


def _content_root(tree: LexborHTMLParser) -> LexborNode | None:
    """Strip what is never content, choose the content root, strip the chrome left in it."""
    body = tree.body
    if body is None:
        return None
    _drop(tree.css(_NOISE))
    _drop(a for a in body.css('a[href^="#"]') if _is_permalink(a))
    _drop(n for n in body.css("[hidden], [style]") if _is_hidden(n))
    root = _semantic_root(tree, body)
    if root is None:
        _drop(_named_chrome(body))
        root = _named_root(body) or body
    _drop(n for n in root.css(_CHROME) if not _in_content(n))
    return root


def _drop(nodes) -> None:
    for node in list(nodes):
        node.decompose()


def _is_permalink(anchor: LexborNode) -> bool:
    """An in-page link whose text is one symbol or nothing: a heading's permalink."""
    text = anchor.text().strip()
    return len(text) <= 1 and not text.isalnum()


def _is_hidden(node: LexborNode) -> bool:
    """Hidden by attribute or inline style; a tab panel is only hidden until clicked."""
    attributes = node.attributes
    if attributes.get("role") == "tabpanel":
        return False
    style = _SPACES.sub("", attributes.get("style") or "").lower()
    return "hidden" in attributes or _HIDDEN_STYLE.search(style) is not None


def _words(node: LexborNode) -> int:
    return len(node.text().split())


def _semantic_root(tree: LexborHTMLParser, body: LexborNode) -> LexborNode | None:
    main = tree.css_first("main, [role=main]")
    if main is not None:
        return _sole_article(main, main) or main
    return _sole_article(body, body)


def _sole_article(scope: LexborNode, whole: LexborNode) -> LexborNode | None:
    """The one `<article>` in `scope` if it holds at least half of `whole`'s words."""
    articles = scope.css("article")
    if len(articles) == 1 and 2 * _words(articles[0]) >= _words(whole):
        return articles[0]
    return None


def _name_words(node: LexborNode) -> set[str]:
    """The words of an element's id and class: `docs-body mainContent` -> {docs, body, main,
    content}."""
    attributes = node.attributes
    name = f"{attributes.get('id') or ''} {attributes.get('class') or ''}"
    return set(_NAME_WORD.findall(_CAMEL.sub(" ", name).lower()))


def _elements(root: LexborNode) -> Iterator[LexborNode]:
    """Every element below `root` in document order."""
    for node in root.traverse(include_text=False):
        if node is not root and node.is_element_node:
            yield node


def _named_root(body: LexborNode) -> LexborNode | None:
    """The tightest element named as content that holds at least half of the page's words."""
    total = _words(body)
    best, best_words = None, total + 1
    for node in _elements(body):
        names = _name_words(node)
        if names & _CONTENT_WORDS and not names & _CHROME_WORDS:
            words = _words(node)
            if 2 * words >= total and words <= best_words:
                best, best_words = node, words
    return best


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _in_content(node: LexborNode) -> bool:
    """Whether `node` lies within an article or the page's marked main content."""
    return any(p.tag in ("article", "main") or p.attributes.get("role") == "main"
               for p in _ancestors(node))


def _named_chrome(body: LexborNode) -> list[LexborNode]:
    """Block elements named as chrome, outermost only, that neither open with a heading nor
    hold most of the page's words."""
    total = _words(body)
    found: list[LexborNode] = []
    for node in _elements(body):
        if node.tag not in _CHROME_CANDIDATES or any(p in found for p in _ancestors(node)):
            continue
        if _name_words(node) & _CHROME_WORDS and not _opens_with_heading(node) \
                and 2 * _words(node) < total:
            found.append(node)
    return found


def _opens_with_heading(node: LexborNode) -> bool:
    """Whether the first child with text (empty anchors skipped) is a heading."""
    child = node.child
    while child is not None and not child.text().strip():
        child = child.next
    return child is not None and child.tag in _HEADINGS


def _outline(root: LexborNode | None) -> Iterator[Heading | SectionEnd | str]:
    """Walk the tree in document order (iteratively: pages nest deeply) into an outline."""
    if root is None:
        return
    words: list[str] = []
    stack: list[LexborNode | str | None] = [root]
    lists = 0  # definition lists open around the current node
    while stack:
        node = stack.pop()
        if not isinstance(node, LexborNode) or node.tag in _BLOCKS or node.tag in _HEADINGS:
            if words:
                yield _SPACES.sub(" ", "".join(words))
                words = []
            if node is _TERMS_END:
                lists -= 1
                yield SectionEnd(TERM_LEVEL + lists)
            if not isinstance(node, LexborNode):
                continue
        if node.is_text_node:
            words.append(node.text_content or "")
        elif node.tag in _HEADINGS:
            yield Heading(_HEADINGS[node.tag], _SPACES.sub(" ", node.text()))
        elif node.tag == "dt" and _is_definition_list(_list_of(node)):
            if not _is_alias(node):
                yield Heading(TERM_LEVEL + lists - 1, _term(node))
        elif node.tag == "pre":
            yield node.text()
        elif node.is_element_node:
            children = list(node.iter(include_text=True))
            if _is_definition_list(node):
                stack.append(_TERMS_END)
                lists += 1
            elif node.tag in _BLOCKS:
                stack.append(None)
            stack.extend(reversed(children))
    if words:
        yield _SPACES.sub(" ", "".join(words))


def _is_definition_list(node: LexborNode | None) -> bool:
    """A `<dl>` whose terms name subjects (not a field list)."""
    return node is not None and node.tag == "dl" and \
        _FIELD_LIST not in (node.attributes.get("class") or "").split()


def _list_of(dt: LexborNode) -> LexborNode | None:
    """The list a term belongs to: its parent, or its grandparent when the parent is a
    `<div>` grouping the term with its definitions (as HTML allows)."""
    parent = dt.parent
    return parent.parent if parent is not None and parent.tag == "div" else parent


def _element_sibling(node: LexborNode, forward: bool) -> LexborNode | None:
    """The next (or previous) sibling that is an element, skipping text and comments."""
    sibling = node.next if forward else node.prev
    while sibling is not None and not sibling.is_element_node:
        sibling = sibling.next if forward else sibling.prev
    return sibling


def _is_alias(dt: LexborNode) -> bool:
    """A term right after another: an alias, already part of that term's heading."""
    before = _element_sibling(dt, forward=False)
    return before is not None and before.tag == "dt"


def _term(dt: LexborNode) -> str:
    """The heading a term gives its definition: its text and its aliases', " / " between."""
    names = []
    node: LexborNode | None = dt
    while node is not None and node.tag == "dt":
        name = _clean(node)
        if name:
            names.append(name)
        node = _element_sibling(node, forward=True)
    return " / ".join(names)
