"""Optional answer generation by an OpenAI-compatible chat endpoint, from cited passages.

Only called when the user configured a base URL and model (a local Ollama, llama.cpp
server or vLLM); the page never reaches the internet otherwise. The model is told to answer
from the numbered passages alone, to cite them as [n] (the page turns those into links),
and to say when the passages do not hold the answer. The answer is streamed (server-sent
events, `stream: true`) so the page shows it token by token. The endpoint also rewrites a
follow-up question into one that stands alone (`ui.followup`).

Every failure (unreachable, an error status, a timeout between two chunks, a malformed
stream) is a ChatEndpointError saying what happened; the page then shows the extractive
answer with a one-line notice.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx

from app.schemas.search import Hit

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages given. Cite every claim with the "
    "passage number in square brackets, like [1] or [2][3]. If the passages do not contain "
    "the answer, say so in one sentence. Be brief: at most four sentences."
)
CONNECT_TIMEOUT = 5.0
"""Seconds to reach the endpoint: a dead one is reported at once, not after `timeout`."""


class ChatEndpointError(Exception):
    """The endpoint could not be reached or gave no usable answer."""


@dataclass(frozen=True)
class ChatEndpoint:
    """Where to send the passages: `base_url` up to `/v1`, e.g. http://localhost:11434/v1;
    `timeout`: the most seconds to wait for the first or the next chunk."""

    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 60.0

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def prompt(question: str, hits: Sequence[Hit]) -> str:
    """The user message: numbered passages with their source, then the question."""
    parts = []
    for n, hit in enumerate(hits, start=1):
        where = hit.title or hit.filename or hit.source or "?"
        if hit.page is not None:
            where += f", page {hit.page}"
        parts.append(f"[{n}] ({where})\n{(hit.text or '').strip()}")
    return "Passages:\n\n" + "\n\n".join(parts) + f"\n\nQuestion: {question}"


def answer_messages(question: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt(question, hits)}]


def _request(endpoint: ChatEndpoint, messages: list[dict[str, str]], stream: bool) -> dict:
    return {
        "url": endpoint.url,
        "json": {"model": endpoint.model, "temperature": 0, "stream": stream,
                 "messages": messages},
        "headers": {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {},
        "timeout": httpx.Timeout(endpoint.timeout, connect=min(CONNECT_TIMEOUT,
                                                                endpoint.timeout)),
    }


def stream(endpoint: ChatEndpoint, messages: list[dict[str, str]]) -> Iterator[str]:
    """The reply's text as it arrives, piece by piece; ChatEndpointError on any failure
    (pieces already yielded stand; the caller decides what a broken answer is worth)."""
    url = endpoint.url
    try:
        with httpx.stream("POST", **_request(endpoint, messages, stream=True)) as response:
            if response.status_code >= 400:
                response.read()
                raise ChatEndpointError(f"{url} answered {response.status_code}: "
                                        f"{response.text[:200]}")
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": keep-alive"), event names
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                piece = _delta(url, data)
                if piece:
                    yield piece
    except httpx.TimeoutException as e:
        raise ChatEndpointError(f"{url} timed out ({type(e).__name__})") from e
    except httpx.HTTPError as e:
        raise ChatEndpointError(f"{url} unreachable: {e or type(e).__name__}") from e


def _delta(url: str, data: str) -> str:
    """The text of one streamed chunk (`choices[0].delta.content`)."""
    try:
        chunk = json.loads(data)
        if "error" in chunk:
            raise ChatEndpointError(f"{url} reported an error: {chunk['error']}")
        choices = chunk["choices"]
        return (choices[0].get("delta", {}).get("content") or "") if choices else ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise ChatEndpointError(f"{url} sent a chunk that is no chat completion: {e!r}") from e


def complete(endpoint: ChatEndpoint, messages: list[dict[str, str]]) -> str:
    """The whole reply at once (a short one, such as a rewritten question)."""
    try:
        response = httpx.post(**_request(endpoint, messages, stream=False))
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"].strip()
    except httpx.HTTPStatusError as e:
        raise ChatEndpointError(f"{endpoint.url} answered {e.response.status_code}") from e
    except httpx.TimeoutException as e:
        raise ChatEndpointError(f"{endpoint.url} timed out ({type(e).__name__})") from e
    except httpx.HTTPError as e:
        raise ChatEndpointError(f"{endpoint.url} unreachable: {e}") from e
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise ChatEndpointError(f"{endpoint.url} gave no chat completion: {e!r}") from e
