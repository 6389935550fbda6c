"""Answer quality on sample_docs: questions phrased as a user would ask them, each with the
words its answer sentence must hold, written for this test (not taken from the README).

The page's own turn (`ui.chat.ask`: a hybrid search, then the extractive answer scored by
the server over HTTP) answers each; the first answer sentence must hold the known answer
for at least MIN_RIGHT of them. The count is printed (`-s`) with the misses.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.client import SleuthClient
from app.main import create_app
from app.settings import Settings
from tests.servers import ingest_sample_docs
from ui.chat import ask

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = (
    ("How many days off do I get when I'm ill?", "10 days of paid sick leave"),
    ("Who signs off a $3,000 expense?", "your manager and your department head approve"),
    ("How long may I work from abroad?", "30 days in any 12 months"),
    ("What does the company pay towards my internet at home?", "$75 per month"),
    ("How much is an on-call week as primary paid?", "$400 for each week as primary"),
    ("What is the most I can spend on a hotel night in Tokyo?", "$350 in New York"),
    ("How fast must I react when PagerDuty pages me?", "within 5 minutes"),
    ("How much replication lag can a replica have when I promote it?", "0 MB"),
    ("On what date do promotions take effect?", "October 1"),
    ("How long is probation for a new hire in Germany?", "6 months in Germany"),
    ("How much leave does a non-birthing parent get?", "12 weeks"),
    ("Can I keep my old laptop when it is replaced?", "may keep their old one"),
    ("Which vendor gifts have to be turned down or reported?", "worth more than $100"),
    ("How quickly is a report to the ethics line acknowledged?", "within 2 business days"),
    ("How many unused vacation days roll over into next year?", "up to 5 unused days"),
    ("How many query API requests per minute does the Business plan allow?", "3,000 on Business"),
)
MIN_RIGHT = 14
"""The issue asks for 10 of 12. 15 of these 16 were right when this was written: the miss is
"Who signs off a $3,000 expense?", where the receipt rule outscores the approval range."""


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[SleuthClient]:
    """The API over every sample document, through a TestClient."""
    data = ingest_sample_docs(tmp_path_factory.mktemp("quality") / "data")
    with TestClient(create_app(Settings(data_dir=Path(data), ingest_workers=0))) as http:
        client = SleuthClient(http=http)
        client.wait_until_ready(timeout=120)
        yield client


def test_the_first_answer_sentence_holds_the_known_answer(client):
    right, misses = 0, []
    for question, known in QUESTIONS:
        turn = ask(client, "docs", question, k=5)
        assert turn.error is None, turn.error
        first = turn.answer[0].text if turn.answer else "(no answer)"
        if known in first:
            right += 1
        else:
            misses.append(f"{question} -> {first}")
    print(f"\nfirst answer sentence right for {right} of {len(QUESTIONS)} questions")
    print("\n".join(misses))
    assert right >= MIN_RIGHT, misses


def test_a_question_the_documents_do_not_answer_gets_no_answer(client):
    turn = ask(client, "docs", "What is the boiling point of mercury on Jupiter?", k=5)
    assert turn.hits and not turn.answer
    assert turn.notice.startswith("No confident answer")
