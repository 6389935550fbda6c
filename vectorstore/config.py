"""Collection, index and text-index configuration: frozen dataclasses, validated once.

Unknown keys are rejected with the list of known ones, so a typo never silently falls
back to a default.
"""

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import Stemmer

from .errors import InvalidConfig
from .metrics import METRICS


def from_dict(cls: type, data: dict[str, Any], what: str,
              error: type[Exception] = InvalidConfig) -> Any:
    """`cls(**data)`, refusing keys `cls` does not have with `error` naming the known ones."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"unknown {what} key(s) {unknown}; known keys: {sorted(known)}")
    return cls(**data)


def _at_least(what: str, lowest: int, **values: Any) -> None:
    """Check that each of `values` is an int (not a bool) of at least `lowest`."""
    wanted = {0: "a non-negative integer", 1: "a positive integer"}.get(
        lowest, f"an integer >= {lowest}")
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
            raise InvalidConfig(f"{what}.{name} must be {wanted}, got {value!r}")


class IndexConfig:
    """Base of the index configurations. `implementation` names the index class
    ("module:Class") that `segment.index_class` loads for the type."""

    type: str
    implementation: ClassVar[str]
    merge_after: ClassVar[int] = 4
    """Small segments that must pile up before compaction merges them (each merge of
    an index that cannot grow is a rebuild, so they are merged in bulk)."""

    grow_fraction: ClassVar[float | None] = None
    """For a type whose merges grow the first segment's index instead of rebuilding:
    full segments after a full one are merged into it once they reach this fraction of
    its rows (`compaction.plan_growth`); None: segments stop growing at the target."""

    def merge_target(self, merge_rows: int) -> int:
        """Live rows up to which compaction merges this type's segments."""
        return merge_rows


@dataclass(frozen=True)
class FlatConfig(IndexConfig):
    type: str = "flat"
    implementation: ClassVar[str] = "vectorstore.flat:FlatIndex"


@dataclass(frozen=True)
class HnswConfig(IndexConfig):
    type: str = "hnsw"
    implementation: ClassVar[str] = "vectorstore.hnsw:HnswIndex"
    merge_after: ClassVar[int] = 2
    """A merge grows the first segment's graph by the others' rows (`HnswIndex.extended`)
    instead of rebuilding, so two small segments already merge: a collection at or
    below merge_rows converges to one graph."""
    grow_fraction: ClassVar[float | None] = 0.5
    """Past merge_rows, full segments are grown into the older full one before them once
    they hold half its rows: a million rows end as one or two graphs, not ten."""
    M: int = 16
    ef_construction: int = 200
    ef_search: int = 64
    seed: int = 42

    def __post_init__(self) -> None:
        _at_least(self.type, 1, M=self.M, ef_construction=self.ef_construction,
                  ef_search=self.ef_search)
        _at_least(self.type, 2, M=self.M)


@dataclass(frozen=True)
class IvfPqConfig(IndexConfig):
    """nlist / m of 0 mean "choose from the segment's size and dimension"."""

    type: str = "ivf_pq"
    implementation: ClassVar[str] = "vectorstore.ivfpq:IvfPqIndex"
    nlist: int = 0
    m: int = 0
    nprobe: int = 48
    rerank: int = 4
    train_size: int = 50_000
    seed: int = 42

    def __post_init__(self) -> None:
        _at_least("ivf_pq", 0, nlist=self.nlist, m=self.m, rerank=self.rerank)
        _at_least("ivf_pq", 1, nprobe=self.nprobe, train_size=self.train_size)


@dataclass(frozen=True)
class HnswSq8Config(HnswConfig):
    """HNSW built and walked on int8 codes; the best rerank * k are re-scored on
    float32. `quantile` is the share of each dimension's values inside its trained
    range (the rest is clipped): 1.0 is min/max."""

    type: str = "hnsw_sq8"
    implementation: ClassVar[str] = "vectorstore.hnsw_sq8:HnswSq8Index"
    merge_after: ClassVar[int] = 4  # its codes are trained per segment: merges rebuild
    rerank: int = 2
    quantile: float = 0.9999

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least("hnsw_sq8", 1, rerank=self.rerank)
        if not isinstance(self.quantile, int | float) or not 0.5 < self.quantile <= 1:
            raise InvalidConfig(f"hnsw_sq8.quantile must be in (0.5, 1], got {self.quantile!r}")


@dataclass(frozen=True)
class LshConfig(IndexConfig):
    """Random-hyperplane (SimHash) codes of `bits` bits (a multiple of 64) scanned by
    Hamming distance; the best rerank * k are re-scored on float32. `probes` > 0 reads
    that many buckets of each of `tables` multi-probe tables instead of every row."""

    type: str = "lsh"
    implementation: ClassVar[str] = "vectorstore.lsh:LshIndex"
    bits: int = 256
    rerank: int = 20
    tables: int = 0
    probes: int = 0
    seed: int = 42

    def __post_init__(self) -> None:
        _at_least("lsh", 64, bits=self.bits)
        _at_least("lsh", 1, rerank=self.rerank)
        _at_least("lsh", 0, tables=self.tables, probes=self.probes)
        if self.bits % 64 or self.bits > 4096:
            raise InvalidConfig(f"lsh.bits must be a multiple of 64 up to 4096, got {self.bits}")


@dataclass(frozen=True)
class RpForestConfig(IndexConfig):
    """Annoy-style forest of `trees` random-projection trees with leaves of at most
    `leaf_size` rows; a search reads `search_k` candidate rows (0: trees * k * 16)."""

    type: str = "rp_forest"
    implementation: ClassVar[str] = "vectorstore.rpforest:RpForestIndex"
    trees: int = 32
    leaf_size: int = 256
    search_k: int = 0
    seed: int = 42

    def __post_init__(self) -> None:
        _at_least("rp_forest", 1, trees=self.trees)
        _at_least("rp_forest", 2, leaf_size=self.leaf_size)
        _at_least("rp_forest", 0, search_k=self.search_k)


@dataclass(frozen=True)
class DiskAnnConfig(IndexConfig):
    """A Vamana graph of out-degree `R` built with pool `L` and pruning `alpha` (two
    passes: alpha 1, then `alpha`) whose nodes (vector + neighbours) live on disk in
    sector-aligned blocks, navigated by `pq_bytes`-byte PQ codes held in RAM (0: about
    one byte per 12 dimensions) and re-ranked exactly with the vectors the walk read.
    Compaction merges diskann segments up to `segment_rows` live rows.
    A search keeps a pool of `L_search` and reads `W` blocks per hop. RAM per segment:
    the codes, plus `cache_per_row` bytes per row of pinned node cache around the entry
    point; a build holds at most `build_memory_bytes` (larger segments are built in
    overlapping shards and merged). `io`: "pread" (reads under a bounded cache) or
    "mmap" (the node file memory-mapped, the page cache as the cache)."""

    type: str = "diskann"
    implementation: ClassVar[str] = "vectorstore.diskann:DiskAnnIndex"
    R: int = 64
    L: int = 100
    alpha: float = 1.2
    pq_bytes: int = 0
    L_search: int = 80
    W: int = 4
    rerank: int = 1
    cache_per_row: int = 8
    build_memory_bytes: int = 4 << 30
    pq_train_rows: int = 20_000
    io: str = "pread"
    segment_rows: int = 2_000_000
    seed: int = 42

    def merge_target(self, merge_rows: int) -> int:
        """diskann segments merge up to `segment_rows` (above the collection's
        merge_rows), so a large collection converges to few of them: each segment costs
        a walk of about L_search block reads, while a walk's length grows only slowly
        with a segment's size."""
        return max(merge_rows, self.segment_rows)

    def __post_init__(self) -> None:
        _at_least("diskann", 1, R=self.R, L=self.L, L_search=self.L_search, W=self.W,
                  segment_rows=self.segment_rows)
        _at_least("diskann", 0, pq_bytes=self.pq_bytes, rerank=self.rerank,
                  cache_per_row=self.cache_per_row)
        _at_least("diskann", 256, pq_train_rows=self.pq_train_rows)
        _at_least("diskann", 32 << 20, build_memory_bytes=self.build_memory_bytes)
        if self.rerank > 1:
            raise InvalidConfig(f"diskann.rerank must be 0 or 1, got {self.rerank}")
        if not isinstance(self.alpha, int | float) or not 1 <= self.alpha <= 4:
            raise InvalidConfig(f"diskann.alpha must be in [1, 4], got {self.alpha!r}")
        if self.io not in ("pread", "mmap"):
            raise InvalidConfig(f"diskann.io must be 'pread' or 'mmap', got {self.io!r}")


# Registering an index type: its config class here (the class names its implementation).
INDEX_CONFIGS: dict[str, type[IndexConfig]] = {
    cls.type: cls for cls in (FlatConfig, HnswConfig, IvfPqConfig, HnswSq8Config, LshConfig,
                              RpForestConfig, DiskAnnConfig)
}


def parse_index_config(spec: str | dict[str, Any] | IndexConfig | None) -> IndexConfig:
    """Accept "hnsw", {"type": "hnsw", "M": 32}, a config object, or None (HNSW, the
    default index of sealed segments)."""
    if spec is None:
        return HnswConfig()
    if isinstance(spec, IndexConfig):
        return spec
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        raise InvalidConfig(f"index must be a string or an object, got {type(spec).__name__}")
    kind = spec.get("type", "hnsw")
    if kind not in INDEX_CONFIGS:
        raise InvalidConfig(f"unknown index type {kind!r}; known: {sorted(INDEX_CONFIGS)}")
    return from_dict(INDEX_CONFIGS[kind], dict(spec, type=kind), f"{kind} index")


ENGLISH_STOPWORDS = (
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
)
"""Lucene's English stop set (also bm25s's "en"): short, so that technical terms such as
"do", "has" or "when" stay searchable."""

STOPWORD_LISTS = {"english": ENGLISH_STOPWORDS, "none": ()}

DEFAULT_FIELDS = (("text", 1.0), ("title", 2.0), ("heading_path", 1.0))
"""Ingest's chunk text, the document title and the chunk's heading path. A payload
without one of them simply contributes nothing for it."""


@dataclass(frozen=True)
class TextConfig:
    """How a collection's text index is built (BM25F over weighted fields).

    fields: (payload path, weight) pairs; a dotted path reaches into nested objects; a
        string is indexed as is, a list by its string elements, anything else not at all.
        Each field's term counts and length are multiplied by its weight and summed: one
        combined field, as Elasticsearch's `combined_fields` (BM25F with a single b).
    language: Snowball stemmer (PyStemmer's names, e.g. "english", "german"), or None.
    stopwords: words left out of the index and queries.
    k1, b: BM25 term-frequency saturation and length normalisation.
    part_weight: what each part of a compound token (`identity` and `key` of
        `identity_key`) counts for in a document, beside the whole token's 1: prose that
        says "identity key" still outranks code that merely contains `identity_key`.
    """

    fields: tuple[tuple[str, float], ...] = DEFAULT_FIELDS
    language: str | None = "english"
    stopwords: tuple[str, ...] = ENGLISH_STOPWORDS
    k1: float = 1.2
    b: float = 0.75
    part_weight: float = 0.25

    def __post_init__(self) -> None:
        if not self.fields:
            raise InvalidConfig("text.fields must name at least one payload field")
        names = [name for name, _ in self.fields]
        if len(set(names)) != len(names):
            raise InvalidConfig(f"text.fields names a field twice: {names}")
        for name, weight in self.fields:
            if not isinstance(name, str) or not name or name.startswith(".") or \
                    name.endswith(".") or ".." in name:
                raise InvalidConfig(f"text.fields: {name!r} is not a payload field path")
            if not finite_number(weight) or not 0 < weight <= 100:
                raise InvalidConfig(f"text.fields[{name!r}] weight must be a number in "
                                    f"(0, 100], got {weight!r}")
        if self.language is not None and self.language not in Stemmer.algorithms():
            raise InvalidConfig(f"text.language {self.language!r} has no stemmer; known: "
                                f"{sorted(Stemmer.algorithms())} or None")
        if any(not isinstance(w, str) or not w for w in self.stopwords):
            raise InvalidConfig("text.stopwords must be non-empty strings")
        if not finite_number(self.k1) or not 0 <= self.k1 <= 10:
            raise InvalidConfig(f"text.k1 must be a number in [0, 10], got {self.k1!r}")
        if not finite_number(self.b) or not 0 <= self.b <= 1:
            raise InvalidConfig(f"text.b must be a number in [0, 1], got {self.b!r}")
        if not finite_number(self.part_weight) or not 0 < self.part_weight <= 1:
            raise InvalidConfig(f"text.part_weight must be a number in (0, 1], got "
                                f"{self.part_weight!r}")


def finite_number(value: Any) -> bool:
    """A real number (not a bool), neither infinite nor NaN."""
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        math.isfinite(value)


def _fields(spec: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(spec, dict):
        return tuple((name, weight) for name, weight in spec.items())
    if isinstance(spec, list | tuple) and all(isinstance(f, str) for f in spec):
        return tuple((name, 1.0) for name in spec)
    if isinstance(spec, list | tuple) and all(
            isinstance(f, list | tuple) and len(f) == 2 for f in spec):
        return tuple((name, weight) for name, weight in spec)
    raise InvalidConfig("text.fields must map field names to weights, e.g. "
                        '{"text": 1.0, "title": 2.0}, or list field names')


def _stopwords(spec: Any) -> tuple[str, ...]:
    if spec is None:
        return ()
    if isinstance(spec, str):
        if spec not in STOPWORD_LISTS:
            raise InvalidConfig(f"text.stopwords {spec!r} is not a built-in list; known: "
                                f"{sorted(STOPWORD_LISTS)}, or give the words")
        return STOPWORD_LISTS[spec]
    if isinstance(spec, list | tuple):
        return tuple(spec)
    raise InvalidConfig("text.stopwords must be a list name or a list of words")


def parse_text_config(spec: Any) -> TextConfig | None:
    """A collection's text configuration from what a caller or the manifest gives:
    True (the defaults), False or None (no text index), a TextConfig, or an object of
    TextConfig's keys (unknown keys are refused, naming the known ones)."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return TextConfig()
    if isinstance(spec, TextConfig):
        return spec
    if not isinstance(spec, dict):
        raise InvalidConfig(f"text must be true, false or an object, got {type(spec).__name__}")
    values = dict(spec)
    if "fields" in values:
        values["fields"] = _fields(values["fields"])
    if "stopwords" in values:
        values["stopwords"] = _stopwords(values["stopwords"])
    return from_dict(TextConfig, values, "text")


@dataclass(frozen=True)
class CollectionConfig:
    name: str
    dim: int
    metric: str = "cosine"
    index: IndexConfig = HnswConfig()
    seal_rows: int = 20_000
    merge_rows: int = 100_000
    wal_file_bytes: int = 64 << 20
    text: TextConfig | None = None
    """The text index's configuration; None: the collection has no text index."""

    def __post_init__(self) -> None:
        _at_least("collection", 1, dim=self.dim, seal_rows=self.seal_rows,
                  merge_rows=self.merge_rows, wal_file_bytes=self.wal_file_bytes)
        if self.metric not in METRICS:
            raise InvalidConfig(f"unknown metric {self.metric!r}; known: {sorted(METRICS)}")
