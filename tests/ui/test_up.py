"""`sleuth up`: ingest a folder, serve the API and the page, stop both on Ctrl-C, even
when started as a background job (SIGINT ignored); no model is left in the supervisor.
The page's conversations outlive a reload and a restart of `sleuth up` (headless Chromium)."""

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from app.client import SleuthClient
from sample_docs.generate import DOCUMENTS
from sample_docs.render import write
from tests.browser import chromium, requires_chromium
from tests.processes import children_of, gone, ignore_sigint
from tests.ui.conftest import free_port, wait_until

SLEUTH = str(Path(sys.executable).parent / "sleuth")


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None


@dataclass(frozen=True)
class Running:
    process: subprocess.Popen
    api_port: int
    ui_port: int

    @property
    def url(self) -> str:
        """The page's."""
        return f"http://127.0.0.1:{self.ui_port}"


@contextmanager
def sleuth_up(folder: Path, data: Path, log_path: Path, **popen) -> Iterator[Running]:
    """`sleuth up` on free ports until the block ends, then Ctrl-C, which must exit 0."""
    api_port, ui_port = free_port(), free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [SLEUTH, "up", str(folder), "--data", str(data), "--api-port", str(api_port),
             "--ui-port", str(ui_port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=folder.parent,
            env={**os.environ, "HF_HUB_OFFLINE": "1"}, **popen,
        )
        try:
            wait_until(lambda: "Ctrl-C stops both" in log_path.read_text()
                       or process.poll() is not None, timeout=180)
            assert process.poll() is None, log_path.read_text()
            yield Running(process, api_port, ui_port)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
    assert code == 0, log_path.read_text()


def test_sleuth_up_ingests_serves_both_and_stops_on_ctrl_c(tmp_path):
    folder = tmp_path / "docs"
    write(next(d for d in DOCUMENTS if d.path == "hr/remote-work.md"), folder)
    log_path = tmp_path / "up.log"
    children: list[int] = []
    with sleuth_up(folder, tmp_path / "data", log_path, preexec_fn=ignore_sigint) as up:
        out = log_path.read_text()
        assert "1 added" in out
        assert f"API http://127.0.0.1:{up.api_port}/docs" in out
        assert f"UI  http://127.0.0.1:{up.ui_port}" in out
        assert _status(f"{up.url}/_stcore/health") == 200
        with SleuthClient(f"http://127.0.0.1:{up.api_port}") as client:
            hits = client.search("docs", "home office stipend", k=1).hits
        assert hits[0].source.endswith("hr/remote-work.md")
        children = children_of(up.process.pid)
        assert len(children) == 2  # the API and the page; the ingest child has ended
        assert "torch" not in Path(f"/proc/{up.process.pid}/maps").read_text()
    assert all(gone(child) for child in children)
    assert _status(f"http://127.0.0.1:{up.api_port}/health") is None
    assert _status(f"{up.url}/_stcore/health") is None


QUESTION = "How much is the home office stipend?"


@pytest.mark.slow
@requires_chromium
def test_a_conversation_survives_a_reload_and_a_restart_of_sleuth_up(tmp_path):
    folder, data = tmp_path / "docs", tmp_path / "data"
    write(next(d for d in DOCUMENTS if d.path == "hr/remote-work.md"), folder)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        with sleuth_up(folder, data, tmp_path / "up-1.log") as up:
            page.goto(up.url)
            box = page.get_by_placeholder("Ask a question about your documents")
            box.fill(QUESTION)
            box.press("Enter")
            page.locator("#t0-p1").wait_for()
            expect(page).to_have_url(re.compile(r"\?c=[0-9a-f]{16}$"))  # its address
            address = page.url
            page.reload()
            page.locator("#t0-p1").wait_for()  # shown from the history, not asked again
            expect(page.get_by_test_id("stChatMessage").first).to_contain_text(QUESTION)
            page.screenshot(path=tmp_path / "1-reloaded.png")
        assert (data / "conversations.sqlite3").is_file()
        with sleuth_up(folder, data, tmp_path / "up-2.log") as up:
            assert "1 added" not in (tmp_path / "up-2.log").read_text()  # the same store
            page.goto(up.url)  # a fresh start: no conversation open, the old one listed
            expect(page.get_by_placeholder("Ask a question about your documents")).to_be_enabled()
            expect(page.locator("#t0-p1")).to_have_count(0)
            page.get_by_test_id("stSidebar").get_by_role("button", name=QUESTION).click()
            page.locator("#t0-p1").wait_for()
            expect(page.get_by_test_id("stChatMessage").first).to_contain_text(QUESTION)
            assert page.url.split("?")[1] == address.split("?")[1]
            page.screenshot(path=tmp_path / "2-restarted.png")
