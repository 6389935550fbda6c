"""Collection and index configuration: frozen dataclasses, validated once.

Unknown keys are rejected with the list of known ones, so a typo never silently falls
back to a default.
"""

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .errors import InvalidConfig
from .metrics import METRICS


def _from_dict(cls: type, data: dict[str, Any], what: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidConfig(f"unknown {what} key(s) {unknown}; known keys: {sorted(known)}")
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


@dataclass(frozen=True)
class FlatConfig(IndexConfig):
    type: str = "flat"
    implementation: ClassVar[str] = "vectorstore.flat:FlatIndex"


@dataclass(frozen=True)
class HnswConfig(IndexConfig):
    type: str = "hnsw"
    implementation: ClassVar[str] = "vectorstore.hnsw:HnswIndex"
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


# Registering an index type: its config class here (the class names its implementation).
INDEX_CONFIGS: dict[str, type[IndexConfig]] = {
    cls.type: cls for cls in (FlatConfig, HnswConfig, IvfPqConfig, HnswSq8Config, LshConfig,
                              RpForestConfig)
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
    return _from_dict(INDEX_CONFIGS[kind], dict(spec, type=kind), f"{kind} index")


@dataclass(frozen=True)
class CollectionConfig:
    name: str
    dim: int
    metric: str = "cosine"
    index: IndexConfig = HnswConfig()
    seal_rows: int = 20_000
    merge_rows: int = 100_000
    wal_file_bytes: int = 64 << 20

    def __post_init__(self) -> None:
        _at_least("collection", 1, dim=self.dim, seal_rows=self.seal_rows,
                  merge_rows=self.merge_rows, wal_file_bytes=self.wal_file_bytes)
        if self.metric not in METRICS:
            raise InvalidConfig(f"unknown metric {self.metric!r}; known: {sorted(METRICS)}")
