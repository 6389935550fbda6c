"""Hostile uploads through a real server over HTTP: a zip-bomb DOCX, a PDF of 100,000
empty pages and a 200 MB text file each fail with the limit they broke, while a small
upload sent after each completes; with default settings the 200 MB file is refused on
arrival. Each hostile file is generated in the test's temp dir in a second or two."""

import time

import pytest

from app.client import ApiError
from tests.hostile import big_text, empty_pages_pdf, zip_bomb_docx
from tests.ingest.conftest import sentences
from tests.servers import Server

pytestmark = pytest.mark.slow

JOB_SECONDS = 300


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return {
        "max_zip_ratio": zip_bomb_docx(folder / "bomb.docx"),
        "max_pdf_pages": empty_pages_pdf(folder / "blank.pdf", 100_000),
        "max_file_chars": big_text(folder / "huge.txt", 200 << 20),
    }


def test_hostile_files_fail_on_their_limits_while_small_uploads_complete(tmp_path, hostile):
    # Uploads big enough for the 200 MB file to reach extraction; extraction limits default.
    with Server(tmp_path / "data", max_upload_bytes=256 << 20, max_request_bytes=300 << 20,
                ingest_jobs=2) as server:
        client = server.ready()
        client.create_collection("docs")
        busy = client.upload("docs", [("long.md", f"# Long\n\n{sentences('tides', 3000)}\n"
                                       .encode())])
        for limit, path in hostile.items():
            started = time.monotonic()
            job = client.upload("docs", [path])
            small = client.upload("docs", [(f"after-{path.name}.md",
                                            f"# After\n\nSent after {path.name}.\n".encode())])
            assert client.wait_for_job(small.id, timeout=JOB_SECONDS).status == "done"
            small_done = time.monotonic() - started
            (failed,) = client.wait_for_job(job.id, timeout=JOB_SECONDS).files
            assert failed.status == "failed" and f"({limit})" in failed.reason, failed
            print(f"\n{path.name} ({path.stat().st_size:,} bytes): failed within "
                  f"{time.monotonic() - started:.1f} s of its upload: {failed.reason}; the "
                  f"small upload sent after it done at {small_done:.1f} s")
        client.cancel_job(busy.id)
        client.wait_for_job(busy.id, timeout=JOB_SECONDS)
        names = {d.source for d in client.list_documents("docs").documents}
        assert names <= {"long.md"} | {f"after-{p.name}.md" for p in hostile.values()}
        assert {f"after-{p.name}.md" for p in hostile.values()} <= names
        stored = list((tmp_path / "data" / "uploads" / "docs").iterdir())
        assert len(stored) == len(names), "hostile files are not kept"


def test_with_default_limits_a_200_mb_file_is_refused_on_arrival(tmp_path, hostile):
    with Server(tmp_path / "data") as server:
        client = server.ready()
        client.create_collection("docs")
        with pytest.raises(ApiError) as refused:
            client.upload("docs", [hostile["max_file_chars"]])
        assert refused.value.status == 413
        assert "(max_request_bytes)" in refused.value.detail
        mixed = client.upload("docs", [("a.md", b"# A\n\nAlpha words.\n"),
                                       ("huge.txt", b"x" * ((20 << 20) + 1)),
                                       ("b.md", b"# B\n\nBeta words.\n")])
        assert [f.status for f in mixed.files][1] == "failed"
        assert "upload limit of 20 MiB" in mixed.files[1].reason
        done = client.wait_for_job(mixed.id, timeout=JOB_SECONDS)
        assert [f.status for f in done.files] == ["done", "failed", "done"]
    assert not (tmp_path / "data" / "uploads" / "docs" / "huge.txt").exists()
