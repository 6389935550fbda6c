"""Ingest throughput and quality per embedding backend: PyTorch, ONNX, ONNX int8.

    .venv/bin/python -m benchmarks.ingest [--docs 200] [--repeats 2] [--workers N]
                                          [--backends torch onnx onnx-int8] [--source sphinx]

Speed: generates a folder of `--docs` documents (Markdown, text, HTML, PDF and DOCX, a few
chunks each, fixed seed), then in each round, for each backend in turn (interleaved so
machine noise hits all alike):
  pipeline  Ingestor.ingest on the folder into a fresh store: planning, hashing, parsing
            in worker processes, chunking, embedding (chunks with context, batches sized
            by tokens), store writes, end to end;
  bare      SentenceTransformer.encode(texts, batch_size=32, normalize_embeddings=True)
            of that backend on exactly the texts the pipeline embedded, in one call.
Prints chunks/s (best round) per backend and each one's ratio to `torch`'s pipeline; the
issue's goal is the default backend's pipeline >= 2.0x torch's.

Quality: each backend ingests the `--source` of `../shared/datasets/qrels_dev/` (its HTML
pages, as `benchmarks.quality` does) with the default recipe and answers its queries in
vector mode: page-level nDCG@10, which must stay within 0.01 of torch's. `--source none`
skips it. Prints the load average at start and end.
"""

import argparse
import math
import os
import random
import tempfile
import time
from pathlib import Path

import docx
import numpy as np
from fpdf import FPDF
from rich.console import Console
from rich.table import Table

from ingest.embedding import BACKENDS, shared_embedder
from ingest.files import FileSelector
from ingest.pipeline import Ingestor, default_workers
from ingest.recipe import Contextualizer
from ingest.store import open_collection
from vectorstore import Collection, Database

WORDS = (
    "retrieval", "engine", "document", "index", "vector", "query", "answer", "source", "page",
    "chunk", "model", "token", "sentence", "paragraph", "heading", "search", "filter", "ranking",
    "citation", "folder", "storage", "segment", "latency", "memory", "embedding", "corpus",
    "archive", "report", "invoice", "contract", "policy", "research", "experiment", "result",
    "method", "analysis", "summary", "revenue", "customer", "product", "release",
)
KINDS = ("md", "md", "txt", "txt", "html", "pdf", "docx")


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def paragraphs(rng: random.Random, n: int) -> list[str]:
    return [" ".join(sentence(rng) for _ in range(rng.randint(4, 9))) for _ in range(n)]


def write_document(folder: Path, i: int, rng: random.Random) -> None:
    kind = KINDS[i % len(KINDS)]
    paras = paragraphs(rng, rng.randint(3, 10))
    path = folder / f"doc-{i:04d}.{kind}"
    if kind == "md":
        parts = "\n\n".join(f"## Part {j}\n\n{p}" for j, p in enumerate(paras))
        path.write_text(f"# Document {i}\n\n{parts}\n")
    elif kind == "txt":
        path.write_text("\n\n".join(paras))
    elif kind == "html":
        body = "".join(f"<h2>Part {j}</h2><p>{p}</p>" for j, p in enumerate(paras))
        head = f"<head><title>Doc {i}</title></head>"
        path.write_text(f"<html>{head}<body><nav>menu</nav>{body}</body></html>")
    elif kind == "pdf":
        pdf = FPDF()
        pdf.set_font("Helvetica", size=11)
        for p in paras:
            pdf.add_page()
            pdf.multi_cell(0, 6, p)
        path.write_bytes(bytes(pdf.output()))
    else:
        document = docx.Document()
        for j, p in enumerate(paras):
            document.add_heading(f"Part {j}", level=1)
            document.add_paragraph(p)
        document.save(str(path))


def run_pipeline(folder: Path, data: Path, embedder, workers: int,
                 selector: FileSelector | None = None) -> tuple[float, list[str], Collection]:
    """Ingest `folder` into a fresh store at `data`: seconds, the embedded texts, and the
    collection (the database stays open until the process ends; it is a benchmark)."""
    db = Database(data)
    collection = open_collection(db, "bench", embedder)
    started = time.perf_counter()
    with Ingestor(collection, embedder, workers=workers, selector=selector) as ingestor:
        report = ingestor.ingest([folder])
        context = Contextualizer(ingestor.recipe.template, embedder.tokenizer,
                                 embedder.max_tokens)
    seconds = time.perf_counter() - started
    assert not report.of("failed"), report.of("failed")[:3]
    texts = [context.embedded(r.payload.get("title") or "", r.payload.get("heading_path", []),
                              r.payload["text"]) for r in collection.get(where={}, limit=None)]
    return seconds, texts, collection


def run_bare(model, texts: list[str]) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def speed(args, embedders: dict, tmp: Path) -> None:
    rng = random.Random(7)
    folder = tmp / "docs"
    folder.mkdir()
    for i in range(args.docs):
        write_document(folder, i, rng)
    for embedder in embedders.values():
        embedder.model.encode(["warm up the model"] * 32, batch_size=32)
    pipeline = {b: [] for b in embedders}
    bare = {b: [] for b in embedders}
    chunks = 0
    for round_ in range(args.repeats):
        for backend, embedder in embedders.items():
            data = tmp / f"data-{backend}-{round_}"
            seconds, texts, _ = run_pipeline(folder, data, embedder, args.workers)
            pipeline[backend].append(seconds)
            bare[backend].append(run_bare(embedder.model, texts))
            chunks = len(texts)
    title = (f"ingest speed: {args.docs} documents, {chunks} chunks, {args.workers} parser "
             f"process(es), best of {args.repeats}")
    table = Table(title=title)
    for column in ("backend", "pipeline chunks/s", "x torch pipeline", "bare encode chunks/s",
                   "x torch bare", "pipeline rounds (s)"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    base = min(pipeline["torch"]) if "torch" in pipeline else math.nan
    base_bare = min(bare["torch"]) if "torch" in bare else math.nan
    for backend in embedders:
        p, b = min(pipeline[backend]), min(bare[backend])
        table.add_row(backend, f"{chunks / p:.1f}", f"{base / p:.2f}", f"{chunks / b:.1f}",
                      f"{base_bare / b:.2f}", " ".join(f"{s:.1f}" for s in pipeline[backend]))
    Console().print(table)


def quality(args, embedders: dict, tmp: Path) -> None:
    from benchmarks.quality.corpus import HTML_PAGES, read_chunks
    from benchmarks.quality.harness import score
    from benchmarks.quality.qrels import MissingData, load_source
    from benchmarks.quality.systems import Run, sleuth_vector

    try:
        source = load_source(args.source)
    except MissingData as e:
        print(f"quality skipped: {e}")
        return
    table = Table(title=f"vector-mode quality on {source.name} ({len(source.queries)} "
                        f"queries, {len(source.pages)} pages), default recipe")
    for column in ("backend", "chunks", "ingest chunks/s", "nDCG@10", "Recall@10",
                   "nDCG - torch"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    base = None
    texts = [q.text for q in source.queries]
    for backend, embedder in embedders.items():
        seconds, _, collection = run_pipeline(source.root, tmp / f"quality-{backend}", embedder,
                                              args.workers, HTML_PAGES)
        chunks = read_chunks(collection)
        vectors = np.stack([embedder.embed_query(t) for t in texts])
        result = score(backend, "default", source, sleuth_vector(Run(source, chunks, texts,
                                                                     vectors)), 0.0)
        base = result.ndcg if backend == "torch" else base
        delta = "" if base is None else f"{result.ndcg - base:+.4f}"
        table.add_row(backend, str(len(chunks.texts)), f"{len(chunks.texts) / seconds:.1f}",
                      f"{result.ndcg:.4f}", f"{result.recall:.4f}", delta)
        print(f"  {backend}: {len(chunks.texts)} chunks in {seconds:.0f}s, "
              f"nDCG@10 {result.ndcg:.4f}", flush=True)
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--source", default="sphinx",
                        help="qrels_dev source for nDCG@10 per backend, or 'none'")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print(f"load average at start: {loadavg()}", flush=True)
    embedders = {b: shared_embedder(backend=b) for b in args.backends}
    with tempfile.TemporaryDirectory(prefix="sleuth-bench-") as tmp:
        speed(args, embedders, Path(tmp))
        if args.source != "none":
            quality(args, embedders, Path(tmp))
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
