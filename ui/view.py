"""How a conversation turn looks: the answer with citation links, then the cited passages.

Passages are HTML blocks with an anchor each (`t<turn>-p<n>`), so a citation `[n]` in the
answer links to its passage; all text from documents is escaped before it is shown. Under
the answer, a button per cited passage, and under every passage one more, opens it in its
document (`ui.source`).
"""

import html
import re
from collections.abc import Callable

import streamlit as st

from app.schemas.search import Hit
from ui.answer import Sentence
from ui.chat import Turn
from ui.filters import label
from ui.highlight import highlight

CSS = """
<style>
.sleuth-passage {border-left: 3px solid #4c8bf5; padding: 0.3rem 0.8rem; margin: 0.6rem 0;
  background: rgba(128, 128, 128, 0.08); overflow-wrap: anywhere;}
.sleuth-meta {font-size: 0.85rem; color: inherit; margin-bottom: 0.25rem;}
.sleuth-text {font-size: 0.92rem; line-height: 1.45; color: inherit;}
.sleuth-text mark {background: rgba(255, 196, 0, 0.4); color: inherit; padding: 0 1px;}
.sleuth-cite {font-size: 0.75rem; vertical-align: super; text-decoration: none;}
</style>
"""
"""Colours that hold in the light and the dark theme: text inherits the theme's text colour
(no fixed grey), and backgrounds are translucent tints over the theme's background."""

_CITATION = re.compile(r"\[(\d+)\]")


def style() -> None:
    """Add the page's few styles (passage cards, highlights, citation links)."""
    st.markdown(CSS, unsafe_allow_html=True)


def anchor(turn: int, passage: int) -> str:
    """The HTML id of passage `passage` (1-based) of turn `turn`."""
    return f"t{turn}-p{passage}"


def cite(turn: int, passage: int) -> str:
    """A citation link to a passage."""
    return f'<a class="sleuth-cite" href="#{anchor(turn, passage)}">[{passage}]</a>'


def extractive_html(turn: int, sentences: list[Sentence]) -> str:
    """The extractive answer: each sentence followed by its citation."""
    return " ".join(f"{html.escape(s.text)}{cite(turn, s.passage)}" for s in sentences)


def generated_html(turn: int, text: str, passages: int) -> str:
    """A generated answer, escaped, with its `[n]` markers made into citation links."""

    def link(match: re.Match) -> str:
        n = int(match.group(1))
        return cite(turn, n) if 1 <= n <= passages else match.group()

    return _CITATION.sub(link, html.escape(text)).replace("\n", "<br>")


def passage_html(turn: int, n: int, hit: Hit, question: str, root: str) -> str:
    """One passage: number, document, page, heading path, score and where each ranking of
    a hybrid search put it, then its text."""
    parts = [f"<b>[{n}] {html.escape(hit.title or label(hit.source, hit.filename, root))}</b>"]
    parts.append(f"<code>{html.escape(label(hit.source, hit.filename, root))}</code>")
    if hit.page is not None:
        parts.append(f"page {hit.page}")
    if hit.heading_path:
        parts.append(html.escape(" › ".join(hit.heading_path)))
    parts.append(f"score {hit.score:.3f}")
    if hit.score not in (hit.vector_score, hit.text_score):  # fused by a hybrid search
        ranks = [f"{name} #{rank}" if rank is not None else f"{name} -"
                 for name, rank in (("meaning", hit.vector_rank), ("words", hit.text_rank))]
        parts.append(", ".join(ranks))
    return (
        f'<div class="sleuth-passage" id="{anchor(turn, n)}">'
        f'<div class="sleuth-meta">{" · ".join(parts)}</div>'
        f'<div class="sleuth-text">{highlight(hit.text or "", question)}</div></div>'
    )


def cited(turn: Turn) -> list[int]:
    """The passage numbers the shown answer cites, in order of first citation."""
    if turn.generated:
        numbers = [int(m) for m in _CITATION.findall(turn.generated)]
    else:
        numbers = [s.passage for s in turn.answer]
    return [n for n in dict.fromkeys(numbers) if 1 <= n <= len(turn.hits)]


Opener = Callable[[int, Hit], None]
"""Opens passage n (1-based) of a turn in its document."""


def source_label(n: int, hit: Hit, root: str) -> str:
    """A cited source's button: number, file, page."""
    name = (hit.filename or label(hit.source, hit.filename, root)).rsplit("/", 1)[-1]
    return f"[{n}] {name}" + (f", page {hit.page}" if hit.page is not None else "")


def show_turn(index: int, turn: Turn, root: str, opener: Opener) -> None:
    """The question as the user's message, then the assistant's reply."""
    with st.chat_message("user"):
        st.markdown(turn.question)
    show_reply(index, turn, root, opener)


def show_reply(index: int, turn: Turn, root: str, opener: Opener) -> None:
    """The assistant's message holding the reply."""
    with st.chat_message("assistant"):
        reply(index, turn, root, opener)


def reply(index: int, turn: Turn, root: str, opener: Opener) -> None:
    """The reply: an error, or the answer, any notice, and the passages it cites."""
    if turn.error:
        st.error(turn.error)
        return
    if turn.generated:
        st.markdown(generated_html(index, turn.generated, len(turn.hits)),
                    unsafe_allow_html=True)
    elif turn.answer:
        st.markdown(extractive_html(index, turn.answer), unsafe_allow_html=True)
    if turn.notice:
        st.info(turn.notice)
    if not turn.hits:
        return
    with st.container(horizontal=True, gap="small"):
        for n in cited(turn):
            hit = turn.hits[n - 1]
            if st.button(source_label(n, hit, root), key=f"cite-{index}-{n}",
                         icon=":material/description:", help="Open in its document"):
                opener(n, hit)
    filtered = " with filters" if turn.where else ""
    searched = f" · searched for “{turn.query}”" if turn.query else ""
    st.caption(f"{len(turn.hits)} passages · {turn.mode}{filtered} · {turn.took_ms:.0f} ms"
               f"{searched}")
    for n, hit in enumerate(turn.hits, start=1):
        st.markdown(passage_html(index, n, hit, turn.query or turn.question, root),
                    unsafe_allow_html=True)
        if st.button("Open in its document", key=f"open-{index}-{n}", type="tertiary",
                     icon=":material/open_in_new:"):
            opener(n, hit)
