"""The `sleuth` commands ingest, watch, search, collections and stats, run in-process."""

import json
import re

import click
import pytest
import typer
from typer.testing import CliRunner

from app import cli
from app.cli import app
from ingest.embedding import DEFAULT_MODEL
from ingest.embedding import shared_embedder as embedder_of
from tests.ingest.conftest import sentences, write_pdf
from vectorstore import Database

runner = CliRunner()


@pytest.fixture
def data(tmp_path, embedder, monkeypatch):
    """SLEUTH_DATA_DIR pointed at a fresh folder (the model is shared with the session)."""
    folder = tmp_path / "data"
    monkeypatch.setenv("SLEUTH_DATA_DIR", str(folder))
    return folder


def sleuth(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_ingest_search_collections_stats(docs, data):
    pages = [sentences("weather", 5), "Penguins huddle together to survive the polar winter."]
    write_pdf(docs / "animals.pdf", pages)
    (docs / "notes.md").write_text(f"# Notes\n\n{sentences('gardening', 4)}\n")

    result = sleuth("ingest", str(docs), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged, 0 removed, 0 failed" in result.output

    result = sleuth("search", "how do penguins survive winter?", "-k", "1")
    assert result.exit_code == 0
    assert f"{docs / 'animals.pdf'}, page 2" in result.output
    assert "Penguins huddle together" in result.output

    where = json.dumps({"file_type": "markdown"})
    result = sleuth("search", "penguins", "-k", "3", "--where", where)
    assert "animals.pdf" not in result.output and "notes.md, Notes" in result.output

    result = sleuth("collections")
    assert "docs" in result.output and "all-MiniLM-L6" in result.output

    result = sleuth("stats")
    assert result.exit_code == 0 and "documents" in result.output

    result = sleuth("ingest", str(docs), "--workers", "0")
    assert "0 added, 0 updated, 2 unchanged" in result.output


def test_a_run_with_nothing_to_do_loads_no_model(docs, data, monkeypatch):
    (docs / "a.md").write_text(f"# A\n\n{sentences('tides', 3)}\n")
    (docs / "b.md").write_text(f"# B\n\n{sentences('ferns', 3)}\n")
    assert sleuth("ingest", str(docs), "--workers", "0").exit_code == 0
    loads = []
    monkeypatch.setattr(cli, "shared_embedder", lambda *a: loads.append(a) or embedder_of(*a))
    result = sleuth("ingest", str(docs), "--workers", "0")
    assert "0 added, 0 updated, 2 unchanged, 0 removed, 0 failed" in result.output
    assert result.exit_code == 0 and loads == []
    (docs / "b.md").unlink()
    result = sleuth("ingest", str(docs), "--workers", "0")
    assert "0 added, 0 updated, 1 unchanged, 1 removed, 0 failed" in result.output
    assert len(loads) == 1


def test_failed_files_are_listed_and_exit_two(docs, data):
    (docs / "ok.txt").write_text("fine words")
    (docs / "bad.txt").write_bytes(bytes(range(256)) * 8)
    result = sleuth("ingest", str(docs), "--workers", "0")
    assert result.exit_code == 2
    assert f"failed {docs / 'bad.txt'}: binary content, not text (named .txt)" in result.output
    assert "1 added" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "x", "--where", "{bad"), "error: --where is not valid JSON"),
        (("search", "x", "--where", '{"page": {"$near": 1}}'), "error: where.page.$near"),
        (("stats", "--collection", "missing"), "error: collection 'missing' not found"),
        (("ingest", ".", "--collection", "small"), "error: collection 'small' holds vectors"),
    ],
)
def test_errors_are_one_line_with_exit_one(docs, data, args, message):
    with Database(data) as db:
        db.create_collection("docs", dim=384, metadata={"embedding_model": DEFAULT_MODEL})
        db.create_collection("small", dim=8).upsert(["a"], [[1.0] * 8])
    result = sleuth(*args)
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1


def test_every_command_is_documented():
    commands = typer.main.get_command(app).commands
    assert {"ingest", "watch", "search", "collections", "stats"} <= set(commands)
    for name, command in commands.items():
        assert command.help, f"{name} has no help"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.name} has no help"


def test_search_modes_and_reindex(docs, data, embedder, monkeypatch):
    (docs / "ops.md").write_text("# Limits\n\nSet --max-connections to cap client sessions.\n\n"
                                 "# Errors\n\nSQLSTATE 23505 means a duplicate key.\n")
    with Database(data) as db:  # as made before text indexes existed
        db.create_collection("docs", dim=embedder.dim, text=False)
    assert sleuth("ingest", str(docs), "--workers", "0").exit_code == 0
    assert re.search(r"text_index +│ none", sleuth("stats").output)
    result = sleuth("search", "23505", "-k", "1")
    assert "SQLSTATE 23505" in result.output and "(vector #1)" in result.output
    result = sleuth("search", "23505", "--mode", "text")
    assert result.exit_code == 1 and "has none" in result.output and "reindex" in result.output

    result = sleuth("reindex", "--text-only")
    assert result.exit_code == 0 and "rebuilt from 2 chunks" in result.output
    assert re.search(r"text_index +│ bm25f", sleuth("stats").output)
    result = sleuth("search", "23505", "-k", "1")
    assert "SQLSTATE 23505" in result.output and "(vector #1, text #1)" in result.output
    loads = []
    monkeypatch.setattr(cli, "shared_embedder", lambda *a: loads.append(a) or embedder_of(*a))
    result = sleuth("search", "--mode", "text", "-k", "2", "--", "--max-connections")
    assert result.exit_code == 0 and loads == []  # words only: no model loaded
    assert "Set --max-connections" in result.output and "(text #1)" in result.output
    assert "2. " not in result.output
    result = sleuth("search", "the", "--mode", "text")
    assert result.exit_code == 1 and "no searchable terms" in result.output


def test_reindex_switches_the_recipe_shown_by_collections(docs, data, monkeypatch):
    monkeypatch.setattr(cli.console, "width", 200)
    (docs / "a.md").write_text(f"# Tides\n\n{sentences('tides', 6)}\n")
    assert sleuth("ingest", str(docs), "--workers", "0").exit_code == 0
    with Database(data) as db:  # as a collection made before recipes: bare chunks
        db.get_collection("docs").update_metadata({"recipe": {"template": "{text}",
                                                              "version": 0}})
    assert "bare text; chunks of unknown size; v0" in sleuth("collections").output
    result = sleuth("reindex")
    assert result.exit_code == 0, result.output
    assert "reindexed 'docs': 1 chunks (1 embedded)" in result.output
    shown = sleuth("collections").output
    assert "title + headings + text; chunks of unknown size; v1" in shown
    with Database(data) as db:  # a collection made before text search gets a text index too
        db.create_collection("plain", dim=db.get_collection("docs").dim, text=False)
    assert sleuth("ingest", str(docs), "-c", "plain", "--workers", "0").exit_code == 0
    assert "1 chunks (0 embedded, 1 carried over)" in sleuth("reindex", "-c", "plain").output
    assert re.search(r"text_index +│ bm25f", sleuth("stats", "-c", "plain").output)
    result = runner.invoke(app, ["reindex", "--model", "no/such-model"])
    assert result.exit_code == 1 and "not available" in result.output
    result = runner.invoke(app, ["reindex", "--collection", "nope"])
    assert result.exit_code == 1 and "'nope' not found" in result.output
