"""Optional answer generation by an OpenAI-compatible chat endpoint, from cited passages.

Only called when the user configured a base URL and model; the page never reaches the
internet otherwise. The model is told to answer from the numbered passages alone and to
cite them as [n], which the page turns into links like the extractive answer's.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from app.schemas.search import Hit

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages given. Cite every claim with the "
    "passage number in square brackets, like [1] or [2][3]. If the passages do not contain "
    "the answer, say so in one sentence. Be brief: at most four sentences."
)


class ChatEndpointError(Exception):
    """The endpoint could not be reached or gave no usable answer."""


@dataclass(frozen=True)
class ChatEndpoint:
    """Where to send the passages: `base_url` up to `/v1`, e.g. http://localhost:11434/v1."""

    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 60.0


def prompt(question: str, hits: Sequence[Hit]) -> str:
    """The user message: numbered passages with their source, then the question."""
    parts = []
    for n, hit in enumerate(hits, start=1):
        where = hit.title or hit.filename or hit.source or "?"
        if hit.page is not None:
            where += f", page {hit.page}"
        parts.append(f"[{n}] ({where})\n{(hit.text or '').strip()}")
    return "Passages:\n\n" + "\n\n".join(parts) + f"\n\nQuestion: {question}"


def generate(endpoint: ChatEndpoint, question: str, hits: Sequence[Hit]) -> str:
    """The endpoint's answer to `question` from `hits`, or ChatEndpointError."""
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    body = {
        "model": endpoint.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt(question, hits)},
        ],
    }
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=endpoint.timeout)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"].strip()
    except httpx.HTTPStatusError as e:
        raise ChatEndpointError(f"{url} answered {e.response.status_code}") from e
    except httpx.HTTPError as e:
        raise ChatEndpointError(f"{url} unreachable: {e}") from e
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise ChatEndpointError(f"{url} gave no chat completion: {e!r}") from e
