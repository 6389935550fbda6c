"""Collections: create, describe, list."""

from typing import Annotated, Literal

import Stemmer
from pydantic import BaseModel, Field

from app.schemas.common import CollectionName, Request

Metric = Literal["cosine", "dot", "l2"]


class FlatIndex(Request):
    """Exact search over every row: slowest, perfect recall."""

    type: Literal["flat"]


class HnswIndex(Request):
    """Graph index: fast approximate search, the default. Omitted parameters take the
    store's defaults, which the collection's description reports."""

    type: Literal["hnsw"]
    M: int | None = Field(None, ge=2, le=128, description="Links per node.")
    ef_construction: int | None = Field(None, ge=1, le=2048, description="Build beam width.")
    ef_search: int | None = Field(None, ge=1, le=4096, description="Default search beam width.")


class IvfPqIndex(Request):
    """Inverted lists of product-quantised vectors: the smallest index. Omitted
    parameters take the store's defaults (nlist and m then follow the data)."""

    type: Literal["ivf_pq"]
    nlist: int | None = Field(None, ge=0, le=65536, description="Lists; 0 chooses from the size.")
    m: int | None = Field(None, ge=0, le=512, description="PQ sub-vectors; 0 chooses from the dim.")
    nprobe: int | None = Field(None, ge=1, le=65536, description="Lists searched by default.")
    rerank: int | None = Field(None, ge=0, le=64, description="Exact re-ranking factor.")


class HnswSq8Index(Request):
    """HNSW walked on int8 codes, best rerank * k re-scored on float32: about a third of
    HNSW's memory, float vectors left on disk. Omitted parameters take the defaults."""

    type: Literal["hnsw_sq8"]
    M: int | None = Field(None, ge=2, le=128, description="Links per node.")
    ef_construction: int | None = Field(None, ge=1, le=2048, description="Build beam width.")
    ef_search: int | None = Field(None, ge=1, le=4096, description="Default search beam width.")
    rerank: int | None = Field(None, ge=1, le=64, description="Float32 re-ranking factor.")
    quantile: float | None = Field(
        None, gt=0.5, le=1.0, description="Share of each dimension inside its int8 range."
    )


class LshIndex(Request):
    """Random-hyperplane binary codes scanned by Hamming distance, re-ranked on float32:
    bits / 8 bytes per vector in RAM. Omitted parameters take the defaults."""

    type: Literal["lsh"]
    bits: int | None = Field(None, ge=64, le=4096, multiple_of=64, description="Code bits.")
    rerank: int | None = Field(None, ge=1, le=1000, description="Float32 re-ranking factor.")
    tables: int | None = Field(None, ge=0, le=64, description="Multi-probe tables (0: none).")
    probes: int | None = Field(
        None, ge=0, le=65536, description="Buckets read per table by default (0: scan all)."
    )


class RpForestIndex(Request):
    """Annoy-style forest of random-projection trees. Omitted parameters take the
    defaults."""

    type: Literal["rp_forest"]
    trees: int | None = Field(None, ge=1, le=1024, description="Trees.")
    leaf_size: int | None = Field(None, ge=2, le=4096, description="Most rows in a leaf.")
    search_k: int | None = Field(
        None, ge=0, le=10_000_000, description="Rows read per search (0: trees * k * 16)."
    )


class DiskAnnIndex(Request):
    """DiskANN-style graph whose nodes (vector + neighbours) stay on disk, navigated by
    PQ codes in RAM: collections larger than memory. Omitted parameters take the
    defaults."""

    type: Literal["diskann"]
    R: int | None = Field(None, ge=1, le=512, description="Graph out-degree.")
    L: int | None = Field(None, ge=1, le=4096, description="Build pool size.")
    alpha: float | None = Field(None, ge=1, le=4, description="Pruning slack (2nd pass).")
    pq_bytes: int | None = Field(
        None, ge=0, le=4096, description="PQ code bytes per vector (0: about dim / 12)."
    )
    L_search: int | None = Field(None, ge=1, le=4096, description="Default search pool.")
    W: int | None = Field(None, ge=1, le=64, description="Blocks read per hop by default.")
    rerank: int | None = Field(None, ge=0, le=1, description="1: exact re-rank of the walk.")
    cache_per_row: int | None = Field(
        None, ge=0, le=1 << 20, description="Bytes of pinned node cache per row."
    )
    build_memory_bytes: int | None = Field(
        None, ge=32 << 20, description="Most memory one segment build holds."
    )
    segment_rows: int | None = Field(
        None, ge=1, description="Live rows up to which compaction merges segments."
    )
    io: Literal["pread", "mmap"] | None = Field(None, description="How node blocks are read.")


IndexSpec = Annotated[
    FlatIndex | HnswIndex | IvfPqIndex | HnswSq8Index | LshIndex | RpForestIndex
    | DiskAnnIndex,
    Field(discriminator="type"),
]
IndexType = Literal["flat", "hnsw", "ivf_pq", "hnsw_sq8", "lsh", "rp_forest", "diskann"]
FieldPath = Annotated[str, Field(pattern=r"^[^.]+(\.[^.]+)*$")]  # a payload path: a.b.c
Language = Literal[tuple(sorted(Stemmer.algorithms()))]  # the Snowball stemmers PyStemmer has


class TextIndex(Request):
    """The text index (BM25F) of a collection: which payload fields, how text becomes
    terms. Omitted keys take the store's defaults, which the collection reports (only
    `language` takes null: no stemming)."""

    fields: dict[FieldPath, Annotated[float, Field(gt=0, le=100)]] = Field(
        None, min_length=1, json_schema_extra={"additionalProperties": False},
        description='Payload field -> weight, e.g. {"text": 1, "title": 2}; dotted paths '
        "reach into objects; a list field is indexed by its strings.")
    language: Language | None = Field(
        None, description="Snowball stemmer (e.g. english, german, french; default english); "
        "null: no stemming.")
    stopwords: Literal["english", "none"] | list[Annotated[str, Field(min_length=1)]] = None
    k1: float = Field(None, ge=0, le=10)
    b: float = Field(None, ge=0, le=1)


class CollectionCreate(Request):
    """A new collection; its dimension, metric, index and text index are fixed for life."""

    name: CollectionName
    metric: Metric = "cosine"
    index: IndexSpec | IndexType = "hnsw"
    dimension: int | None = Field(
        None, ge=1, le=8192, description="Vector length; omitted: the server model's."
    )
    text: bool | TextIndex = Field(
        True, description="The text index for text and hybrid search: true for the "
        "defaults (text, title and heading_path fields, English), false for none.")


class CollectionInfo(BaseModel):
    """A collection with its configuration and size."""

    name: str
    dimension: int
    metric: Metric
    index: dict = Field(description="Index type and parameters.")
    text_index: dict | None = Field(
        description="The text index's configuration; null: none (vector search only; "
        "`sleuth reindex` builds one).")
    model: str | None = Field(description="Embedding model that fills it, None for raw vectors.")
    recipe: dict | None = Field(
        None, description="How its chunks are cut and embedded (context template, chunk "
        "tokens, overlap, version), as ingest records it; None for raw vectors.")
    count: int = Field(description="Live chunks (records).")
    documents: int = Field(description="Distinct documents among the chunks.")
    segments: int = Field(
        description="Sealed index segments: immutable, on disk, each with its own ANN index."
    )
    growing_rows: int = Field(
        description="Rows written but not yet sealed into a segment (searched exactly)."
    )
    disk_bytes: int = Field(
        description="Bytes on disk: the sealed segments plus the write-ahead log."
    )
    resident_bytes: int | None = Field(
        None, description="Bytes searches keep in RAM: the segments' indexes (diskann: PQ "
        "codes and node cache) and the write buffer at capacity."
    )


class CollectionList(BaseModel):
    collections: list[CollectionInfo]
