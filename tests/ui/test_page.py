"""The page's logic, run headless by Streamlit's AppTest against a real API."""

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.client import SleuthClient
from tests.ui.chat_server import chat_server
from tests.ui.conftest import COLLECTION, SAMPLES, free_port
from ui.chat import Turn
from ui.chat import ask as ask_api
from ui.history import History

PAGE = str(Path(__file__).parents[2] / "ui" / "page.py")
PARENTAL = "How many weeks of paid leave do birthing parents get?"
SICK_LEAVE = "What is the sick leave allowance?"
FAILOVER = "How do I run a manual PostgreSQL failover with patronictl?"


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    return at.run()


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question)
    return at.run()


def reply_markdown(at: AppTest) -> list[str]:
    """The markdown blocks of the last assistant message: answer first, then passages."""
    return [m.value for m in at.chat_message[-1].markdown]


def passages(at: AppTest) -> list[str]:
    return [m for m in reply_markdown(at) if 'class="sleuth-passage"' in m]


def test_a_question_gets_an_answer_citing_the_right_passage(api_env):
    at = ask(page(), PARENTAL)
    assert not at.exception
    answer, first = reply_markdown(at)[0], passages(at)[0]
    assert "20 weeks" in answer
    assert 'href="#t0-p1"' in answer
    assert 'id="t0-p1"' in first
    assert "hr/parental-leave.docx" in first
    assert "How much leave" in first
    assert "<mark>weeks</mark>" in first
    assert "score 0." in first


def test_pdf_passages_cite_their_page(api_env):
    at = ask(page(), SICK_LEAVE)
    first = passages(at)[0]
    assert "hr/employee-handbook-2024.pdf" in first
    assert "page 3" in first
    assert "10 days" in reply_markdown(at)[0]


def test_the_conversation_stays_on_the_page(api_env):
    at = ask(ask(page(), PARENTAL), FAILOVER)
    assert [m.name for m in at.chat_message] == ["user", "assistant"] * 2
    assert at.chat_message[0].markdown[0].value == PARENTAL
    assert any("parental-leave.docx" in m.value for m in at.chat_message[1].markdown)
    assert 'id="t1-p1"' in passages(at)[0]
    button(at, "New conversation").click().run()
    assert not at.chat_message
    assert "c" not in at.query_params


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_conversations_are_kept_renamed_and_deleted(api_env, history_file):
    at = ask(ask(page(), PARENTAL), FAILOVER)
    (first,) = History(history_file).conversations()
    assert first.title == PARENTAL and first.collection == COLLECTION
    assert at.query_params["c"] == first.id  # what a reload keeps

    reloaded = AppTest.from_file(PAGE, default_timeout=60)  # a reload: a new session
    reloaded.query_params["c"] = first.id
    reloaded.run()
    assert [m.markdown[0].value for m in reloaded.chat_message[::2]] == [PARENTAL, FAILOVER]
    assert "20 weeks" in reloaded.chat_message[1].markdown[0].value
    assert any('id="t1-p1"' in m.value for m in reloaded.chat_message[3].markdown)

    button(reloaded, "New conversation").click().run()
    assert not reloaded.chat_message
    ask(reloaded, SICK_LEAVE)
    second = History(history_file).conversations()[0]
    assert second.title == SICK_LEAVE and second.id != first.id
    assert [b.label for b in reloaded.button if b.key and b.key.startswith("open_")] == [
        SICK_LEAVE, PARENTAL]

    button(reloaded, PARENTAL).click().run()
    assert reloaded.chat_message[0].markdown[0].value == PARENTAL
    reloaded.text_input(key=f"title_{first.id}").set_value("Leave questions").run()
    assert History(history_file).get(first.id).title == "Leave questions"
    assert "Leave questions" in [b.label for b in reloaded.button]

    button(reloaded, "Delete this conversation").click().run()
    assert not reloaded.chat_message
    assert [c.id for c in History(history_file).conversations()] == [second.id]
    assert History(history_file).turns(first.id) == []


def test_statistics_and_filter_choices_come_from_the_collection(api_env):
    at = page()
    stats = {m.label: m.value for m in at.metric}
    info = api_env.client.get_collection(COLLECTION)
    assert stats["Documents"] == str(len(SAMPLES)) == str(info.documents)
    assert stats["Chunks"] == str(info.count)
    assert stats["Segments"] == str(info.segments)
    assert stats["Disk"].endswith(("KB", "MB")) and info.disk_bytes > 0
    assert at.multiselect(key="folders").options == ["handbook", "hr", "runbook"]
    assert at.multiselect(key="file_types").options == ["docx", "html", "markdown", "pdf", "text"]
    assert sorted(at.multiselect(key="sources").options) == sorted(SAMPLES)
    assert at.date_input[0].value == (date(2023, 9, 4), date(2024, 4, 18))
    assert at.date_input[0].label == "Dated between"


@pytest.mark.parametrize(
    ("widget", "value", "expected"),
    [
        ("folders", ["runbook"], "runbook/"),
        ("file_types", ["pdf"], ".pdf"),
        ("sources", ["handbook/data-retention.html"], "handbook/data-retention.html"),
    ],
)
def test_filters_restrict_the_passages(api_env, widget, value, expected):
    at = page()
    at.multiselect(key=widget).set_value(value)
    at = ask(at.run(), PARENTAL)
    found = passages(at)
    assert found
    assert all(expected in p for p in found)
    assert "with filters" in at.chat_message[-1].caption[0].value


def test_date_range_filter(api_env):
    at = page()
    at.date_input[0].set_value((date(2023, 9, 4), date(2023, 12, 31)))
    at = ask(at.run(), PARENTAL)
    assert all("runbook/oncall-rotation.md" in p for p in passages(at))


def test_modes_and_k(api_env):
    at = page()
    at.slider(key="k").set_value(3)
    at.radio(key="mode").set_value("One per document")
    at = ask(at.run(), PARENTAL)
    found = passages(at)
    assert len(found) == 3
    names = [p.split("<code>")[1].split("</code>")[0] for p in found]
    assert len(set(names)) == 3


def test_api_down_is_said_plainly(monkeypatch):
    monkeypatch.setenv("SLEUTH_API_URL", f"http://127.0.0.1:{free_port()}")
    at = page()
    assert not at.exception
    assert "is not reachable" in at.error[0].value
    assert not at.chat_input


def test_an_empty_collection_says_so(api_env):
    api_env.client.create_collection("empty")
    try:
        at = page()
        at.selectbox(key="collection").set_value("empty")
        at.run()
        assert any("is empty" in i.value for i in at.info)
        assert at.chat_input[0].proto.disabled
    finally:
        api_env.client.delete_collection("empty")


def test_a_failed_search_becomes_a_message(api_env):
    turn = ask_api(api_env.client, "no-such-collection", PARENTAL, k=3)
    assert turn.error.startswith("Search failed (404)")
    with SleuthClient(f"http://127.0.0.1:{free_port()}") as down:
        assert "did not answer" in ask_api(down, COLLECTION, PARENTAL, k=3).error


def test_the_page_shows_a_failed_search_in_the_conversation(api_env, history_file):
    history = History(history_file)
    conversation = history.create(PARENTAL, COLLECTION)
    history.add_turn(conversation.id, Turn(PARENTAL, error="Search failed (503): model loading"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["c"] = conversation.id
    at.run()
    assert at.chat_message[-1].error[0].value == "Search failed (503): model loading"


def test_delete_a_document_from_the_table(api_env):
    client = api_env.client
    client.create_collection("scratch")
    try:
        for name in ("one.md", "two.md"):
            job = client.upload("scratch", [(name, f"# {name}\n\nSome text.\n".encode())])
            client.wait_for_job(job.id, timeout=60)
        at = page()
        at.selectbox(key="collection").set_value("scratch")
        at.run()
        at.multiselect(key="doomed").set_value(["one.md"]).run()
        next(b for b in at.button if b.label.startswith("Delete 1")).click().run()
        assert not at.exception
        assert [d.filename for d in client.list_documents("scratch").documents] == ["two.md"]
        assert any("Deleted 1 document" in s.value for s in at.success)
    finally:
        client.delete_collection("scratch")


def configure(at: AppTest, base_url: str) -> AppTest:
    at.text_input(key="chat_base_url").set_value(base_url)
    at.text_input(key="chat_model").set_value("tiny")
    at.text_input(key="chat_key").set_value("sk-test")
    return at.run()


def test_a_configured_chat_endpoint_streams_the_answer(api_env):
    with chat_server() as chat:
        at = ask(configure(page(), chat.url), PARENTAL)
    answer = reply_markdown(at)[0]
    assert answer.startswith("According to the first passage, ")
    assert "20 weeks" in answer and answer.endswith('href="#t0-p1">[1]</a>')
    (sent,) = chat.requests
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["stream"] is True
    assert sent["auth"] == "Bearer sk-test"
    assert "[1] (Parental Leave Policy" in sent["body"]["messages"][1]["content"]
    assert not at.chat_message[-1].info  # no notice: the model answered


def test_a_dead_chat_endpoint_falls_back_to_the_extractive_answer(api_env):
    at = ask(configure(page(), f"http://127.0.0.1:{free_port()}/v1"), PARENTAL)
    assert "20 weeks" in reply_markdown(at)[0]
    notice = at.chat_message[-1].info[0].value
    assert notice.startswith("The chat endpoint failed (http://127.0.0.1:")
    assert notice.endswith("unreachable: [Errno 111] Connection refused); the extractive "
                           "answer is shown.")


ADOPTIVE = "And for adoptive parents?"


def test_a_follow_up_is_searched_with_the_previous_question_without_an_endpoint(api_env):
    at = ask(ask(page(), PARENTAL), ADOPTIVE)
    caption = at.chat_message[-1].caption[0].value
    assert caption.endswith("searched for “And for adoptive parents? (weeks paid leave "
                            "birthing)”")
    assert "hr/parental-leave.docx" in passages(at)[0]


def test_a_follow_up_is_rewritten_by_the_chat_endpoint(api_env):
    standalone = "How many weeks of paid leave do adoptive parents get?"
    with chat_server(rewrite=standalone) as chat:
        at = ask(ask(configure(page(), chat.url), PARENTAL), ADOPTIVE)
    streamed, rewrite, answered = chat.requests[0], chat.requests[1], chat.requests[2]
    assert streamed["body"]["stream"] and answered["body"]["stream"]
    assert rewrite["body"]["stream"] is False
    assert rewrite["body"]["messages"][1]["content"] == (
        f"Earlier questions:\n- {PARENTAL}\n\nLast question: {ADOPTIVE}")
    assert answered["body"]["messages"][1]["content"].endswith(f"Question: {standalone}")
    assert at.chat_message[-1].caption[0].value.endswith(f"searched for “{standalone}”")
