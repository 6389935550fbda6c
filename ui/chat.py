"""One turn of the conversation: search, pick the passages, answer with citations.

Kept apart from the page so that the page only lays things out: `ask` talks to the API and
returns a `Turn` holding everything the page shows, including the message to show when
something failed; `generate` streams the chat endpoint's answer into it, if one is set.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.client import ApiError, SleuthClient
from app.schemas.search import Hit
from ui import modes
from ui.answer import Sentence, extractive_answer
from ui.chat_endpoint import ChatEndpoint, ChatEndpointError, answer_messages, stream

NO_ANSWER = ("No confident answer: no sentence of these passages answers the question closely "
             "enough. They are the nearest passages.")


@dataclass
class Turn:
    """A question and what came back; `error` set means the search itself failed."""

    question: str
    query: str | None = None
    """What was searched when it is not the question: a follow-up made to stand alone."""
    hits: list[Hit] = field(default_factory=list)
    answer: list[Sentence] = field(default_factory=list)
    generated: str | None = None
    """The chat endpoint's answer, when one is configured and it answered."""
    notice: str | None = None
    """Something to point out without failing, e.g. the chat endpoint was down."""
    error: str | None = None
    where: dict[str, Any] | None = None
    mode: str = modes.HYBRID
    took_ms: float = 0.0
    collection: str = ""
    """The collection asked: a reopened conversation opens its sources there."""


def ask(
    client: SleuthClient,
    collection: str,
    question: str,
    *,
    k: int,
    mode: str = modes.HYBRID,
    where: dict[str, Any] | None = None,
    query: str | None = None,
) -> Turn:
    """Answer `question` from `collection` (searching `query` instead when given: the
    question made to stand alone); never raises for API failures."""
    searched = query or question
    turn = Turn(question, query=query if query and query != question else None, where=where,
                mode=mode, collection=collection)
    try:
        response = client.search(collection, searched, k=modes.candidates(mode, k),
                                 where=where, mode=modes.API_MODES[mode])
    except ApiError as e:
        turn.error = f"Search failed ({e.status}): {e.detail}"
        return turn
    except httpx.HTTPError as e:
        turn.error = f"Search failed: the API did not answer ({type(e).__name__})."
        return turn
    turn.took_ms = response.took_ms
    turn.hits = modes.thin(mode, response.hits, k)
    if not turn.hits:
        turn.notice = "No passage matches" + (" these filters." if where else " yet.")
        return turn
    try:
        turn.answer = extractive_answer(client, searched, turn.hits)
    except (ApiError, httpx.HTTPError) as e:
        turn.notice = f"No extractive answer: the API could not score sentences ({e})."
        return turn
    if not turn.answer:
        turn.notice = NO_ANSWER
    return turn


def generate(turn: Turn, endpoint: ChatEndpoint, on_text: Callable[[str], None]) -> None:
    """Stream the endpoint's answer to the turn's question from its passages, calling
    `on_text` with the text so far after every piece; on success it becomes the turn's
    answer. On failure, even midway, the extractive answer stays and a one-line notice
    says why (a half answer is not shown as an answer)."""
    text = ""
    try:
        for piece in stream(endpoint, answer_messages(turn.query or turn.question, turn.hits)):
            text += piece
            on_text(text)
    except ChatEndpointError as e:
        fallback = "the extractive answer is shown" if turn.answer else "no answer is shown"
        turn.notice = f"The chat endpoint failed ({e}); {fallback}."
        return
    if text.strip():
        turn.generated = text.strip()
        if turn.notice == NO_ANSWER:
            turn.notice = None
    else:
        turn.notice = "The chat endpoint sent an empty answer; " + (
            "the extractive answer is shown." if turn.answer else "no answer is shown.")
