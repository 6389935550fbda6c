"""Generated answers streamed from an OpenAI-compatible endpoint (the SSE test server), their
failures, and follow-up questions made to stand alone."""

import httpx
import pytest

from app.schemas.search import Hit
from tests.ui.chat_server import chat_server
from tests.ui.conftest import free_port
from ui.answer import Sentence
from ui.chat import Turn, generate
from ui.chat_endpoint import ChatEndpoint, ChatEndpointError, answer_messages, stream
from ui.followup import by_model, by_rule, is_follow_up, standalone

PASSAGE = Hit(id="c1", score=0.7, text="Birthing parents receive 20 weeks of paid leave. More.",
              document_id="d", source="hr/parental-leave.docx", filename="parental-leave.docx",
              title="Parental Leave Policy", page=None, heading_path=[], start=0, end=10,
              chunk_index=0, metadata={})
QUESTION = "How many weeks of paid leave do birthing parents get?"


def _turn() -> Turn:
    return Turn(QUESTION, hits=[PASSAGE], answer=[Sentence(PASSAGE.text, 1, 0.8)])


def test_the_answer_streams_piece_by_piece():
    with chat_server() as chat:
        pieces = list(stream(ChatEndpoint(chat.url, "m"), answer_messages(QUESTION, [PASSAGE])))
    assert len(pieces) == 14  # one SSE chunk per word
    assert "".join(pieces) == ("According to the first passage, Birthing parents receive 20 "
                               "weeks of paid leave. [1]")
    turn, shown = _turn(), []
    with chat_server() as chat:
        generate(turn, ChatEndpoint(chat.url, "m"), shown.append)
    assert shown[0] == "According " and shown[-1] == turn.generated  # grows to the end
    assert [len(s) for s in shown] == sorted(len(s) for s in shown)
    assert turn.notice is None


def test_a_stream_stopping_midway_keeps_the_extractive_answer_and_says_why():
    turn, shown = _turn(), []
    with chat_server(hold_after=3) as chat:
        generate(turn, ChatEndpoint(chat.url, "m", timeout=0.5), shown.append)
    assert shown[-1] == "According to the "  # what arrived before it stalled
    assert turn.generated is None and turn.answer
    assert turn.notice.startswith(f"The chat endpoint failed ({chat.url}/chat/completions "
                                  "timed out (ReadTimeout)")
    assert turn.notice.endswith("the extractive answer is shown.")


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b'data: {"oops": 1}\n\n', "sent a chunk that is no chat completion"),
        (b'data: {"error": {"message": "model not found"}}\n\n', "reported an error"),
    ],
)
def test_a_malformed_stream_is_an_error(monkeypatch, reply, error):
    def fake_stream(method, url, **kwargs):
        request = httpx.Request(method, url)
        return _Streamed(httpx.Response(200, content=reply, request=request))

    monkeypatch.setattr(httpx, "stream", fake_stream)
    with pytest.raises(ChatEndpointError, match=error):
        list(stream(ChatEndpoint("http://127.0.0.1:9/v1", "m"), []))


class _Streamed:
    def __init__(self, response):
        self.response = response

    def __enter__(self):
        return self.response

    def __exit__(self, *exc):
        return False


def test_a_dead_endpoint_is_reported_at_once():
    with pytest.raises(ChatEndpointError, match="unreachable"):
        list(stream(ChatEndpoint(f"http://127.0.0.1:{free_port()}/v1", "m"), []))


@pytest.mark.parametrize(
    ("question", "follows"),
    [
        ("And for adoptive parents?", True),
        ("What about contractors?", True),
        ("Does it apply to contractors?", True),
        ("How long do those last?", True),
        ("Why?", True),
        ("How do I rotate a TLS certificate?", False),
        ("Who signs off a $3,000 expense?", False),
    ],
)
def test_the_follow_up_rule(question, follows):
    assert is_follow_up(question) is follows


def test_a_follow_up_takes_the_previous_question_words_it_lacks():
    previous = [QUESTION]
    assert by_rule(previous, "And for adoptive parents?") == (
        "And for adoptive parents? (weeks paid leave birthing)")
    assert by_rule(previous, "How do I rotate a TLS certificate?") == (
        "How do I rotate a TLS certificate?")
    assert by_rule([], "And for adoptive parents?") == "And for adoptive parents?"


def test_the_model_rewrites_a_follow_up_and_the_rule_stands_in_when_it_fails():
    rewritten = "How many weeks of paid leave do adoptive parents get?"
    with chat_server(rewrite=rewritten) as chat:
        endpoint = ChatEndpoint(chat.url, "m")
        assert by_model(endpoint, [QUESTION], "And for adoptive parents?") == rewritten
        assert by_model(endpoint, [], "And for adoptive parents?") == "And for adoptive parents?"
    assert len(chat.requests) == 1  # a first question is not sent to be rewritten
    dead = ChatEndpoint(f"http://127.0.0.1:{free_port()}/v1", "m")
    query, notice = standalone([QUESTION], "And for adoptive parents?", dead)
    assert query == by_rule([QUESTION], "And for adoptive parents?")
    assert notice.startswith("The chat endpoint could not rewrite the follow-up")
