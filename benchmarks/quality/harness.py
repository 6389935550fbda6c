"""Retrieval quality on labelled documentation: Sleuth's search beside bm25s and exact dense.

    .venv/bin/python -m benchmarks.quality [--sources django sqlalchemy sphinx] [--context]
    .venv/bin/python -m benchmarks.quality [--sources django sqlalchemy sphinx] [--context]
                                           [--fusion-grid] [--backend torch] [--json out.json]
                                           [--data DIR]

For each source of `../shared/datasets/qrels_dev/` (Django, SQLAlchemy and Sphinx docs as
Debian installs them; read its README): ingest the HTML root with Sleuth's own pipeline into
a collection, run every query through each system of `systems.SYSTEMS` (100 chunks each),
map hits to pages, and score page-level nDCG@10 and Recall@10 as the set's README says.
All systems of a source search the same chunks; ratios are taken against the better of
bm25s and exact dense search on them. A last line per source runs bm25s on the set's own
chunking and must reproduce its README's BM25 figures: it checks the scoring.
`--context` adds issue #21's comparison: the same chunks embedded with title and heading
path (the context recipe) beside embedded alone (the bare recipe), vector mode both.
Sleuth is measured in its three modes: hybrid (the default for a text query), text (BM25F)
and vector; `--fusion-grid` adds hybrid under other fusion settings (how its defaults were
chosen: the best mean ratio over all sources). `--backend` picks the embedder's backend
(default torch, whose embeddings the cache holds).

Embeddings are cached on disk by model and exact text, and collections are reused while the
ingest code and the documents are unchanged, so a rerun takes minutes; the first run embeds
about 25,000 chunks (about 40 minutes on two cores). Needs `pip install -e '.[bench]'`.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.quality.cache import CachedEmbedder, EmbeddingCache
from benchmarks.quality.corpus import VARIANTS, Chunks, build
from benchmarks.quality.qrels import (
    PACKAGES,
    MissingData,
    Source,
    load_source,
    ndcg_recall,
    top_pages,
)
from benchmarks.quality.systems import (
    CONTEXT_SYSTEMS,
    SYSTEMS,
    Run,
    System,
    fusion_systems,
    readme_ranking,
)
from ingest.embedding import BACKENDS

DATA = Path(__file__).resolve().parents[1] / "results" / "quality"
README_LINE = "bm25s, README chunking"


@dataclass
class Score:
    """One system on one source."""

    system: str
    ingest: str
    ndcg: float
    recall: float
    seconds: float
    reference: bool
    about: str
    per_query: dict[str, float]
    """qid -> nDCG@10, to see which queries a change wins or loses."""
    ratio: float | None = None
    """nDCG@10 over the better of the references on the same source."""


def score(name: str, ingest: str, source: Source, ranked: list[list[str]], seconds: float,
          reference: bool = False, about: str = "") -> Score:
    """Score hit lists (one per query of `source`, best first) by the set's recipe."""
    ndcgs, recalls = {}, []
    for query, hits in zip(source.queries, ranked, strict=True):
        ndcgs[query.qid], recall = ndcg_recall(top_pages(hits, source), query.relevant)
        recalls.append(recall)
    return Score(name, ingest, _mean(ndcgs.values()), _mean(recalls), seconds, reference,
                 about, ndcgs)


def measure(source: Source, system: System, run: Run) -> Score:
    started = time.perf_counter()
    ranked = system.search(run)
    return score(system.name, system.ingest, source, ranked, time.perf_counter() - started,
                 system.reference, system.about)


def measure_source(db, source: Source, embedder: CachedEmbedder, systems: list[System],
                   data: Path) -> dict:
    """Build the ingests the systems need, run every system, return the source's results."""
    chunks: dict[str, Chunks] = {}
    ingests = {}
    for name in dict.fromkeys(s.ingest for s in systems):
        for needed in (*VARIANTS[name].needs, name):
            if needed not in chunks:
                chunks[needed], seconds, rebuilt = build(db, source, VARIANTS[needed], embedder,
                                                         chunks)
                ingests[needed] = {"chunks": len(chunks[needed].texts), "seconds": seconds,
                                   "rebuilt": rebuilt, "about": VARIANTS[needed].about}
                print(f"  {source.name}/{needed}: {len(chunks[needed].texts)} chunks "
                      f"({'built' if rebuilt else 'reused'}, {seconds:.1f}s)", flush=True)
    texts = [q.text for q in source.queries]
    vectors = embedder.embed_queries(texts)
    scores = [measure(source, s, Run(source, chunks[s.ingest], texts, vectors)) for s in systems]
    started = time.perf_counter()
    ranked = readme_ranking(source, texts, data)
    scores.append(score(README_LINE, "README", source, ranked, time.perf_counter() - started,
                        about="the set's main-body text, 200-word chunks, 40 overlap"))
    best = max((s.ndcg for s in scores if s.reference), default=0.0)
    for s in scores:
        s.ratio = s.ndcg / best if best > 0 else None
    return {"source": source.name, "package": f"{source.package} {source.version}",
            "queries": len(source.queries), "pages": len(source.pages),
            "notes": list(source.notes), "readme_bm25": source.readme_bm25,
            "ingests": ingests, "scores": [asdict(s) for s in scores]}


def source_table(result: dict) -> Table:
    ingests = ", ".join(f"{k} {v['chunks']} chunks" for k, v in result["ingests"].items())
    table = Table(title=f"{result['source']}: {result['queries']} queries, {result['pages']} "
                        f"pages ({result['package']}); {ingests}", title_justify="left")
    for column in ("system", "ingest", "nDCG@10", "Recall@10", "nDCG / best ref",
                   "search s"):
        table.add_column(column, justify="left" if column in ("system", "ingest") else "right")
    for s in result["scores"]:
        name = s["system"] + (" (ref)" if s["reference"] else "")
        ratio = "" if s["ratio"] is None else f"{s['ratio']:.3f}"
        table.add_row(name, s["ingest"], f"{s['ndcg']:.4f}", f"{s['recall']:.4f}", ratio,
                      f"{s['seconds']:.1f}")
    return table


def overall_table(results: list[dict]) -> Table:
    """Per system, the mean over sources (each source counts once)."""
    table = Table(title=f"mean over {len(results)} source(s)", title_justify="left")
    for column in ("system", "ingest", "nDCG@10", "Recall@10", "nDCG / best ref"):
        table.add_column(column, justify="left" if column in ("system", "ingest") else "right")
    keys = [(s["system"], s["ingest"]) for s in results[0]["scores"]]
    for system, ingest in keys:
        rows = [s for r in results for s in r["scores"]
                if (s["system"], s["ingest"]) == (system, ingest)]
        ratios = [s["ratio"] for s in rows if s["ratio"] is not None]
        table.add_row(system, ingest, f"{_mean(s['ndcg'] for s in rows):.4f}",
                      f"{_mean(s['recall'] for s in rows):.4f}",
                      f"{_mean(ratios):.3f}" if ratios else "")
    return table


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _check_bench_dependencies() -> None:
    for module, package in (("bm25s", "bm25s"), ("Stemmer", "PyStemmer"),
                            ("bs4", "beautifulsoup4")):
        try:
            __import__(module)
        except ImportError:
            raise MissingData(f"{package} is not installed: run "
                              f".venv/bin/pip install -e '.[bench]'") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", nargs="+", choices=list(PACKAGES), default=list(PACKAGES))
    parser.add_argument("--context", action="store_true",
                        help="also measure chunks embedded with title + heading path (#21)")
    parser.add_argument("--fusion-grid", action="store_true",
                        help="also measure hybrid search under each setting of "
                             "systems.FUSION_GRID (how the default was chosen)")
    parser.add_argument("--backend", choices=BACKENDS, default="torch",
                        help="embedding backend (default torch)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--data", type=Path, default=DATA,
                        help=f"collections and caches (default {DATA})")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        _check_bench_dependencies()
        sources = [load_source(name) for name in args.sources]
    except MissingData as e:
        sys.exit(f"benchmarks.quality: {e}")
    systems = SYSTEMS + (CONTEXT_SYSTEMS if args.context else []) + \
        (fusion_systems() if args.fusion_grid else [])
    run(sources, systems, args.data, args.json, args.backend)


def run(sources: list[Source], systems: list[System], data: Path, json_path: Path | None,
        backend: str = "torch") -> list[dict]:
    from ingest.embedding import Embedder
    from vectorstore import Database

    console = Console(width=120)
    started, load_before = time.perf_counter(), _loadavg()
    print(f"load average at start: {load_before}", flush=True)
    cache = EmbeddingCache(data / "embeddings.sqlite")
    embedder = CachedEmbedder(Embedder(backend=backend), cache)
    results = []
    try:
        with Database(data / "db") as db:
            for source in sources:
                for note in source.notes:
                    print(f"note: {source.name}: {note}")
                results.append(measure_source(db, source, embedder, systems, data))
                console.print(source_table(results[-1]))
    finally:
        cache.close()
    console.print(overall_table(results))
    seconds = time.perf_counter() - started
    summary = {"seconds": seconds, "load_before": load_before, "load_after": _loadavg(),
               "embeddings_cached": cache.hits, "embeddings_computed": cache.misses,
               "model": embedder.name, "backend": backend}
    print(f"run time {seconds:.0f}s; load average {summary['load_before']} at start, "
          f"{summary['load_after']} at end; embeddings: {cache.misses} computed, "
          f"{cache.hits} from the cache")
    print("README BM25 figures to reproduce: " + "; ".join(
        f"{r['source']} {r['readme_bm25'][0]:.4f} / {r['readme_bm25'][1]:.4f}"
        for r in results if r["readme_bm25"]))
    if json_path is not None:
        json_path.write_text(json.dumps({"summary": summary, "sources": results}, indent=2))
        print(f"wrote {json_path}")
    return results
