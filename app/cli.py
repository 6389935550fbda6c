"""The `sleuth` command line: ingest, watch, search, collections, stats, serve, ui and up.

Thin on purpose: each command opens the library objects, calls them, and renders the
result with rich. Domain errors become one-line messages and exit code 1, here only.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.client import SleuthClient
from app.serve import serve
from ingest.embedding import Embedder, shared_embedder
from ingest.errors import IngestError
from ingest.files import FileSelector
from ingest.pipeline import Ingestor
from ingest.report import IngestReport
from ingest.report import Progress as IngestProgress
from ingest.store import MODEL_KEY, open_collection, recorded_model
from ingest.watch import watch as watch_folder
from vectorstore import Database
from vectorstore.errors import VectorStoreError

app = typer.Typer(
    help="Sleuth: local-first document retrieval for RAG.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path,
    typer.Option("--data", envvar="SLEUTH_DATA_DIR", help="Data directory of the store."),
]
CollectionName = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
Model = Annotated[
    str | None,
    typer.Option(help="Embedding model name or path [default: the collection's, else MiniLM]."),
]
Include = Annotated[
    list[str] | None, typer.Option("--include", help="Glob of files to take (repeatable).")
]
Exclude = Annotated[
    list[str] | None, typer.Option("--exclude", help="Glob of files to skip (repeatable).")
]
Workers = Annotated[int | None, typer.Option(help="Parser processes [default: cores - 1].")]


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Map the errors a user can cause to `error: ...` on stderr and exit code 1."""
    try:
        yield
    except (VectorStoreError, IngestError, ValueError, OSError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        errors.print(f"[red]error:[/red] {message}", highlight=False)
        raise typer.Exit(1) from None


def _embedder(db: Database, collection: str, model: str | None) -> Embedder:
    return shared_embedder(model or recorded_model(db, collection))


def _ingestor(db, collection, model, include, exclude, workers) -> Ingestor:
    embedder = _embedder(db, collection, model)
    return Ingestor(
        open_collection(db, collection, embedder),
        embedder,
        selector=FileSelector(include, exclude or ()),
        workers=workers,
    )


def _print_report(report: IngestReport) -> None:
    for result in report.results:
        if result.status == "failed":
            errors.print(f"[red]failed[/red] {result.source}: {result.reason}", highlight=False)
        for warning in result.warnings:
            errors.print(f"[yellow]warning[/yellow] {result.source}: {warning}", highlight=False)
    console.print(report.summary(), highlight=False)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to ingest.")],
    collection: CollectionName = "docs",
    data: DataDir = Path("data"),
    model: Model = None,
    include: Include = None,
    exclude: Exclude = None,
    workers: Workers = None,
) -> None:
    """Ingest files and folders: new and changed files are embedded, removed ones dropped.

    Exits 0 when every file went in, 2 when some failed (each listed with its reason and
    the rest ingested), 1 on an error that stopped the run.
    """
    with (
        _one_line_errors(),
        Database(data) as db,
        _ingestor(db, collection, model, include, exclude, workers) as ingestor,
        _progress_bar() as show,
    ):
        report = ingestor.ingest(paths, progress=show)
    _print_report(report)
    if report.of("failed"):
        raise typer.Exit(2)


@contextmanager
def _progress_bar() -> Iterator[Callable[[IngestProgress], None]]:
    """A transient bar of files done, chunks written and chunks per second."""
    columns = (
        TextColumn("[bold]ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files  {task.fields[chunks]} chunks  {task.fields[rate]:.1f} chunks/s"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("ingest", total=None, chunks=0, rate=0.0)

        def show(p: IngestProgress) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = p.chunks / elapsed if elapsed else 0.0
            done, total = p.files_done, p.files_total
            bar.update(task, total=total, completed=done, chunks=p.chunks, rate=rate)

        yield show


@app.command()
def watch(
    path: Annotated[Path, typer.Argument(help="Folder to keep in sync.")],
    collection: CollectionName = "docs",
    data: DataDir = Path("data"),
    model: Model = None,
    include: Include = None,
    exclude: Exclude = None,
    workers: Workers = None,
) -> None:
    """Keep a folder in sync: every change is ingested within seconds (Ctrl-C stops)."""
    with (
        _one_line_errors(),
        Database(data) as db,
        _ingestor(db, collection, model, include, exclude, workers) as ingestor,
    ):
        console.print(f"watching {path.resolve()} (Ctrl-C to stop)", highlight=False)

        seen_failures: set[tuple[str, str]] = set()

        def on_sync(report: IngestReport) -> None:
            failures = {(r.source, r.reason) for r in report.of("failed")}
            changed = any(r.status in ("added", "updated", "removed") for r in report.results)
            if changed or not failures <= seen_failures:
                _print_report(report)
            seen_failures.update(failures)

        watch_folder(ingestor, path, on_sync=on_sync, ignore=[data])


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    where: Annotated[
        str | None, typer.Option(help='Filter as JSON, e.g. \'{"page": {"$gte": 3}}\'.')
    ] = None,
    collection: CollectionName = "docs",
    data: DataDir = Path("data"),
) -> None:
    """Print the passages that best answer a question, with source and page."""
    with _one_line_errors(), Database(data) as db:
        where_filter = _parse_where(where)
        target = db.get_collection(collection)
        embedder = _embedder(db, collection, None)
        hits = target.search(embedder.embed_query(question), k=k, where=where_filter)
        if not hits:
            console.print("no matching passages")
        for rank, hit in enumerate(hits, start=1):
            score = f"[dim]score {hit.score:.3f}[/dim]"
            console.print(f"[bold]{rank}.[/bold] {_citation(hit.payload)}  {score}")
            console.print(f"   {_snippet(hit.payload.get('text', ''))}", highlight=False)


def _parse_where(where: str | None) -> dict | None:
    if where is None:
        return None
    try:
        parsed = json.loads(where)
    except json.JSONDecodeError as e:
        raise ValueError(f"--where is not valid JSON: {e}") from e
    if not isinstance(parsed, dict):
        raise ValueError("--where must be a JSON object")
    return parsed


def _citation(payload: dict) -> str:
    parts = [payload.get("source", "?")]
    if payload.get("page") is not None:
        parts.append(f"page {payload['page']}")
    if payload.get("heading_path"):
        parts.append(" > ".join(payload["heading_path"]))
    return ", ".join(parts)


def _snippet(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"


@app.command()
def collections(data: DataDir = Path("data")) -> None:
    """List the collections with their size and embedding model."""
    with _one_line_errors(), Database(data) as db:
        table = Table("collection", "chunks", "documents", "model", "dim")
        for name in db.list_collections():
            col = db.get_collection(name)
            model = col.metadata.get(MODEL_KEY, "-")
            documents = len(col.facet("source"))
            table.add_row(name, str(col.count()), str(documents), model, str(col.dim))
        console.print(table)


@app.command()
def stats(collection: CollectionName = "docs", data: DataDir = Path("data")) -> None:
    """Show a collection's store statistics and its documents by file type."""
    with _one_line_errors(), Database(data) as db:
        col = db.get_collection(collection)
        table = Table("statistic", "value")
        for key, value in col.stats().items():
            table.add_row(str(key), str(value))
        table.add_row("documents", str(len(col.facet("source"))))
        for file_type, count in sorted(col.facet("file_type").items()):
            table.add_row(f"chunks of {file_type}", str(count))
        console.print(table)


app.command()(serve)


UI_FLAGS = ("--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal")
"""Streamlit without a browser, telemetry, file watching or developer menu: a server."""


def _ui_process(api_url: str, port: int) -> subprocess.Popen:
    """The Streamlit page as a child process on 127.0.0.1:`port`, talking to `api_url`."""
    page = importlib.util.find_spec("ui.page").origin
    command = [sys.executable, "-m", "streamlit", "run", page, *UI_FLAGS,
               "--server.address", "127.0.0.1", "--server.port", str(port)]
    return subprocess.Popen(command, env={**os.environ, "SLEUTH_API_URL": api_url})


@app.command()
def ui(
    api: Annotated[str, typer.Option(help="URL of the Sleuth API.")] = "http://127.0.0.1:8000",
    port: Annotated[int, typer.Option(help="Port of the page on 127.0.0.1.")] = 8501,
) -> None:
    """Run the chat-search page against a running API (Ctrl-C stops)."""
    console.print(f"UI  http://127.0.0.1:{port}", highlight=False)
    with _children() as children:
        children.append(_ui_process(api, port))
        _wait_for_exit(children)


@app.command()
def up(
    path: Annotated[Path, typer.Argument(help="Folder to ingest before serving.")] = Path(
        "sample_docs"
    ),
    collection: CollectionName = "docs",
    data: DataDir = Path("data"),
    api_port: Annotated[int, typer.Option(help="Port of the API on 127.0.0.1.")] = 8000,
    ui_port: Annotated[int, typer.Option(help="Port of the page on 127.0.0.1.")] = 8501,
) -> None:
    """Ingest PATH (unchanged files skipped), then run the API and the UI until Ctrl-C."""
    try:
        ingest([path], collection=collection, data=data)
    except typer.Exit as e:
        if e.exit_code != 2:  # 2: some files failed, each reported; the rest is in
            raise
    api_url = f"http://127.0.0.1:{api_port}"
    server = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
              "--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"]
    with _children() as children:
        children.append(subprocess.Popen(server, env={**os.environ, "SLEUTH_DATA_DIR": str(data)}))
        children.append(_ui_process(api_url, ui_port))
        if not _await_api(api_url, children):
            errors.print(f"[red]error:[/red] the API at {api_url} did not get ready")
            raise typer.Exit(1)
        console.print(f"API http://127.0.0.1:{api_port}/docs", highlight=False)
        console.print(f"UI  http://127.0.0.1:{ui_port}   (Ctrl-C stops both)", highlight=False)
        _wait_for_exit(children)


@contextmanager
def _children() -> Iterator[list[subprocess.Popen]]:
    """Child processes stopped on the way out: on Ctrl-C, SIGTERM, an error, or a child's end.

    Each gets SIGINT (a clean shutdown), then SIGKILL if still running after 10 seconds.
    """
    children: list[subprocess.Popen] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        yield children
    except KeyboardInterrupt:
        console.print("stopping", highlight=False)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        signal.signal(signal.SIGTERM, previous)


def _await_api(url: str, children: list[subprocess.Popen], timeout: float = 180.0) -> bool:
    """Poll the API's /health until ready: False if a child exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    with SleuthClient(url) as client:
        while time.monotonic() < deadline and all(c.poll() is None for c in children):
            try:
                if client.health().status == "ready":
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    return False


def _wait_for_exit(children: list[subprocess.Popen]) -> None:
    """Return when any child exits; a child that failed ends the command with its code."""
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    failed = [child for child in children if child.returncode]
    if failed:
        errors.print(f"[red]error:[/red] {failed[0].args[2]} exited with {failed[0].returncode}")
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point (`sleuth`); runs offline unless told otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()
