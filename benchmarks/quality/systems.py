"""The systems a run compares: Sleuth's search modes and the references, as one list.

Each system answers every query of a source with the hits it ranks, best first, as the
`source` payload of each hit (the file it came from); the harness maps them to pages and
scores them. A system searches the chunks of one ingest variant (see `corpus.VARIANTS`),
so Sleuth and the references see exactly the same chunks.

To measure another Sleuth mode, add a `System` to `SYSTEMS` (and to `CONTEXT_SYSTEMS` if it
should also run on the `context` ingest). The references, whose better nDCG@10 is the bar
every ratio is taken against, are marked `reference=True`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.quality.corpus import Chunks
from benchmarks.quality.qrels import Source
from vectorstore.errors import InvalidQuery

TOP_CHUNKS = 100
"""Chunks retrieved per query: enough to fill 10 distinct pages (the set's recipe)."""


@dataclass(frozen=True)
class Run:
    """What a system searches: a source, the chunks of one ingest, the queries (text and
    embedded by the same model as the chunks)."""

    source: Source
    chunks: Chunks
    queries: list[str]
    query_vectors: np.ndarray


@dataclass(frozen=True)
class System:
    name: str
    ingest: str
    """The variant whose chunks it searches."""
    search: Callable[[Run], list[list[str]]]
    reference: bool = False
    about: str = ""


def sleuth_vector(run: Run) -> list[list[str]]:
    """`Collection.search` with the query embeddings: the store's own ANN index."""
    found = run.chunks.collection.search(run.query_vectors, k=TOP_CHUNKS, mode="vector")
    return [[hit.payload["source"] for hit in hits] for hits in found]


def sleuth_text(run: Run) -> list[list[str]]:
    """`Collection.search(text=...)`: the store's BM25F text index alone."""
    found = [_text_hits(run.chunks.collection, q) for q in run.queries]
    return [[hit.payload["source"] for hit in hits] for hits in found]


def _text_hits(collection, query: str) -> list:
    try:
        return collection.search(text=query, k=TOP_CHUNKS, mode="text")
    except InvalidQuery:  # only stopwords: text search has nothing to rank
        return []


def sleuth_hybrid(run: Run, fusion: dict | None = None) -> list[list[str]]:
    """`Collection.search(vector, text=...)` in its default mode: hybrid, fused by
    `fusion` (None: the store's defaults)."""
    found = run.chunks.collection.search(run.query_vectors, text=run.queries, k=TOP_CHUNKS,
                                         fusion=fusion)
    return [[hit.payload["source"] for hit in hits] for hits in found]


def dense_exact(run: Run) -> list[list[str]]:
    """Exact inner product over the same stored vectors (numpy brute force)."""
    scores = run.query_vectors @ run.chunks.vectors.T
    k = min(TOP_CHUNKS, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    rows = np.take_along_axis(top, order, axis=1)
    return [[run.chunks.sources[i] for i in row] for row in rows.tolist()]


def bm25s_ranking(texts: list[str], owners: list[str], queries: list[str]) -> list[list[str]]:
    """bm25s as the set's bm25_baseline.py runs it: English stopwords, Snowball English
    stemming (PyStemmer), default parameters, top chunks with a positive score."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)
    tokens = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, return_ids=False,
                            show_progress=False)
    vocab = retriever.vocab_dict
    ranked = []
    for query_tokens in tokens:
        known = [t for t in query_tokens if t in vocab]
        hits: list[str] = []
        if known:
            ids, scores = retriever.retrieve([known], k=min(TOP_CHUNKS, len(texts)),
                                             show_progress=False)
            hits = [owners[i] for i, s in zip(ids[0], scores[0], strict=True) if s > 0]
        ranked.append(hits)
    return ranked


def bm25s_chunks(run: Run) -> list[list[str]]:
    """bm25s over the texts of the very chunks Sleuth stored."""
    return bm25s_ranking(run.chunks.texts, run.chunks.sources, run.queries)


SYSTEMS: list[System] = [
    System("sleuth hybrid", "bare", sleuth_hybrid,
           about="Collection.search(query vector, text=query): the default mode"),
    System("sleuth text", "bare", sleuth_text,
           about="Collection.search(text=query, mode='text'), the BM25F text index"),
    System("sleuth vector", "bare", sleuth_vector,
           about="Collection.search(query vector), the collection's HNSW index"),
    System("bm25s", "bare", bm25s_chunks, reference=True,
           about="bm25s over the same chunk texts"),
    System("dense exact", "bare", dense_exact, reference=True,
           about="numpy brute force over the same chunk vectors"),
]
"""Measured on every run, on the `bare` ingest (the pipeline as users get it)."""

CONTEXT_SYSTEMS: list[System] = [
    System("sleuth vector", "context", sleuth_vector,
           about="as above, chunks embedded with title + heading path"),
    System("dense exact", "context", dense_exact,
           about="as above, chunks embedded with title + heading path"),
]
"""Added by `--context`: the same searches on the `context` ingest (issue #21's comparison)."""


FUSION_GRID = [
    *({"method": "rrf", "rrf_k": rrf_k, "text_weight": weight, "coverage": coverage}
      for rrf_k in (10, 20, 60) for weight in (1.0, 1.5, 2.0, 3.0)
      for coverage in (True, False)),
    *({"method": "rrf", "depth": depth} for depth in (30, 100)),
    *({"method": "blend", "text_weight": weight, "coverage": coverage}
      for weight in (1.0, 1.5, 2.0) for coverage in (True, False)),
]
"""Fusion settings `--fusion-grid` measures beside the default, to choose the default by
the mean ratio over every source (one setting for all: no per-source tuning)."""


def fusion_systems() -> list[System]:
    """A hybrid system per setting of FUSION_GRID."""
    return [System("hybrid " + " ".join(f"{k}={v}" for k, v in fusion.items()), "bare",
                   partial(sleuth_hybrid, fusion=fusion), about="--fusion-grid")
            for fusion in FUSION_GRID]


def readme_ranking(source: Source, queries: list[str], cache_dir: Path | None
                   ) -> list[list[str]]:
    """bm25s on the set's own chunking (main-body text from its build.py, 200-word chunks,
    40-word overlap): reproduces the README's BM25 figures, so the harness is checked."""
    from benchmarks.quality.readme_chunks import readme_chunks

    texts, owners = readme_chunks(source, cache_dir)
    return bm25s_ranking(texts, owners, queries)
