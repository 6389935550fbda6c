"""LSH sealed index: random-hyperplane (SimHash, Charikar 2002) binary codes scanned by
Hamming distance, the best rerank * k re-scored exactly on float32.

Bit j of a row's code says on which side of hyperplane j it lies: <x, planes[j]> >
thresholds[j], the threshold being the median projection of a training sample (faiss's
`train_thresholds`), so each bit splits the segment in half even when the embeddings
share a mean direction, as sentence embeddings do. Rows whose codes differ in few bits
have a small angle between them. RAM holds `bits / 8` bytes of code per row (32 at the
default 256 bits, which `benchmarks/quantized.py` found fastest at recall@10 0.90 and
0.95 on 100k MiniLM embeddings), plus 4 bytes per row per multi-probe table when `tables` > 0; the
planes (bits x d float32) are shared. The float32 vectors (the segment's memory-mapped
file) are read only for the re-rank and the exact paths.

Knobs per search: `bits` (a multiple of 64 up to the built bits: the leading bits of a
code are a shorter SimHash), `rerank` (candidates = rerank * k, >= 1, so scores are
always exact) and `probes` (0: scan every allowed row's code; > 0: read that many
buckets of each table, nearest first, instead).
"""

from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np

from .arrayfile import read_array, write_array
from .config import LshConfig
from .errors import CorruptFile, InvalidInput
from .kernels.hamming import bucket_keys, search_batch, search_range
from .metrics import Metric
from .parallel import kernel_threads
from .planner import VisitedPool, as_mask, as_queries, knob, planned_search, readonly

TRAIN_ROWS = 20_000
BLOCK_ROWS = 8192
# A word of code (64 bits: XOR + popcount) costs about as much as this many float
# multiply-adds of the exact scan: the planner scans a filter's allowed rows exactly
# when that reads less than the codes of the whole segment.
WORD_COST = 4
ROWS_PER_BUCKET = 8
MAX_KEY_BITS = 24
EMPTY_MASK = np.zeros(0, dtype=np.uint8)
# Stands in for the visited scratch when no tables are probed (a full scan needs none).
NO_VISITED = (np.zeros((1, 0), dtype=np.uint16), np.zeros(1, dtype=np.int64))


class LshArrays(NamedTuple):
    """planes float32 (bits, d), thresholds float32 (bits,), codes uint64 (n, bits/64),
    tables: offsets int64 (tables, 2**h + 1), rows int32 (tables, n) (0 tables: (0, 1)
    and (0, n))."""

    planes: np.ndarray
    thresholds: np.ndarray
    codes: np.ndarray
    offsets: np.ndarray
    rows: np.ndarray


def project(vectors: np.ndarray, planes: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Signed distances to the hyperplanes: float32 (n, bits)."""
    return vectors @ planes.T - thresholds


def pack(projections: np.ndarray) -> np.ndarray:
    """Codes uint64 (n, bits / 64) of projections (n, bits): bit j set when > 0."""
    bits = np.packbits(projections > 0, axis=1, bitorder="little")
    return np.ascontiguousarray(bits).view(np.uint64)


def random_planes(bits: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Hyperplane normals float32 (bits, d): random rotations, d orthonormal rows at a
    time, so bits within a block are uncorrelated (as faiss's rotate_data; measured on
    the fixture: +3 to +6 points of recall@10 over i.i.d. Gaussian normals)."""
    blocks = []
    for start in range(0, bits, d):
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        blocks.append(q.T[:min(d, bits - start)])
    return np.ascontiguousarray(np.concatenate(blocks), dtype=np.float32)


def train(vectors: np.ndarray, bits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random hyperplanes and their median thresholds over a sample of the rows."""
    rng = np.random.default_rng(seed)
    planes = random_planes(bits, vectors.shape[1], rng)
    n = vectors.shape[0]
    sample = vectors[np.sort(rng.choice(n, min(n, TRAIN_ROWS), replace=False))]
    thresholds = np.median(sample @ planes.T, axis=0).astype(np.float32)
    return planes, thresholds


def encode(vectors: np.ndarray, planes: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Codes of all rows, projected block by block to bound the scratch memory."""
    words = planes.shape[0] // 64
    codes = np.empty((vectors.shape[0], words), dtype=np.uint64)
    for start in range(0, vectors.shape[0], BLOCK_ROWS):
        block = vectors[start:start + BLOCK_ROWS]
        codes[start:start + block.shape[0]] = pack(project(block, planes, thresholds))
    return codes


def key_bits(n: int, bits: int, tables: int) -> int:
    """Bits of a table key: about ROWS_PER_BUCKET rows per bucket, within the code."""
    wanted = int(np.log2(max(n, 2) / ROWS_PER_BUCKET))
    return max(1, min(wanted, MAX_KEY_BITS, bits // max(tables, 1)))


def build_tables(codes: np.ndarray, tables: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket tables keyed by successive h-bit slices of the codes, as CSR."""
    n = codes.shape[0]
    if tables == 0:
        return np.zeros((0, 1), np.int64), np.zeros((0, n), np.int32)
    keys = bucket_keys(codes, tables, h)
    offsets = np.zeros((tables, (1 << h) + 1), dtype=np.int64)
    rows = np.empty((tables, n), dtype=np.int32)
    for t in range(tables):
        np.cumsum(np.bincount(keys[t], minlength=1 << h), out=offsets[t, 1:])
        rows[t] = np.argsort(keys[t], kind="stable")
    return offsets, rows


class LshIndex:
    """SimHash codes over one sealed segment; see the module docstring."""

    kind = "lsh"

    def __init__(self, vectors: np.ndarray, metric: Metric, config: LshConfig,
                 arrays: LshArrays) -> None:
        self.vectors = readonly(vectors)
        self.metric = metric
        self.config = config
        self.arrays = LshArrays(*(readonly(a) for a in arrays))
        self.bits = arrays.planes.shape[0]
        self.tables = arrays.offsets.shape[0]
        self.key_bits = int(np.log2(arrays.offsets.shape[1] - 1)) if self.tables else 0
        self.visited = VisitedPool(len(self))

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: LshConfig) -> Self:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = vectors.shape[0]
        planes, thresholds = train(vectors, config.bits, config.seed) if n else \
            (np.zeros((config.bits, vectors.shape[1]), np.float32),
             np.zeros(config.bits, np.float32))
        codes = encode(vectors, planes, thresholds)
        tables = build_tables(codes, config.tables, key_bits(n, config.bits, config.tables))
        return cls(vectors, metric, config, LshArrays(planes, thresholds, codes, *tables))

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric,
             config: LshConfig) -> Self:
        arrays = LshArrays(*(read_array(Path(directory) / f"lsh_{name}.arr")
                             for name in LshArrays._fields))
        n, d = vectors.shape
        bits = arrays.planes.shape[0]
        expected = {"planes": (bits, d), "thresholds": (bits,), "codes": (n, bits // 64),
                    "rows": (arrays.offsets.shape[0], n)}
        for name, shape in expected.items():
            if getattr(arrays, name).shape != shape:
                raise CorruptFile(f"{directory}: lsh_{name} has shape "
                                  f"{getattr(arrays, name).shape}, expected {shape}")
        return cls(vectors, metric, config, arrays)

    def write(self, directory: Path) -> None:
        for name, array in self.arrays._asdict().items():
            write_array(Path(directory) / f"lsh_{name}.arr", array)

    def __len__(self) -> int:
        return self.vectors.shape[0]

    def nbytes(self) -> int:
        """Bytes held in RAM per segment: codes and tables (and the shared planes)."""
        return sum(a.nbytes for a in self.arrays)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        queries = as_queries(queries, self.vectors.shape[1])
        allowed = as_mask(allowed, len(self))
        bits = knob(params, "bits", self.bits, 64, "lsh")
        if bits % 64 or bits > self.bits:
            raise InvalidInput(f"lsh search param 'bits' must be a multiple of 64 up to the "
                               f"index's {self.bits}, got {bits}")
        n_cand = k * knob(params, "rerank", self.config.rerank, 1, "lsh")
        probes = knob(params, "probes", self.config.probes, 0, "lsh")
        if probes and not self.tables:
            raise InvalidInput("lsh search param 'probes' needs multi-probe tables; this "
                               "index was built with tables=0")
        n, d = self.vectors.shape

        def exact_when(n_allowed: int) -> bool:
            return n_allowed <= n_cand or n_allowed * d <= n * (bits // 64) * WORD_COST

        def approximate(q: np.ndarray, mask: np.ndarray | None, rows: np.ndarray,
                        dist: np.ndarray) -> None:
            self._search(q, bits // 64, probes, n_cand, mask, rows, dist)

        return planned_search(self.vectors, self.metric.kernel, queries, k, allowed,
                              exact_when, approximate)

    def _search(self, queries: np.ndarray, words: int, probes: int, n_cand: int,
                allowed: np.ndarray | None, rows: np.ndarray, dist: np.ndarray) -> None:
        """One query runs on the calling thread with no scratch taken (the single-query
        path a server lives on); a batch runs in parallel chunks."""
        a = self.arrays
        mask = EMPTY_MASK if allowed is None else allowed
        with (self.visited.take() if probes else nullcontext(NO_VISITED)) as (visited, tags):
            args = (a.codes, a.planes, a.thresholds, words, a.offsets, a.rows, self.key_bits,
                    probes, mask, allowed is not None, visited, tags)
            rest = (n_cand, self.vectors, queries, self.metric.kernel, rows, dist)
            if queries.shape[0] == 1:
                search_range(*args, 0, 0, 1, *rest)
                return
            with kernel_threads(queries.shape[0]) as chunks:
                search_batch(*args, chunks, *rest)
