"""File operations never follow payload data: deleting a document whose chunks claim a path
outside `uploads/` (absolute, `..`, look-alike characters, symlinks planted in uploads/)
touches nothing outside it; the store's lock file survives and still keeps a second
server off the directory."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.client import ApiError
from vectorstore import Database
from vectorstore.errors import DatabaseLocked


def snapshot(root: Path, skip: Path) -> dict[str, str]:
    """Every file and link under `root` but `skip` (the store, which writes as it goes), with
    a digest of its content (or its link target)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        for name in files + [d for d in dirs if Path(folder, d).is_symlink()]:
            path = Path(folder, name)
            if path.is_symlink():
                found[str(path)] = "-> " + os.readlink(path)
            else:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def victims(tmp_path) -> Path:
    """Files a key holder must never be able to delete: outside the data directory."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me")
    (outside / "LOCK").write_text("not the store's")
    return outside


def payload_sources(data: Path, outside: Path) -> list[str]:
    """Where a hostile payload may claim its document's file lives."""
    uploads = data / "uploads"
    return [
        f"{uploads}/../LOCK",  # the exploit
        f"{uploads}/docs/../../LOCK",
        f"{uploads}/../collections",  # a folder: gave a 500
        f"{uploads}/../jobs.sqlite3",
        str(data / "LOCK"),  # absolute
        str(outside / "victim.txt"),
        f"{uploads}/docs/../../../outside/victim.txt",
        "../../outside/victim.txt",  # relative to wherever the server runs
        f"{uploads}\uff0f..\uff0fLOCK",  # fullwidth solidus, NFKC folds it to '/'
        f"{uploads}/\uff0e\uff0e/LOCK",  # fullwidth full stops: '..' after NFKC
        f"{uploads}/\u2024\u2024/LOCK",  # one dot leaders
        f"{uploads}/.\u200b./LOCK",  # a zero-width space inside '..'
    ]


def test_deleting_documents_with_hostile_sources_touches_nothing_outside_uploads(
    client, tmp_path, victims
):
    data = tmp_path / "data"
    client.create_collection("docs")
    job = client.wait_for_job(client.upload("docs", [("real.md", b"# Real\n\nWords.\n")]).id)
    before = snapshot(tmp_path, skip=data / "collections")
    sources = payload_sources(data, victims)
    for n, source in enumerate(sources):
        doc_id = f"evil{n}"
        client.upsert("docs", [f"{doc_id}:0"], [[0.1] * 384],
                      [{"doc_id": doc_id, "chunk_index": 0, "source": source, "path": source,
                        "filename": source, "stored": source}])
        client.delete_document("docs", doc_id)  # 204, never a 500
        with pytest.raises(ApiError):
            client.get_document("docs", doc_id)
    after = snapshot(tmp_path, skip=data / "collections")
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert {Path(k).name for k in changed} <= {"jobs.sqlite3", "jobs.sqlite3-wal",
                                               "jobs.sqlite3-shm"}, changed
    assert (data / "LOCK").read_text() == str(os.getpid())
    assert (victims / "victim.txt").read_text() == "keep me"
    with pytest.raises(DatabaseLocked):
        Database(data)
    assert client.get_document("docs", job.files[0].document_id).source == "real.md"


def test_a_second_server_on_the_directory_is_still_refused(client, tmp_path, victims):
    """The issue's exploit, end to end (uploads/ must exist for `uploads/..` to resolve)."""
    data = tmp_path / "data"
    client.create_collection("docs")
    client.wait_for_job(client.upload("docs", [("real.md", b"# Real\n\nWords.\n")]).id)
    client.upsert("docs", ["e:0"], [[0.1] * 384],
                  [{"doc_id": "e", "chunk_index": 0, "source": f"{data}/uploads/../LOCK"}])
    client.delete_document("docs", "e")
    sleuth = Path(sys.executable).with_name("sleuth")
    second = subprocess.run(
        [str(sleuth), "serve", "--port", "0", "--data", str(data)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert second.returncode != 0
    assert f"in use by process {os.getpid()}" in second.stdout + second.stderr


@pytest.mark.parametrize("document_id", [  # (a bare '..' is resolved by the client itself)
    "%2E%2E", "..%2FLOCK", "%2E%2E%2F%2E%2E%2FLOCK", "\uff0e\uff0e", "\u2024\u2024", "a" * 300,
])
def test_look_alike_document_ids_find_nothing(client, http, tmp_path, document_id):
    client.create_collection("docs")
    before = snapshot(tmp_path, skip=tmp_path / "data" / "collections")
    for method in ("GET", "DELETE"):
        response = http.request(method, f"/v1/collections/docs/documents/{document_id}")
        assert response.status_code == 404
        response = http.get(f"/v1/collections/docs/documents/{document_id}/file")
        assert response.status_code == 404
    assert snapshot(tmp_path, skip=tmp_path / "data" / "collections") == before


def uploaded(client, tmp_path) -> tuple[str, Path]:
    client.create_collection("docs")
    job = client.wait_for_job(client.upload("docs", [("real.md", b"# Real\n\nWords.\n")]).id)
    (stored,) = (tmp_path / "data" / "uploads" / "docs").iterdir()
    return job.files[0].document_id, stored


def test_a_symlink_planted_over_an_upload_is_removed_never_followed(client, tmp_path, victims):
    document_id, stored = uploaded(client, tmp_path)
    stored.unlink()
    stored.symlink_to(victims / "victim.txt")
    file_route = f"/v1/collections/docs/documents/{document_id}/file"
    assert client._http.get(file_route).status_code == 404  # not served through the link
    client.delete_document("docs", document_id)
    assert not os.path.lexists(stored)
    assert (victims / "victim.txt").read_text() == "keep me"


def test_a_symlinked_uploads_folder_is_never_followed(client, tmp_path, victims):
    document_id, stored = uploaded(client, tmp_path)
    folder = stored.parent
    # The collection's folder swapped for a link to a folder holding a file of that name.
    decoy = victims / "decoy"
    decoy.mkdir()
    (decoy / stored.name).write_text("decoy")
    stored.unlink()
    folder.rmdir()
    folder.symlink_to(decoy, target_is_directory=True)
    file_route = f"/v1/collections/docs/documents/{document_id}/file"
    assert client._http.get(file_route).status_code == 404
    client.delete_document("docs", document_id)
    assert (decoy / stored.name).read_text() == "decoy"
    with pytest.raises(ApiError) as refused:  # never written through the link either
        client.upload("docs", [("new.md", b"# New\n\nWords.\n")])
    assert refused.value.status == 503 and "not a plain folder" in refused.value.detail
    assert sorted(p.name for p in decoy.iterdir()) == [stored.name]
    client.delete_collection("docs")
    assert (decoy / stored.name).read_text() == "decoy"


def test_no_chunk_of_an_upload_holds_the_data_directory_path(client, tmp_path):
    """Whatever reads the chunks (search, raw records, integrations, MCP) never learns
    where the data directory is: an upload's chunks keep its original name only."""
    client.create_collection("docs")
    job = client.wait_for_job(client.upload("docs", [("notes.md", b"# Notes\n\nWords.\n")]).id)
    records = client.get_records("docs", where={"doc_id": job.files[0].document_id})
    assert records and all(r.payload["source"] == "notes.md" for r in records)
    assert all("path" not in r.payload for r in records)
    assert str(tmp_path) not in repr([r.payload for r in records])
    hit = client.search("docs", "notes", k=1).hits[0]
    assert str(tmp_path) not in hit.model_dump_json()
