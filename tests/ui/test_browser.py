"""End to end in real headless Chromium: `sleuth ui` against the API, driven by Playwright.

Uses the system's Debian `chromium` (never a downloaded browser). Screenshots of each step
are saved in the test's temp folder.
"""

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser import chromium, requires_chromium
from tests.ui.chat_server import chat_server
from tests.ui.conftest import COLLECTION, free_port, wait_until

SLEUTH = str(Path(sys.executable).parent / "sleuth")
TRAVEL = Path(__file__).parents[2] / "sample_docs" / "hr" / "travel-policy.txt"

pytestmark = requires_chromium
expect.set_options(timeout=30_000)


@contextmanager
def running_ui(api_url: str, tmp_path: Path, **env: str) -> Iterator[str]:
    """`sleuth ui` on a free port against the API, with `env` added; stopped by SIGINT,
    like Ctrl-C. Yields its URL."""
    port = free_port()
    log = open(tmp_path / "ui.log", "wb")  # noqa: SIM115 - closed after the process
    process = subprocess.Popen(
        [SLEUTH, "ui", "--api", api_url, "--port", str(port), "--history",
         str(tmp_path / "conversations.sqlite3")], stdout=log, stderr=log,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{url}/_stcore/health") or process.poll() is not None, 60)
        assert process.poll() is None, (tmp_path / "ui.log").read_text()
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()


@pytest.fixture
def ui_url(api, tmp_path) -> Iterator[str]:
    """`sleuth ui` against the session's API."""
    with running_ui(api.url, tmp_path) as url:
        yield url


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        yield page


def ask(page: Page, question: str, turn: int) -> list[str]:
    """Ask in the chat box; the texts of the passages of reply number `turn` (0-based)."""
    box = page.get_by_placeholder("Ask a question about your documents")
    box.fill(question)
    box.press("Enter")
    page.locator(f"#t{turn}-p1").wait_for()
    return page.locator(f'[id^="t{turn}-p"]').all_inner_texts()


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the sidebar multiselect labelled `label`."""
    page.locator('[data-testid="stMultiSelect"]').filter(has_text=label).get_by_role(
        "combobox"
    ).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def test_upload_ask_filter_in_chromium(api, ui_url, page, tmp_path):
    page.goto(ui_url)
    expect(page.get_by_placeholder("Ask a question about your documents")).to_be_enabled()
    page.get_by_text("Documents in docs (6)").click()
    expect(page.get_by_text("Add documents")).to_be_visible()
    page.locator('input[type="file"]').set_input_files(str(TRAVEL))
    page.get_by_role("button", name="Ingest 1 file(s)").click()
    expect(page.get_by_text("Ingested 1 file(s) into docs.")).to_be_visible(timeout=60_000)
    page.screenshot(path=tmp_path / "1-uploaded.png")
    uploaded = next(d for d in api.client.list_documents(COLLECTION).documents
                    if d.filename == TRAVEL.name)
    try:
        hotel = ask(page, "What is the hotel cap per night in London?", 0)
        assert "travel-policy.txt" in hotel[0] and "$350" in hotel[0]

        passages = ask(page, "What is the sick leave allowance?", 1)
        assert "hr/employee-handbook-2024.pdf" in passages[0]
        assert "page 3" in passages[0]
        citation = page.locator('a.sleuth-cite[href="#t1-p1"]').first
        page.get_by_test_id("stChatMessage").first.scroll_into_view_if_needed()
        expect(page.locator("#t1-p1")).not_to_be_in_viewport()
        citation.click()
        expect(page).to_have_url(re.compile(rf"^{ui_url}/\?c=[0-9a-f]{{16}}#t1-p1$"))
        expect(page.locator("#t1-p1")).to_be_in_viewport()
        expect(page.locator("#t1-p1 mark").first).to_be_visible()
        page.locator("#t1-p1").scroll_into_view_if_needed()
        page.screenshot(path=tmp_path / "2-answer.png")

        choose(page, "Folder", "runbook")  # named under the ingested folder
        filtered = ask(page, "What is the sick leave allowance?", 2)
        page.locator("#t2-p1").scroll_into_view_if_needed()
        page.screenshot(path=tmp_path / "3-filtered.png")
        assert filtered != passages
        assert all("runbook/" in text for text in filtered)
        expect(page.get_by_text("with filters")).to_be_visible()
        expect(page.get_by_text("No confident answer")).to_be_visible()
    finally:
        api.client.delete_document(COLLECTION, uploaded.id)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "1-uploaded.png", "2-answer.png", "3-filtered.png"
    ]


CONTRAST = """(element) => {
  const rgba = (css) => {
    const parts = css.match(/rgba?\\(([^)]*)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean);
    const [r, g, b, a] = parts.map(Number);
    return [r, g, b, a === undefined ? 1 : a];
  };
  const layers = [];
  for (let node = element; node; node = node.parentElement) {
    const background = rgba(getComputedStyle(node).backgroundColor);
    if (background[3] > 0) layers.push(background);
    if (background[3] >= 1) break;
  }
  return {color: rgba(getComputedStyle(element).color), layers: layers};
}"""
"""The computed text colour of an element and the backgrounds behind it, nearest first,
down to the first opaque one."""


def _over(top: list[float], below: list[float]) -> list[float]:
    alpha = top[3]
    return [alpha * t + (1 - alpha) * b for t, b in zip(top[:3], below[:3], strict=True)] + [1]


def _luminance(rgb: list[float]) -> float:
    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(page: Page, selector: str) -> tuple[float, float]:
    """WCAG contrast ratio of the first `selector`'s text against what is behind it, and
    the luminance of that background (the page's canvas is white under everything)."""
    found = page.locator(selector).first.evaluate(CONTRAST)
    background = [255.0, 255.0, 255.0, 1.0]
    for layer in reversed(found["layers"]):
        background = _over(layer, background)
    text = _over(found["color"], background)
    lighter, darker = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05), _luminance(background)


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_readable_in_both_themes_and_usable_at_390_px(api, ui_url, tmp_path, scheme):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme=scheme)
        page.set_default_timeout(30_000)
        page.goto(ui_url)
        statistics = page.get_by_text("Statistics of docs")
        expect(statistics).to_be_visible()
        expect(page.get_by_test_id("stMetric").first).not_to_be_visible()
        ask(page, "How many weeks of paid leave do birthing parents get?", 0)
        page.locator("#t0-p1").scroll_into_view_if_needed()
        page.screenshot(path=tmp_path / f"{scheme}-390.png")
        _, background = contrast(page, ".sleuth-meta")
        assert (background < 0.05) == (scheme == "dark"), background  # the theme is on
        for selector in (".sleuth-meta", ".sleuth-text", ".sleuth-text mark",
                         '[data-testid="stCaptionContainer"]'):
            ratio, _ = contrast(page, selector)
            assert ratio >= 4.5, (scheme, selector, ratio)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#t0-p1").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        statistics.click()
        expect(page.get_by_test_id("stMetric").first).to_be_visible()


def test_the_page_states_the_server_limits_and_every_refused_file(api, ui_url, page, tmp_path):
    page.goto(ui_url)
    expect(page.get_by_placeholder("Ask a question about your documents")).to_be_enabled()
    page.get_by_text("Documents in docs").click()
    expect(page.get_by_text("Up to 20 MiB (20,971,520 bytes) per file")).to_be_visible()
    dropzone = page.locator('[data-testid="stFileUploaderDropzone"]')
    expect(dropzone).to_contain_text("20MB per file")
    expect(dropzone).not_to_contain_text("200MB")
    files = {"carrots.md": b"# Carrots\n\nCarrots grow best in deep sandy soil.\n",
             "empty.md": b"", "blank.txt": b"   \n\n", "huge.txt": b"x" * (21 << 20)}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    page.locator('input[type="file"]').set_input_files([str(tmp_path / n) for n in files])
    expect(dropzone.locator("..")).to_contain_text("huge.txt")  # flagged by the widget
    ingest = page.get_by_role("button", name="Ingest 3 file(s)")  # the three under the limit
    expect(ingest).to_be_visible(timeout=90_000)
    page.screenshot(path=tmp_path / "1-chosen.png")
    ingest.click()
    try:
        expect(page.get_by_text("Ingested 1 file(s) into docs. Refused: empty.md (empty file). "
                                "Not ingested: blank.txt (no extractable text")).to_be_visible(
            timeout=60_000
        )
        expect(page.get_by_text("uploading")).to_have_count(0)
        page.screenshot(path=tmp_path / "2-refused.png")
    finally:
        for document in api.client.list_documents(COLLECTION).documents:
            if document.filename == "carrots.md":
                api.client.delete_document(COLLECTION, document.id)


HANDBOOK = Path(__file__).parents[2] / "sample_docs" / "hr" / "employee-handbook-2024.pdf"


def test_a_citation_opens_the_pdf_page_with_the_passage_highlighted(api, ui_url, page, tmp_path):
    client = api.client
    client.create_collection("pdfs")
    try:
        job = client.upload("pdfs", [HANDBOOK])
        assert client.wait_for_job(job.id, timeout=120).files[0].status == "done"
        page.goto(ui_url)
        page.get_by_test_id("stSelectbox").filter(has_text="Collection").click()
        page.get_by_role("option", name="pdfs", exact=True).click()
        expect(page.get_by_text("Statistics of pdfs")).to_be_visible()
        ask(page, "How many days of paid sick leave do employees get?", 0)
        page.get_by_role("button", name="[1] employee-handbook-2024.pdf, page 3").click()

        dialog = page.get_by_role("dialog")
        image = dialog.get_by_role("img", name="page 3")
        expect(image).to_be_visible()
        expect(dialog.get_by_text("Page 3 of 4. The passage's lines are highlighted.")
               ).to_be_visible()
        boxes = dialog.locator(".sleuth-box")
        frame = image.bounding_box()  # each box where the API put it on the image
        hit = client.search("pdfs", "How many days of paid sick leave do employees get?",
                            k=1).hits[0]
        lines = client.page_highlight("pdfs", hit.document_id, 3, hit.id).boxes
        assert boxes.count() == len(lines) >= 2
        for n, line in enumerate(lines):
            box = boxes.nth(n).bounding_box()
            assert abs((box["x"] - frame["x"]) / frame["width"] - line.left) < 0.01
            assert abs((box["y"] - frame["y"]) / frame["height"] - line.top) < 0.01
            assert abs(box["width"] / frame["width"] - (line.right - line.left)) < 0.01
            shot = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("L")
            assert shot.getextrema()[0] < 100, n  # the page's text is under the box
        expect(dialog.locator("mark.sleuth-quote")).to_contain_text("10 days of paid sick leave")
        boxes.first.scroll_into_view_if_needed()
        page.screenshot(path=tmp_path / "source-pdf.png")
        with page.expect_download() as download:
            dialog.get_by_role("button", name="Download employee-handbook-2024.pdf").click()
        assert download.value.suggested_filename == HANDBOOK.name
        assert Path(download.value.path()).read_bytes() == HANDBOOK.read_bytes()
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)

        # A document ingested from a folder: its text around the passage, no file.
        page.get_by_test_id("stSelectbox").filter(has_text="Collection").click()
        page.get_by_role("option", name=COLLECTION, exact=True).click()
        ask(page, "How many weeks of paid leave do birthing parents get?", 1)
        page.locator("#t1-p1").scroll_into_view_if_needed()
        reply = page.get_by_test_id("stChatMessage").nth(3)  # turn 1's answer
        reply.get_by_role("button", name="Open in its document").first.click()
        expect(dialog.locator("mark.sleuth-quote")).to_contain_text("20 weeks")
        expect(dialog.get_by_text("No original file to download")).to_be_visible()
        expect(dialog.get_by_role("img")).to_have_count(0)
    finally:
        client.delete_collection("pdfs")


PARENTAL = "How many weeks of paid leave do birthing parents get?"


def test_a_generated_answer_streams_into_the_page(api, page, tmp_path):
    with chat_server(hold_after=4) as chat, running_ui(
        api.url, tmp_path, SLEUTH_CHAT_BASE_URL=chat.url, SLEUTH_CHAT_MODEL="tiny"
    ) as url:
        page.goto(url)
        box = page.get_by_placeholder("Ask a question about your documents")
        box.fill(PARENTAL)
        box.press("Enter")
        reply = page.get_by_test_id("stChatMessage").nth(1)
        expect(reply).to_contain_text("According to the first")  # four words in...
        assert chat.held.is_set()
        expect(reply).not_to_contain_text("20 weeks")  # ...and the rest not sent yet
        page.screenshot(path=tmp_path / "1-streaming.png")
        chat.release.set()
        expect(reply).to_contain_text("Birthing parents receive 20 weeks")
        page.locator("#t0-p1").wait_for()
        citation = reply.locator('a.sleuth-cite[href="#t0-p1"]')
        expect(citation).to_have_text("[1]")
        expect(reply).not_to_contain_text("▌")  # the cursor goes with the stream
        expect(reply.get_by_test_id("stAlert")).to_have_count(0)  # no notice
        page.screenshot(path=tmp_path / "2-streamed.png")
    assert chat.requests[0]["body"]["stream"] is True


def test_a_dead_chat_endpoint_shows_a_notice_and_the_extractive_answer(api, page, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with running_ui(api.url, tmp_path, SLEUTH_CHAT_BASE_URL=dead,
                    SLEUTH_CHAT_MODEL="tiny") as url:
        page.goto(url)
        ask(page, PARENTAL, 0)
        reply = page.get_by_test_id("stChatMessage").nth(1)
        expect(reply.get_by_test_id("stAlert")).to_contain_text(
            f"The chat endpoint failed ({dead}/chat/completions unreachable")
        expect(reply.get_by_test_id("stAlert")).to_contain_text("the extractive answer is shown")
        expect(reply.locator("a.sleuth-cite").first).to_be_visible()
        expect(reply).to_contain_text("20 weeks")
        page.screenshot(path=tmp_path / "dead-endpoint.png")
