"""Collection and index configuration: frozen dataclasses, validated once.

Unknown keys are rejected with the list of known ones, so a typo never silently falls
back to a default.
"""

from dataclasses import dataclass, fields
from typing import Any

from .errors import InvalidConfig
from .metrics import METRICS


def _from_dict(cls: type, data: dict[str, Any], what: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidConfig(f"unknown {what} key(s) {unknown}; known keys: {sorted(known)}")
    return cls(**data)


def _positive(name: str, value: Any, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidConfig(f"{what}.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class FlatConfig:
    type: str = "flat"


@dataclass(frozen=True)
class HnswConfig:
    type: str = "hnsw"
    M: int = 16
    ef_construction: int = 200
    ef_search: int = 64
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("M", "ef_construction", "ef_search"):
            _positive(name, getattr(self, name), "hnsw")
        if self.M < 2:
            raise InvalidConfig(f"hnsw.M must be at least 2, got {self.M}")


@dataclass(frozen=True)
class IvfPqConfig:
    """nlist / m of 0 mean "choose from the segment's size and dimension"."""

    type: str = "ivf_pq"
    nlist: int = 0
    m: int = 0
    nprobe: int = 48
    rerank: int = 4
    train_size: int = 50_000
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("nlist", "m", "rerank"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidConfig(f"ivf_pq.{name} must be a non-negative integer")
        _positive("nprobe", self.nprobe, "ivf_pq")
        _positive("train_size", self.train_size, "ivf_pq")


INDEX_CONFIGS: dict[str, type] = {"flat": FlatConfig, "hnsw": HnswConfig, "ivf_pq": IvfPqConfig}
IndexConfig = FlatConfig | HnswConfig | IvfPqConfig


def parse_index_config(spec: str | dict[str, Any] | IndexConfig | None) -> IndexConfig:
    """Accept "hnsw", {"type": "hnsw", "M": 32}, a config object, or None (HNSW, the
    default index of sealed segments)."""
    if spec is None:
        return HnswConfig()
    if isinstance(spec, FlatConfig | HnswConfig | IvfPqConfig):
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
        _positive("dim", self.dim, "collection")
        _positive("seal_rows", self.seal_rows, "collection")
        _positive("merge_rows", self.merge_rows, "collection")
        _positive("wal_file_bytes", self.wal_file_bytes, "collection")
        if self.metric not in METRICS:
            raise InvalidConfig(f"unknown metric {self.metric!r}; known: {sorted(METRICS)}")
