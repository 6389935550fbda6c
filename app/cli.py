"""The `sleuth` command line: ingest, watch, search, reindex, collections, stats, serve, mcp,
ui, up.

Thin on purpose: each command opens the library objects, calls them, and renders the
result with rich. Domain errors become one-line messages and exit code 1, here only.
"""

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from app.client import SleuthClient
from app.serve import serve
from app.settings import get_settings
from app.startup import CannotStart, check_data_dir, check_folder, check_port
from app.supervise import Supervisor, supervised
from app.terminal import console, errors, fail, one_line_errors
from ingest.embedding import Embedder, shared_embedder
from ingest.files import FileSelector
from ingest.pipeline import Ingestor
from ingest.plan import make_plan
from ingest.reindex import ReindexProgress
from ingest.reindex import reindex as reindex_collection
from ingest.report import IngestReport
from ingest.report import Progress as IngestProgress
from ingest.store import (
    MODEL_KEY,
    count_documents,
    open_collection,
    recorded_model,
    recorded_recipe,
)
from ingest.watch import watch as watch_folder
from vectorstore import Database

app = typer.Typer(
    help="Sleuth: local-first document retrieval for RAG.",
    no_args_is_help=True,
    add_completion=False,
)

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
ClusterAddress = Annotated[
    str | None,
    typer.Option("--cluster", envvar="SLEUTH_CLUSTER",
                 help="Ray cluster address (host:port, or auto): the collection is sharded and "
                 "replicated over it, and ingest runs on Ray Data."),
]


def _store(data: Path, cluster: str | None):
    """The local store in `data`, or the distributed collections of a Ray cluster (a
    collection made here keeps its replicas under SLEUTH_CLUSTER_DATA_DIR on each node,
    as one made through `sleuth serve --cluster` does)."""
    if cluster is None:
        return Database(data)
    from cluster.database import connect

    return connect(cluster, os.environ.get("SLEUTH_CLUSTER_DATA_DIR"))


def _embedder(db: Database, collection: str, model: str | None) -> Embedder:
    return shared_embedder(model or recorded_model(db, collection))


def _ingestor(db, collection, model, include, exclude, workers, cluster=None):
    """The pipeline for the store: in this process, or on Ray Data for a cluster; held to
    the extraction limits the server settings give (SLEUTH_MAX_*)."""
    embedder = _embedder(db, collection, model)
    target = open_collection(db, collection, embedder)
    selector = FileSelector(include, exclude or ())
    limits = get_settings().limits
    if cluster is None:
        return Ingestor(target, embedder, selector=selector, workers=workers, limits=limits)
    from cluster.ingest import RayIngestor

    return nullcontext(RayIngestor(target, embedder, selector=selector, limits=limits))


def _print_report(report: IngestReport) -> None:
    for result in report.results:
        if result.status == "failed":
            errors.print(f"[red]failed[/red] {result.path}: {result.reason}", highlight=False)
        for warning in result.warnings:
            errors.print(f"[yellow]warning[/yellow] {result.path}: {warning}", highlight=False)
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
    cluster: ClusterAddress = None,
) -> None:
    """Ingest files and folders: new and changed files are embedded, removed ones dropped.

    Exits 0 when every file went in, 2 when some failed (each listed with its reason and
    the rest ingested), 1 on an error that stopped the run. With --cluster the files are
    parsed, embedded and written on the Ray cluster (Ray Data).
    """
    with one_line_errors(), _store(data, cluster) as db:
        report = None if model else _report_if_nothing_to_do(db, collection, paths,
                                                             FileSelector(include, exclude or ()))
        if report is None:
            with (
                _ingestor(db, collection, model, include, exclude, workers, cluster) as ingestor,
                _progress_bar() as show,
            ):
                report = ingestor.ingest(paths, progress=show)
    _print_report(report)
    if report.of("failed"):
        raise typer.Exit(2)


def _report_if_nothing_to_do(db: Database, collection: str, paths: list[Path],
                             selector: FileSelector) -> IngestReport | None:
    """The report of a run in which no file is new, changed or removed, made without
    loading the model (seconds saved on every `sleuth up` after the first); None when
    there is work to do."""
    started = time.perf_counter()
    if collection not in db or MODEL_KEY not in db.get_collection(collection).metadata:
        return None  # new, or not made by ingest: the Ingestor creates or refuses it
    plan = make_plan(paths, db.get_collection(collection), selector)
    if plan.tasks or plan.removals:
        return None
    return IngestReport(results=plan.results, seconds=time.perf_counter() - started)


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
        one_line_errors(),
        Database(data) as db,
        _ingestor(db, collection, model, include, exclude, workers) as ingestor,
    ):
        console.print(f"watching {path.resolve()} (Ctrl-C to stop)", highlight=False)

        seen_failures: set[tuple[str, str]] = set()

        def on_sync(report: IngestReport) -> None:
            failures = {(r.path, r.reason) for r in report.of("failed")}
            changed = any(r.status in ("added", "updated", "removed") for r in report.results)
            if changed or not failures <= seen_failures:
                _print_report(report)
            seen_failures.update(failures)

        watch_folder(ingestor, path, on_sync=on_sync, ignore=[data])


class SearchMode(StrEnum):
    hybrid = "hybrid"
    vector = "vector"
    text = "text"


def _components(hit) -> str:
    """Where a hit stood in each ranking that found it, e.g. " (vector #3, text #1)"."""
    parts = [f"{name} #{rank}" for name, rank in (("vector", hit.vector_rank),
                                                  ("text", hit.text_rank)) if rank is not None]
    return f" ({', '.join(parts)})" if parts else ""


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    where: Annotated[
        str | None, typer.Option(help='Filter as JSON, e.g. \'{"page": {"$gte": 3}}\'.')
    ] = None,
    mode: Annotated[
        SearchMode | None,
        typer.Option(help="hybrid: meaning and words fused; vector: meaning only; text: "
                     "words only (no model loaded). Default: hybrid, or vector when the "
                     "collection has no text index or the question only stopwords."),
    ] = None,
    collection: CollectionName = "docs",
    data: DataDir = Path("data"),
) -> None:
    """Print the passages that best answer a question, with source and page."""
    with one_line_errors(), Database(data) as db:
        where_filter = _parse_where(where)
        target = db.get_collection(collection)
        mode_name = None if mode is None else mode.value
        vector = None if mode_name == "text" else \
            _embedder(db, collection, None).embed_query(question)
        hits = target.search(vector, k=k, where=where_filter, text=question, mode=mode_name)
        if not hits:
            console.print("no matching passages")
        for rank, hit in enumerate(hits, start=1):
            score = f"[dim]score {hit.score:.3f}{_components(hit)}[/dim]"
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
    parts = [payload.get("path") or payload.get("source", "?")]
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
    """List the collections with their size, embedding model and recipe."""
    with one_line_errors(), Database(data) as db:
        table = Table("collection", "chunks", "documents", Column("model", no_wrap=True),
                      "dim", "recipe")
        for name in db.list_collections():
            col = db.get_collection(name)
            model = col.metadata.get(MODEL_KEY, "-")
            documents = count_documents(col)
            recipe = recorded_recipe(col).describe() if MODEL_KEY in col.metadata else "-"
            table.add_row(name, str(col.count()), str(documents), model, str(col.dim), recipe)
        console.print(table)


@app.command()
def stats(collection: CollectionName = "docs", data: DataDir = Path("data")) -> None:
    """Show a collection's store statistics and its documents by file type."""
    with one_line_errors(), Database(data) as db:
        col = db.get_collection(collection)
        table = Table("statistic", "value")
        for key, value in col.stats().items():
            table.add_row(str(key), str(value))
        table.add_row("documents", str(count_documents(col)))
        for file_type, count in sorted(col.facet("file_type").items()):
            table.add_row(f"chunks of {file_type}", str(count))
        console.print(table)


@app.command()
def reindex(
    collection: CollectionName = "docs",
    data: DataDir = Path("data"),
    model: Model = None,
    template: Annotated[str | None, typer.Option(
        help="Context template: {title}, {headings}, then {text} last [default: title and "
        "headings before the text].")] = None,
    text_only: Annotated[bool, typer.Option(
        "--text-only", help="Only rebuild the text index in place (no model; writes wait)."
    )] = False,
) -> None:
    """Rebuild a collection from its stored chunks: re-embedded by a model or recipe into a
    new generation, with a text index (also for a collection made before text search).

    Searches go on against the current generation meanwhile; the switch is atomic. Stopped
    or killed, the collection stays as it was, and the next run resumes. `--text-only`
    rebuilds just the text index, in place.
    """
    with one_line_errors(), Database(data) as db:
        if collection not in db:
            fail(f"collection {collection!r} not found")
            raise typer.Exit(1)
        if text_only:
            target = db.get_collection(collection)
            started = time.monotonic()
            with console.status(f"indexing the text of {target.count()} chunks"):
                target.build_text_index(target.config.text or True)
            console.print(f"text index of {collection!r} rebuilt from {target.count()} chunks "
                          f"in {time.monotonic() - started:.1f}s", highlight=False)
            return
        embedder = _embedder(db, collection, model)
        columns = (TextColumn("[bold]reindexing (pass {task.fields[passes]})"), BarColumn(),
                   MofNCompleteColumn(), TextColumn("chunks"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("reindex", total=None, passes=1)

            def show(p: ReindexProgress) -> None:
                bar.update(task, total=p.total, completed=p.done, passes=p.passes)

            report = reindex_collection(db, collection, embedder, template=template,
                                        progress=show)
    console.print(report.summary(), highlight=False)


app.command()(serve)

cluster_app = typer.Typer(help="Collections sharded and replicated over a Ray cluster.",
                          no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("status")
def cluster_status(cluster: ClusterAddress = "auto") -> None:
    """Show the cluster's nodes and each collection's shards and replicas: node, role,
    records, bytes on disk and health."""
    with one_line_errors():
        from cluster.database import connect
        from cluster.status import nodes, replica_rows

        db = connect(cluster)
        table = Table("node", "address", "alive", "CPUs", "object store")
        for node in nodes():
            table.add_row(node["node"][:12], node["address"], str(node["alive"]),
                          f"{node['cpus']:g}", f"{node['object_store_bytes'] / 2**20:.0f} MiB")
        console.print(table)
        table = Table("collection", "shard", "replica", "role", "node", "records", "disk",
                      "health")
        for row in replica_rows(db):
            disk = "-" if row.disk_bytes is None else f"{row.disk_bytes / 2**20:.1f} MiB"
            table.add_row(row.collection, str(row.shard), str(row.replica), row.role,
                          (row.node or "-")[:12], _dash(row.records), disk, row.health or "-")
        console.print(table)


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


@app.command()
def mcp(
    data: DataDir = Path("data"),
    collection: Annotated[
        str, typer.Option("--collection", "-c", help="Default collection of the tools.")
    ] = "docs",
    allow_ingest: Annotated[
        bool, typer.Option(help="Add the ingest and delete_document tools (or SLEUTH_MCP_INGEST).")
    ] = False,
) -> None:
    """Serve Sleuth to an MCP client (Claude Desktop, IDE agents) over stdio.

    Tools: search, list_collections, list_documents, get_passage; documents as resources.
    The API serves the same at /mcp over streamable HTTP.
    """
    if importlib.util.find_spec("mcp") is None:
        fail("the MCP server needs the extra: pip install 'sleuth[mcp]'")
        raise typer.Exit(1)
    from app.mcp_server import run_stdio
    from app.settings import Settings

    overrides = {"mcp_ingest": True} if allow_ingest else {}
    with one_line_errors():
        settings = Settings(data_dir=data, **overrides)
        check_data_dir(settings.data_dir)
        run_stdio(settings, collection)


HOST = "127.0.0.1"
UI_FLAGS = ("--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal")
"""Streamlit without a browser, telemetry, file watching or developer menu: a server."""


def _sleuth(*args: str) -> list[str]:
    """This `sleuth` as a child process (same interpreter and environment)."""
    return [sys.executable, "-m", "app", *args]


def _ui_command(port: int) -> list[str]:
    """The Streamlit page on HOST:`port`."""
    page = importlib.util.find_spec("ui.page").origin
    return [sys.executable, "-m", "streamlit", "run", page, *UI_FLAGS,
            "--server.address", HOST, "--server.port", str(port)]


@app.command()
def ui(
    api: Annotated[str, typer.Option(help="URL of the Sleuth API.")] = "http://127.0.0.1:8000",
    port: Annotated[int, typer.Option(help="Port of the page on 127.0.0.1.")] = 8501,
    history: Annotated[Path, typer.Option(
        help="SQLite file of the page's conversations (created if missing).")] = Path(
        "data/conversations.sqlite3"),
) -> None:
    """Run the chat-search page against a running API (Ctrl-C stops)."""
    with one_line_errors():
        check_port(HOST, port, "--port")
    console.print(f"UI  http://{HOST}:{port}", highlight=False)
    with supervised() as children:
        children.start("the page", _ui_command(port), env=_ui_env(api, history))
        _end_with(children)


def _ui_env(api_url: str, history: Path) -> dict[str, str]:
    """The page's environment: this one, plus where the API is and the conversations are."""
    return {**os.environ, "SLEUTH_API_URL": api_url, "SLEUTH_HISTORY": str(history.resolve())}


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
    """Ingest PATH (unchanged files skipped), then run the API and the UI until Ctrl-C.

    The page keeps its conversations in DATA/conversations.sqlite3.

    A missing PATH, a taken port or a data directory in use or not writable: one line, exit 1.
    """
    # The ingest runs in a child process that ends before the API starts: one model is in
    # memory at a time, and this process, which lives as long as the others, holds none.
    with one_line_errors():
        check_folder(path, "folder to ingest")
        if api_port == ui_port:
            raise CannotStart(f"--api-port and --ui-port are both {api_port}")
        check_port(HOST, api_port, "--api-port")
        check_port(HOST, ui_port, "--ui-port")
        check_data_dir(data)
    api_url = f"http://{HOST}:{api_port}"
    with supervised() as children:
        ingest_command = _sleuth("ingest", str(path), "--collection", collection,
                                 "--data", str(data))
        ingested = children.run("the ingest", ingest_command)
        if ingested not in (0, 2):  # 2: some files failed, each reported; the rest is in
            raise typer.Exit(1)  # the ingest said why
        api_command = _sleuth("serve", "--host", HOST, "--port", str(api_port),
                              "--data", str(data), "--log-level", "warning")
        children.start("the API", api_command)
        children.start("the page", _ui_command(ui_port),
                       env=_ui_env(api_url, data / "conversations.sqlite3"))
        _await_api(api_url, children)
        console.print(f"API {api_url}/docs", highlight=False)
        console.print(f"UI  http://{HOST}:{ui_port}   (Ctrl-C stops both)", highlight=False)
        _end_with(children)


def _await_api(url: str, children: Supervisor, timeout: float = 180.0) -> None:
    """Poll the API's /health until ready; exit 1 if a child ends or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    with SleuthClient(url) as client:
        while all(c.poll() is None for c in children.children):
            try:
                if client.health().serving:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                fail(f"the API at {url} was not ready after {timeout:.0f} s")
                raise typer.Exit(1)
            time.sleep(0.5)
    ended = children.wait_for_any()
    fail(f"{children.names[ended.pid]} exited with {ended.returncode} before the API was ready")
    raise typer.Exit(1)


def _end_with(children: Supervisor) -> None:
    """Return when a child ends on its own (the others are stopped on the way out); exit 1,
    naming it, if it failed."""
    child = children.wait_for_any()
    if child.returncode:
        fail(f"{children.names[child.pid]} exited with {child.returncode}")
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point (`sleuth`); runs offline unless told otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()
