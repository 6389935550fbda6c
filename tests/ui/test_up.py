"""`sleuth up`: ingest a folder, serve the API and the page, stop both on Ctrl-C, even
when started as a background job (SIGINT ignored); no model is left in the supervisor."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from app.client import SleuthClient
from sample_docs.generate import DOCUMENTS
from sample_docs.render import write
from tests.processes import children_of, gone, ignore_sigint
from tests.ui.conftest import free_port, wait_until

SLEUTH = str(Path(sys.executable).parent / "sleuth")


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None


def test_sleuth_up_ingests_serves_both_and_stops_on_ctrl_c(tmp_path):
    folder = tmp_path / "docs"
    write(next(d for d in DOCUMENTS if d.path == "hr/remote-work.md"), folder)
    api_port, ui_port = free_port(), free_port()
    log_path = tmp_path / "up.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [SLEUTH, "up", str(folder), "--data", str(tmp_path / "data"),
             "--api-port", str(api_port), "--ui-port", str(ui_port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "HF_HUB_OFFLINE": "1"}, preexec_fn=ignore_sigint,
        )
        children: list[int] = []
        try:
            wait_until(lambda: "Ctrl-C stops both" in log_path.read_text()
                       or process.poll() is not None, timeout=180)
            out = log_path.read_text()
            assert process.poll() is None, out
            assert "1 added" in out
            assert f"API http://127.0.0.1:{api_port}/docs" in out
            assert f"UI  http://127.0.0.1:{ui_port}" in out
            assert _status(f"http://127.0.0.1:{ui_port}/_stcore/health") == 200
            with SleuthClient(f"http://127.0.0.1:{api_port}") as client:
                hits = client.search("docs", "home office stipend", k=1).hits
            assert hits[0].source.endswith("hr/remote-work.md")
            children = children_of(process.pid)
            assert len(children) == 2  # the API and the page; the ingest child has ended
            assert "torch" not in Path(f"/proc/{process.pid}/maps").read_text()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
    assert code == 0, log_path.read_text()
    assert all(gone(child) for child in children)
    assert _status(f"http://127.0.0.1:{api_port}/health") is None
    assert _status(f"http://127.0.0.1:{ui_port}/_stcore/health") is None
