"""One turn of the conversation: search, pick the passages, answer with citations.

Kept apart from the page so that the page only lays things out: `ask` talks to the API
(and to the chat endpoint, if one is set) and returns a `Turn` holding everything the page
shows, including the message to show when something failed.
"""

from dataclasses import dataclass, field
from typing import Any

import httpx

from app.client import ApiError, SleuthClient
from app.schemas.search import Hit
from ui import modes
from ui.answer import Sentence, extractive_answer
from ui.chat_endpoint import ChatEndpoint, ChatEndpointError, generate

NO_ANSWER = ("No confident answer: no sentence of these passages answers the question closely "
             "enough. They are the nearest passages.")


@dataclass
class Turn:
    """A question and what came back; `error` set means the search itself failed."""

    question: str
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
    endpoint: ChatEndpoint | None = None,
) -> Turn:
    """Answer `question` from `collection`; never raises for API or endpoint failures."""
    turn = Turn(question, where=where, mode=mode, collection=collection)
    try:
        response = client.search(collection, question, k=modes.candidates(mode, k), where=where,
                                 mode=modes.API_MODES[mode])
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
    notices = []
    try:
        turn.answer = extractive_answer(client, question, turn.hits)
    except (ApiError, httpx.HTTPError) as e:
        notices.append(f"No extractive answer: the API could not score sentences ({e}).")
    if endpoint is not None:
        try:
            turn.generated = generate(endpoint, question, turn.hits)
        except ChatEndpointError as e:
            notices.append(f"The chat endpoint failed: {e}.")
    if not turn.generated and not turn.answer and not notices:
        notices.append(NO_ANSWER)
    turn.notice = " ".join(notices) or None
    return turn
