"""The page's configuration, from the environment (set by `sleuth ui` and `sleuth up`)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_HISTORY = Path("data") / "conversations.sqlite3"
"""Beside the store of a `sleuth serve` run from the same folder (its default data dir)."""


@dataclass(frozen=True)
class UiConfig:
    """Where the API is, where conversations are kept and, optionally, a chat endpoint to
    prefill in the sidebar."""

    api_url: str = DEFAULT_API_URL
    api_key: str | None = None
    history: Path = DEFAULT_HISTORY
    chat_base_url: str = ""
    chat_model: str = ""
    chat_api_key: str = ""


def load_config(env: Mapping[str, str] = os.environ) -> UiConfig:
    """SLEUTH_API_URL and SLEUTH_API_KEY; SLEUTH_HISTORY (the conversations' SQLite file);
    SLEUTH_CHAT_BASE_URL, _MODEL and _API_KEY."""
    return UiConfig(
        api_url=env.get("SLEUTH_API_URL", DEFAULT_API_URL),
        api_key=env.get("SLEUTH_API_KEY") or None,
        history=Path(env.get("SLEUTH_HISTORY") or DEFAULT_HISTORY),
        chat_base_url=env.get("SLEUTH_CHAT_BASE_URL", ""),
        chat_model=env.get("SLEUTH_CHAT_MODEL", ""),
        chat_api_key=env.get("SLEUTH_CHAT_API_KEY", ""),
    )
