"""Conversations in SQLite: turns read back whole, order, rename, delete, reopen."""

import json
import sqlite3

import pytest

from app.schemas.search import Hit
from ui.answer import Sentence
from ui.chat import Turn
from ui.history import TITLE_CHARS, History, decode, encode, title_of


def _turn(question: str) -> Turn:
    hit = Hit(id="c1", score=0.71, text="Birthing parents receive 20 weeks of paid leave.",
              document_id="d1", source="hr/parental-leave.docx", filename="parental-leave.docx",
              title="Parental Leave Policy", page=None, heading_path=["Leave", "How much"],
              start=0, end=48, chunk_index=0, metadata={"author": "HR"}, vector_rank=1,
              text_rank=None)
    return Turn(question, hits=[hit], answer=[Sentence(hit.text, 1, 0.83)],
                notice="a notice", where={"file_type": {"$in": ["docx"]}}, mode="Semantic",
                took_ms=12.5)


def test_a_turn_reads_back_equal():
    turn = _turn("How many weeks?")
    assert decode(encode(turn)) == turn


def test_a_turn_of_a_newer_page_is_refused_and_shown_as_unreadable(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    conversation = history.create("q", "docs")
    history.add_turn(conversation.id, _turn("q"))
    newer = json.dumps({"format": 99, "turn": {"question": "q"}})
    with pytest.raises(ValueError, match="newer page"):
        decode(newer)
    with sqlite3.connect(history.path) as db:
        db.execute("INSERT INTO turns VALUES (?, 1, ?)", (conversation.id, newer))
    good, bad = history.turns(conversation.id)
    assert good.question == "q" and bad.error.startswith("This turn could not be read back")


def test_conversations_are_listed_by_last_use_renamed_deleted_and_survive_reopening(tmp_path):
    path = tmp_path / "deep" / "h.sqlite3"  # the folder is made
    history = History(path)
    first = history.create("  How many\nweeks?  ", "docs")
    second = history.create("Other", "notes")
    assert first.title == "How many weeks?"
    assert [c.id for c in history.conversations()] == [second.id, first.id]
    history.add_turn(first.id, _turn("How many weeks?"))
    history.add_turn(first.id, _turn("And adoptive parents?"))
    assert [c.id for c in history.conversations()] == [first.id, second.id]
    history.rename(first.id, "Leave")
    history.close()

    reopened = History(path)
    assert reopened.get(first.id).title == "Leave"
    assert [t.question for t in reopened.turns(first.id)] == ["How many weeks?",
                                                              "And adoptive parents?"]
    reopened.delete(first.id)
    assert reopened.get(first.id) is None
    assert reopened.turns(first.id) == []
    assert [c.id for c in reopened.conversations()] == [second.id]
    with sqlite3.connect(path) as db:  # the turns went with their conversation
        assert db.execute("SELECT count(*) FROM turns").fetchone() == (0,)
    with pytest.raises(sqlite3.IntegrityError):  # no turn without its conversation
        reopened.add_turn(first.id, _turn("late"))


def test_titles_are_one_line_and_bounded():
    assert title_of("") == "Untitled"
    long = title_of("word " * 100)
    assert len(long) == TITLE_CHARS and long.endswith("…")
