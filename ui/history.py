"""The page's conversations, kept in one SQLite file so they outlive a reload and a restart.

`sleuth up` keeps them in its data directory (`<data>/conversations.sqlite3`); `sleuth ui`
where `--history` says (see `ui.config`). A conversation is a title, the collection it asked
and its turns in order; each turn is stored whole as JSON (question, passages, answer,
notices), so reopening a conversation shows what was answered then without searching again.
The page finds the open conversation from the URL (`?c=<id>`), which is what a reload keeps.

One connection per process, used under a lock (Streamlit runs each session's script on its
own thread); the WAL journal lets a second page server share the file.
"""

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from app.schemas.search import Hit
from ui.answer import Sentence
from ui.chat import Turn

TITLE_CHARS = 80
"""A title is cut to this length (a new conversation is titled by its first question)."""
FORMAT = 1
"""Version of a stored turn's JSON: a later page reads older turns, and refuses newer ones."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    collection TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (conversation, position)
);
"""


@dataclass(frozen=True)
class Conversation:
    """A conversation's row: its id (the `?c=` of the URL), title and collection."""

    id: str
    title: str
    collection: str
    created: float
    updated: float


def title_of(text: str) -> str:
    """A title from free text: one line, at most TITLE_CHARS characters ('Untitled' if blank)."""
    line = " ".join(text.split())
    if len(line) > TITLE_CHARS:
        line = line[: TITLE_CHARS - 1].rstrip() + "…"
    return line or "Untitled"


def encode(turn: Turn) -> str:
    """A turn as JSON: its fields, passages as the API's hits, answer sentences as dicts."""
    data: dict[str, Any] = {f.name: getattr(turn, f.name) for f in fields(turn)}
    data["hits"] = [hit.model_dump(mode="json") for hit in turn.hits]
    data["answer"] = [asdict(s) for s in turn.answer]
    return json.dumps({"format": FORMAT, "turn": data}, ensure_ascii=False)


def decode(text: str) -> Turn:
    """A turn back from `encode`; fields a later page added and this one lacks are dropped,
    fields this one added since are left at their defaults. ValueError if unreadable."""
    stored = json.loads(text)
    if not isinstance(stored, dict) or stored.get("format", FORMAT + 1) > FORMAT:
        raise ValueError("a turn stored by a newer page")
    data = stored["turn"]
    known = {f.name for f in fields(Turn)}
    turn = Turn(**{k: v for k, v in data.items() if k in known and k not in ("hits", "answer")})
    turn.hits = [Hit.model_validate(h) for h in data.get("hits", [])]
    turn.answer = [Sentence(**s) for s in data.get("answer", [])]
    return turn


class History:
    """The conversations of one SQLite file (created with its folder if missing)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, for one transaction: committed on the way out, rolled back on
        an exception (sqlite3's own context manager), under the lock."""
        with self._lock, self._db:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, title: str, collection: str) -> Conversation:
        """A new, empty conversation."""
        now = time.time()
        conversation = Conversation(secrets.token_hex(8), title_of(title), collection, now, now)
        with self._transaction() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                       (conversation.id, conversation.title, collection, now, now))
        return conversation

    def conversations(self, limit: int = 100) -> list[Conversation]:
        """The most recently used conversations first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM conversations ORDER BY updated DESC, created DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Conversation(*row) for row in rows]

    def get(self, conversation_id: str) -> Conversation | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM conversations WHERE id = ?",
                                   (conversation_id,)).fetchone()
        return None if row is None else Conversation(*row)

    def turns(self, conversation_id: str) -> list[Turn]:
        """The conversation's turns in order; a turn that cannot be read back is shown as
        a failed turn saying so, never dropped silently."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM turns WHERE conversation = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        turns = []
        for (data,) in rows:
            try:
                turns.append(decode(data))
            except (ValueError, TypeError, KeyError) as e:
                turns.append(Turn("?", error=f"This turn could not be read back: {e}"))
        return turns

    def add_turn(self, conversation_id: str, turn: Turn) -> None:
        """Append a turn; the conversation becomes the most recently used."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO turns SELECT ?, coalesce(max(position) + 1, 0), ? FROM turns"
                " WHERE conversation = ?", (conversation_id, encode(turn), conversation_id),
            )
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?",
                       (time.time(), conversation_id))

    def rename(self, conversation_id: str, title: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?",
                       (title_of(title), conversation_id))

    def delete(self, conversation_id: str) -> None:
        """The conversation and its turns."""
        with self._transaction() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
