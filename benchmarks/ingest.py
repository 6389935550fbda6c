"""Ingest throughput: the whole pipeline against bare SentenceTransformer.encode.

    .venv/bin/python -m benchmarks.ingest [--docs 200] [--repeats 2] [--workers N]

Generates a folder of `--docs` documents (Markdown, text, HTML, PDF and DOCX, a few
chunks each, fixed seed), then in each round, interleaved so machine noise hits both:
  pipeline  Ingestor.ingest on the folder into a fresh store: planning, hashing, parsing
            in worker processes, chunking, embedding, store writes, end to end;
  bare      SentenceTransformer.encode(texts, batch_size=32, normalize_embeddings=True)
            on exactly the chunk texts the pipeline produced, in one call.
Prints chunks/s for both (best round of each) and their ratio; the goal is >= 0.9.
"""

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import docx
from fpdf import FPDF
from rich.console import Console
from rich.table import Table

from ingest.embedding import shared_embedder
from ingest.pipeline import Ingestor, default_workers
from ingest.store import open_collection
from vectorstore import Database

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


def run_pipeline(folder: Path, data: Path, embedder, workers: int) -> tuple[float, list[str]]:
    with Database(data) as db:
        collection = open_collection(db, "bench", embedder)
        started = time.perf_counter()
        with Ingestor(collection, embedder, workers=workers) as ingestor:
            report = ingestor.ingest([folder])
        seconds = time.perf_counter() - started
        assert not report.of("failed"), report.of("failed")
        texts = [r.payload["text"] for r in collection.get(where={}, limit=10**9)]
    return seconds, texts


def run_bare(model, texts: list[str]) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = shared_embedder()
    model = embedder.model
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="sleuth-bench-") as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for i in range(args.docs):
            write_document(folder, i, rng)
        model.encode(["warm up the model"] * 32, batch_size=32)
        pipeline, bare, texts = [], [], []
        for round_ in range(args.repeats):
            data = Path(tmp) / f"data-{round_}"
            seconds, texts = run_pipeline(folder, data, embedder, args.workers)
            pipeline.append(seconds)
            bare.append(run_bare(model, texts))
    chunks = len(texts)
    best_pipeline, best_bare = min(pipeline), min(bare)
    title = f"ingest: {args.docs} documents, {chunks} chunks, {args.workers} parser process(es)"
    table = Table(title=title)
    table.add_column("run")
    table.add_column("seconds (best)", justify="right")
    table.add_column("chunks/s", justify="right")
    table.add_column("rounds (s)")
    table.add_row("pipeline (end to end)", f"{best_pipeline:.2f}", f"{chunks / best_pipeline:.1f}",
                  " ".join(f"{s:.2f}" for s in pipeline))
    table.add_row("bare encode", f"{best_bare:.2f}", f"{chunks / best_bare:.1f}",
                  " ".join(f"{s:.2f}" for s in bare))
    Console().print(table)
    print(f"ratio pipeline/bare chunks/s: {best_bare / best_pipeline:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
