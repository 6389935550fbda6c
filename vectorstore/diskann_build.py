"""Building a DiskANN segment within a memory budget: PQ codes and the node file.

The vectors arrive as the segment's memory-mapped float32 file and are only ever read
in bounded chunks (`rows`), whose pages are dropped from the process afterwards, so
the build's resident memory is what the budget allows, never the whole file.

- PQ for navigation: codebooks trained on a sample of at most `pq_train_rows`, codes
  of x - centre (the mean), encoded chunk by chunk (`kernels/pq.py`).
- The Vamana graph (`kernels/vamana.py`): two passes, alpha = 1 then the configured
  alpha. When the vectors and the graph fit in `build_memory_bytes` the graph is built
  in one piece; otherwise as DiskANN does for a graph larger than memory: k-means
  cells, each row placed in its two nearest cells with room, one graph per cell built
  in memory and kept on disk, then merged row by row (the union of a row's lists,
  shuffled and cut to R).
- The node file (`diskann_layout.py`) is streamed in node order.
"""

import ctypes
import ctypes.util
import math
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numba
import numpy as np

from .arrayfile import drop_pages, is_mapped, read_array, write_array
from .config import DiskAnnConfig
from .diskann_layout import Layout, NodeWriter
from .kernels.kmeans import kmeans
from .kernels.pq import encode, train_codebooks
from .kernels.space import FloatSpace
from .kernels.vamana import link_batch, merge_rows, search_batch
from .metrics import METRIC_L2

CHUNK_BYTES = 16 << 20
RUNTIME_BYTES = 24 << 20
"""Resident growth outside the build's own arrays (which stay under 8 MiB of numpy
allocations, traced, at a 32 MiB budget): heap the allocator keeps after frees, the
numba runtime's scratch, mapped pages between two releases. Measured at 17-25 MiB over
a 20,000-row build (tests/vectorstore/diskann_budget.py)."""
_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if ctypes.util.find_library("c") else None
if _LIBC is not None and not hasattr(_LIBC, "malloc_trim"):
    _LIBC = None
PQ_ITERS = 15
SHARD_ITERS = 10
REPLICAS = 2
MAX_BATCH = 1024
FIRST_PASS_DIVISOR = 8


def release_heap() -> None:
    """Hand freed heap memory back to the OS (glibc's malloc_trim; a no-op elsewhere).
    glibc raises its mmap threshold after a large array is freed, so the next arrays of
    that size come from the heap and stay resident after they are freed too: a build
    that frees a shard's arrays and allocates the next one's would ratchet up."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def rows(vectors: np.ndarray, start: int, stop: int) -> np.ndarray:
    """vectors[start:stop]: a copy whose mapped pages are then released when vectors
    are memory-mapped, else a view."""
    if not is_mapped(vectors):
        return vectors[start:stop]
    chunk = np.array(vectors[start:stop], dtype=np.float32)
    drop_pages(vectors)
    return chunk


def chunk_rows(d: int, budget: int, multiple: int = 1) -> int:
    """Rows per streamed chunk: CHUNK_BYTES, or 1/32 of the budget when smaller (a
    chunk's node blocks and mapped pages take a few times its size), rounded to a
    multiple of `multiple`."""
    rows_ = min(CHUNK_BYTES, budget // 32) // max(4 * d, 1)
    return max(multiple, rows_ // multiple * multiple)


def chunks(vectors: np.ndarray, budget: int, multiple: int = 1
           ) -> Iterator[tuple[int, np.ndarray]]:
    """(start, rows) over vectors in chunks of `chunk_rows`."""
    n, d = vectors.shape
    step = chunk_rows(d, budget, multiple)
    for start in range(0, n, step):
        yield start, rows(vectors, start, min(n, start + step))


def sample(vectors: np.ndarray, size: int, seed: int, budget: int) -> np.ndarray:
    """`size` distinct rows drawn uniformly (fewer when a sixteenth of the budget holds
    fewer, but at least 256), read in chunks."""
    n, d = vectors.shape
    size = min(n, size, max(256, budget // (16 * 4 * d)))
    picked = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    out = np.empty((picked.size, d), dtype=np.float32)
    step = chunk_rows(d, budget)
    for start in range(0, n, step):
        lo, hi = np.searchsorted(picked, [start, start + step])
        out[lo:hi] = vectors[picked[lo:hi]]
        drop_pages(vectors)
    return out


def train_pq(vectors: np.ndarray, m: int, config: DiskAnnConfig
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre float32 (d,), codebooks float32 (m, d // m, 256), codes uint8 (n, m))."""
    n, budget = vectors.shape[0], config.build_memory_bytes
    centre = mean(vectors, budget)
    train = sample(vectors, config.pq_train_rows, config.seed, budget) - centre
    codebooks = train_codebooks(np.ascontiguousarray(train), m, PQ_ITERS, config.seed)
    del train
    release_heap()
    codes = np.empty((n, m), dtype=np.uint8)
    centres = centre[None, :]
    for start, chunk in chunks(vectors, budget):
        codes[start:start + chunk.shape[0]] = encode(
            chunk, np.zeros(chunk.shape[0], np.int64), centres, codebooks)
    return centre, codebooks, codes


def mean(vectors: np.ndarray, budget: int) -> np.ndarray:
    """The mean row, float32 (d,), read in chunks."""
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    for _, chunk in chunks(vectors, budget):
        total += chunk.sum(axis=0, dtype=np.float64)
    return (total / max(vectors.shape[0], 1)).astype(np.float32)


def medoid(vectors: np.ndarray, budget: int) -> int:
    """The row nearest to the mean (squared L2): DiskANN's entry point."""
    centre = mean(vectors, budget)
    best, best_d = 0, np.inf
    for start, chunk in chunks(vectors, budget):
        dist = np.einsum("ij,ij->i", chunk, chunk) - 2 * (chunk @ centre)
        if dist.min() < best_d:
            best, best_d = start + int(dist.argmin()), float(dist.min())
    return best


def _batches(n: int, first_pass: bool) -> Iterator[tuple[int, int]]:
    """Batches over positions 0..n-1 of the pass order: in the first pass growing with
    the graph (a batch sees the rows before it), then MAX_BATCH."""
    start = 0
    while start < n:
        size = MAX_BATCH if not first_pass else max(1, min(MAX_BATCH,
                                                          start // FIRST_PASS_DIVISOR))
        yield start, min(n, start + size)
        start += size


def vamana(vectors: np.ndarray, entry: int, config: DiskAnnConfig) -> np.ndarray:
    """The Vamana graph of vectors (n, d) in RAM: int32 (n, R + 1) rows of [degree,
    ids...], built in two passes (alpha 1, then config.alpha) from `entry`."""
    n, R = vectors.shape[0], config.R
    graph = np.zeros((n, R + 1), dtype=np.int32)
    if n < 2:
        return graph
    space = FloatSpace(vectors, METRIC_L2)
    workers = numba.get_num_threads()
    visited = np.zeros((workers, n), dtype=np.uint16)
    tags = np.zeros(workers, dtype=np.int64)
    order = np.random.default_rng(config.seed).permutation(n).astype(np.int64)
    L = max(config.L, R)
    for number, alpha in enumerate((1.0, config.alpha)):
        for start, stop in _batches(n, first_pass=number == 0):
            scratch = np.empty((stop - start, R + 1), dtype=np.int32)
            search_batch(space, graph, entry, order, start, stop, L, R, np.float32(alpha),
                         visited, tags, min(workers, stop - start), scratch)
            link_batch(space, graph, order, start, stop, scratch, np.float32(alpha), R)
    return graph


def graph_bytes(n: int, d: int, R: int) -> int:
    """Memory an in-memory build of n rows needs: vectors, graph, scratch."""
    return n * (4 * d + 4 * (R + 1) + 8 + 2 * numba.get_num_threads())


def in_memory_rows(d: int, config: DiskAnnConfig) -> int:
    """Rows one in-memory graph build may hold: half of the budget less RUNTIME_BYTES,
    the rest left to the streamed chunks, the PQ codes and the temporaries around it."""
    room = (config.build_memory_bytes - RUNTIME_BYTES) // 2
    return max(2 * config.R, room // graph_bytes(1, d, config.R))


def build_nodes(vectors: np.ndarray, path: Path, config: DiskAnnConfig,
                progress: Callable[[str], None] | None = None) -> int:
    """Write the node file of `vectors` (n, d), memory-mapped, at `path`; the entry."""
    n, d = vectors.shape
    layout = Layout(n, d, config.R)
    budget = config.build_memory_bytes
    entry = medoid(vectors, budget)
    writer = NodeWriter(path, layout)
    try:
        if n <= in_memory_rows(d, config):
            graph = vamana(rows(vectors, 0, n), entry, config)
            for start, chunk in chunks(vectors, budget, max(layout.per_sector, 1)):
                writer.append(chunk, graph[start:start + chunk.shape[0]])
        else:
            with tempfile.TemporaryDirectory(dir=path.parent,
                                             prefix=".diskann-shards-") as scratch:
                _sharded(vectors, Path(scratch), layout, writer, config)
        writer.finish(entry)
    except BaseException:
        writer.abort()
        raise
    return entry


def _shard_plan(vectors: np.ndarray, config: DiskAnnConfig
                ) -> list[np.ndarray]:
    """Sorted member rows of each shard: k-means cells of a sample, each row in its
    REPLICAS nearest cells that still have room (cap: what the budget builds at once)."""
    n, d = vectors.shape
    budget = config.build_memory_bytes
    cap = in_memory_rows(d, config)
    count = max(2, math.ceil(REPLICAS * n / cap * 1.1))
    train = sample(vectors, max(64 * count, config.pq_train_rows), config.seed, budget)
    centroids, _ = kmeans(train, min(count, train.shape[0]), SHARD_ITERS, config.seed)
    count = centroids.shape[0]
    del train
    sizes = np.zeros(count, dtype=np.int64)
    members: list[list[np.ndarray]] = [[] for _ in range(count)]
    for start, chunk in chunks(vectors, budget):
        ranked = np.argsort(_cell_distances(chunk, centroids), axis=1)
        picks = _pick_cells(ranked, sizes, cap)
        for cell in range(count):
            taken = np.flatnonzero((picks == cell).any(axis=1))
            members[cell].append(start + taken)
    return [np.concatenate(m).astype(np.int64) for m in members if m]


def _cell_distances(chunk: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return (chunk ** 2).sum(1)[:, None] - 2 * chunk @ centroids.T + (centroids ** 2).sum(1)


def _pick_cells(ranked: np.ndarray, sizes: np.ndarray, cap: int) -> np.ndarray:
    """For each row (its cells nearest first), the REPLICAS nearest cells with room."""
    picks = np.full((ranked.shape[0], REPLICAS), -1, dtype=np.int64)
    for i, order in enumerate(ranked):
        taken = 0
        for cell in order:
            if sizes[cell] < cap:
                picks[i, taken] = cell
                sizes[cell] += 1
                taken += 1
                if taken == REPLICAS:
                    break
    return picks


def _sharded(vectors: np.ndarray, scratch: Path, layout: Layout, writer: NodeWriter,
             config: DiskAnnConfig) -> None:
    """Build one graph per shard in memory, keep each on disk, then merge in chunks."""
    shards = _shard_plan(vectors, config)
    for number, members in enumerate(shards):
        ram = np.empty((members.size, layout.d), dtype=np.float32)
        step = chunk_rows(layout.d, config.build_memory_bytes)
        for lo in range(0, members.size, step):
            ram[lo:lo + step] = vectors[members[lo:lo + step]]
            drop_pages(vectors)
        local = vamana(ram, medoid(ram, config.build_memory_bytes), config)
        del ram
        global_ids = members.astype(np.int32)
        for lo in range(0, members.size, 4096):  # local ids to the segment's, in place
            rows_ = local[lo:lo + 4096]
            used = np.arange(config.R)[None, :] < rows_[:, :1]
            rows_[:, 1:] = np.where(used, global_ids[np.where(used, rows_[:, 1:], 0)], 0)
        write_array(scratch / f"shard{number}.arr", local)
        del local, global_ids
        release_heap()
    graphs = [read_array(scratch / f"shard{i}.arr", verify=False) for i in range(len(shards))]
    for start, chunk in chunks(vectors, config.build_memory_bytes, max(layout.per_sector, 1)):
        stop = start + chunk.shape[0]
        owners, lists = [], []
        for members, graph in zip(shards, graphs, strict=True):
            lo, hi = np.searchsorted(members, [start, stop])
            owners.append(members[lo:hi] - start)
            lists.append(np.array(graph[lo:hi]))
            drop_pages(graph)
        owners_all = np.concatenate(owners)
        order = np.argsort(owners_all, kind="stable")
        merged = np.zeros((stop - start, layout.R + 1), dtype=np.int32)
        merge_rows(owners_all[order], np.concatenate(lists)[order], layout.R,
                   config.seed + start, merged)
        writer.append(chunk, merged)
    del graphs
