"""The DiskANN index of a sealed segment (Subramanya et al., NeurIPS 2019): a Vamana
graph whose nodes live on disk, navigated by PQ codes in RAM.

RAM holds the PQ codes (pq_bytes per row), the codebooks, and a pinned cache of the
blocks nearest the entry point (breadth first, `cache_per_row` bytes per row or the
budget the collection gives it). Everything else stays in the node file
(`diskann_layout.py`, built by `diskann_build.py`): a search reads the W best
unexpanded candidates' blocks per hop, scores their neighbours by PQ estimate and the
read nodes exactly with the vectors their blocks carry, so re-ranking costs no extra
reads. The kernel (`kernels/diskann.py`) does the reads itself, one `preadv2` per
block with no Python per hop: a round's blocks already in the page cache are read at
once (RWF_NOWAIT), the others are all asked of the device first (WILLNEED) so they are
in flight together; with io="mmap" it reads the mapped file instead.

Filters pass the allowed-rows mask to the walk, which navigates through every node
and keeps only allowed ones, with a pool widened to see about 2k allowed rows; the
planner scans exactly when the allowed rows are few and tops up short results. A
segment under MIN_ROWS rows is not indexed: an exact scan of it costs about as much
as a walk, and 256-entry PQ codebooks need rows to train on.

The walk navigates by the PQ estimate of squared L2 whenever rows are unit vectors
(cosine), as DiskANN does: on unit rows it orders as the inner product, and on a quantised
row it estimates better (recall@10 at L_search 48 on the 20,000-row MiniLM fixture with
32-byte codes: 0.954 against 0.934 navigating by the inner-product estimate).

Knobs per search: L_search (pool size), W (beam width: blocks read per hop), rerank
(1: exact order from the read vectors; 0: PQ order and estimates).
"""

import math
import os
import shutil
import tempfile
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Self

import numba
import numpy as np

from .arrayfile import mapped_path, read_array, write_array
from .config import DiskAnnConfig
from .diskann_build import build_nodes, train_pq
from .diskann_layout import NodeFile
from .errors import CorruptFile, InvalidInput
from .flat import exact_search
from .kernels.diskann import (
    finish_search,
    make_luts,
    mapped_search,
    pread_search,
    start_search,
)
from .metrics import METRIC_L2, Metric
from .planner import as_mask, as_queries, knob, planned_search, readonly

FORMAT = 1
MIN_ROWS = 1000
NODES = "diskann_nodes.bin"
PQ_FIELDS = ("centre", "codebooks", "codes")
WIDEN = 4
"""A filtered walk keeps a pool of max(L, WIDEN * k) / (allowed share) nodes."""
STATE_BYTES = 2 << 20
"""Search state each walking thread allocates at once: queries are walked in chunks
that fit (about 30 at L_search = 48)."""


class PqArrays(NamedTuple):
    centre: np.ndarray     # float32 (d,)
    codebooks: np.ndarray  # float32 (m, d // m, 256)
    codes: np.ndarray      # uint8 (n, m)


class Cache(NamedTuple):
    ids: np.ndarray    # int64 (c,) sorted node ids
    words: np.ndarray  # int32 (c * node_words,) their blocks, in the same order


def choose_pq_bytes(d: int, config: DiskAnnConfig) -> int:
    """config.pq_bytes (which must divide d), else the largest divisor of d up to d / 12
    (32 bytes for 384 dimensions; at least 8 where d allows, so small vectors still
    navigate)."""
    if config.pq_bytes:
        if d % config.pq_bytes:
            raise InvalidInput(f"diskann.pq_bytes={config.pq_bytes} must divide the "
                               f"dimension {d}")
        return config.pq_bytes
    return max(m for m in range(1, max(d // 12, min(d, 8)) + 1) if d % m == 0)


def filtered_pool(n: int, n_allowed: int, k: int, L: int) -> int:
    """The pool a filtered walk keeps: it navigates through every node but keeps only
    allowed ones, so it expands about as many allowed nodes as an unfiltered walk of
    max(L, WIDEN * k) expands nodes."""
    return min(n, math.ceil(max(L, WIDEN * k) * n / max(n_allowed, 1)))


def use_exact_scan(n: int, n_allowed: int, k: int, L: int) -> bool:
    """The filtered-search plan: read the allowed rows exactly when they are no more
    blocks than the widened walk would read: n_allowed <= max(L, 4k) * n / n_allowed,
    i.e. up to sqrt(max(L, 4k) n) rows (1,265 of 20,000, 8,944 of a million at L = 80)."""
    return n_allowed <= filtered_pool(n, n_allowed, k, L)


class DiskAnnIndex:
    """DiskANN over one sealed segment; see the module docstring."""

    kind = "diskann"

    def __init__(self, vectors: np.ndarray, metric: Metric, config: DiskAnnConfig,
                 nodes: NodeFile | None, pq: PqArrays | None) -> None:
        self.vectors = readonly(vectors)
        self.metric = metric
        self.navigation = METRIC_L2 if metric.normalise else metric.kernel
        """The PQ estimate walks navigate by (module docstring)."""
        self.config = config
        self.nodes = nodes
        self.pq = pq
        self.cache = Cache(np.zeros(0, np.int64), np.zeros(0, np.int32))
        self.block_reads = 0
        self.queries_walked = 0
        self._counts = threading.Lock()
        self._unplaced: weakref.finalize | None = None
        if nodes is not None:
            self.resize_cache(config.cache_per_row * len(self))
            weakref.finalize(self, nodes.close)

    # ---- build, write, open --------------------------------------------------------

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, config: DiskAnnConfig) -> Self:
        n, d = vectors.shape
        if n < MIN_ROWS:
            return cls(vectors, metric, config, None, None)
        pq = PqArrays(*train_pq(vectors, choose_pq_bytes(d, config), config))
        home = mapped_path(vectors)
        workdir = Path(tempfile.mkdtemp(prefix=".diskann-", dir=home and home.parent))
        path = workdir / NODES
        try:
            build_nodes(vectors, path, config)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        index = cls(vectors, metric, config, NodeFile(path, n, d, verify=False), pq)
        # Until `write` moves it, the node file lives in its own directory, removed
        # with the index (a build that is never written leaves nothing behind).
        index._unplaced = weakref.finalize(index, shutil.rmtree, workdir, ignore_errors=True)
        return index

    @classmethod
    def open(cls, directory: Path, vectors: np.ndarray, metric: Metric,
             config: DiskAnnConfig) -> Self:
        directory = Path(directory)
        n, d = vectors.shape
        meta = read_array(directory / "diskann_meta.arr", mmap=False)
        if meta.shape != (4,) or meta[0] != FORMAT or tuple(meta[1:3]) != (n, d):
            raise CorruptFile(f"{directory}: diskann index {meta.tolist()} does not match "
                              f"a segment of {(n, d)}")
        if not meta[3]:
            return cls(vectors, metric, config, None, None)
        pq = PqArrays(*(read_array(directory / f"diskann_{name}.arr", mmap=False)
                        for name in PQ_FIELDS))
        if pq.codes.shape[0] != n or pq.codebooks.shape[0] != pq.codes.shape[1]:
            raise CorruptFile(f"{directory}: diskann PQ codes do not match {n} rows")
        return cls(vectors, metric, config, NodeFile(directory / NODES, n, d), pq)

    def write(self, directory: Path) -> None:
        """diskann_meta.arr ([format, n, d, indexed]) and, when indexed, the PQ arrays
        and the node file (moved into `directory` from where the build wrote it)."""
        directory = Path(directory)
        n, d = self.vectors.shape
        indexed = int(self.nodes is not None)
        write_array(directory / "diskann_meta.arr", np.array([FORMAT, n, d, indexed], np.int64))
        if not indexed:
            return
        for name, array in self.pq._asdict().items():
            write_array(directory / f"diskann_{name}.arr", array)
        target = directory / NODES
        if self.nodes.path == target:
            return
        if self._unplaced is not None and self._unplaced.alive:  # the build's own file
            shutil.move(self.nodes.path, target)
            self._unplaced()
            self.nodes.path = target
        else:
            shutil.copyfile(self.nodes.path, target)
        with open(target, "rb") as f:
            os.fsync(f.fileno())

    def __len__(self) -> int:
        return self.vectors.shape[0]

    # ---- memory ---------------------------------------------------------------------

    def nbytes(self) -> int:
        """Bytes this index keeps in RAM: PQ codes and codebooks, and the node cache."""
        if self.pq is None:
            return 0
        return sum(a.nbytes for a in self.pq) + self.cache_bytes()

    def cache_bytes(self) -> int:
        """Bytes of the pinned node cache (part of `nbytes`)."""
        cache = self.cache
        return cache.ids.nbytes + cache.words.nbytes

    def disk_bytes(self) -> int:
        return 0 if self.nodes is None else self.nodes.layout.file_bytes

    def resize_cache(self, budget: int) -> None:
        """Pin the blocks nearest the entry point (breadth first) that fit in `budget`
        bytes, as DiskANN caches the entry's neighbourhood."""
        if self.nodes is None:
            return
        layout = self.nodes.layout
        wanted = min(len(self), max(0, budget) // (layout.node_bytes + 8))  # block + id
        ids: list[np.ndarray] = []
        blocks: list[np.ndarray] = []
        frontier = np.array([self.nodes.entry], dtype=np.int64)
        seen = {self.nodes.entry}
        total = 0
        while frontier.size and total < wanted:
            frontier = frontier[:wanted - total]
            words = self._read(frontier)
            ids.append(frontier)
            blocks.append(words)
            total += frontier.size
            fresh = []
            for row in words:
                for other in row[layout.d + 1:layout.d + 1 + row[layout.d]].tolist():
                    if other not in seen:
                        seen.add(other)
                        fresh.append(other)
            frontier = np.array(fresh, dtype=np.int64)
        if not ids:
            self.cache = Cache(np.zeros(0, np.int64), np.zeros(0, np.int32))
            return
        all_ids = np.concatenate(ids)
        order = np.argsort(all_ids)
        self.cache = Cache(all_ids[order], np.ascontiguousarray(
            np.concatenate(blocks)[order]).ravel())

    def _read(self, nodes: np.ndarray) -> np.ndarray:
        """The blocks of `nodes` as int32 rows (m, node_words), read with pread."""
        layout = self.nodes.layout
        buffer = np.empty(nodes.size * layout.read_bytes, dtype=np.uint8)
        words, _ = self.nodes.read(layout.offsets(nodes), buffer, prefetch=True)
        flat = buffer.view(np.int32)
        width = layout.node_bytes // 4
        return np.stack([flat[w:w + width] for w in words.tolist()]) if nodes.size else \
            np.zeros((0, width), np.int32)

    # ---- search ---------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None,
               params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        queries = readonly(as_queries(queries, self.vectors.shape[1]))
        allowed = as_mask(allowed, len(self))
        L = knob(params, "L_search", self.config.L_search, 1, "diskann")
        W = knob(params, "W", self.config.W, 1, "diskann")
        rerank = knob(params, "rerank", self.config.rerank, 0, "diskann")
        if rerank > 1:
            raise InvalidInput(f"diskann search param 'rerank' must be 0 or 1, got {rerank}")
        if self.nodes is None:
            if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
                raise InvalidInput(f"k must be a positive integer, got {k!r}")
            return exact_search(self.vectors, queries, k, self.metric.kernel, allowed)
        n = len(self)

        def approximate(q: np.ndarray, mask: np.ndarray | None, rows: np.ndarray,
                        dist: np.ndarray) -> None:
            pool = max(L, int(k)) if mask is None else \
                filtered_pool(n, int(np.count_nonzero(mask)), int(k), L)
            self.walk(q, mask, pool, W, rerank, rows, dist)

        return planned_search(self.vectors, self.metric.kernel, queries, k, allowed,
                              lambda n_allowed: use_exact_scan(n, n_allowed, int(k), L),
                              approximate)

    def walk(self, queries: np.ndarray, allowed: np.ndarray | None, L: int, W: int,
             rerank: int, rows: np.ndarray, dist: np.ndarray) -> None:
        """Beam search for each query (checked float32 (nq, d)) with a pool of L and W
        blocks per hop, writing its best allowed rows / proxies into rows / dist.
        Chunks of queries are walked on up to numba's thread count of threads."""
        nq, k = rows.shape
        max_hops = 2 * L + 2 * W + 8
        table = 1 << math.ceil(math.log2(2 * (self.nodes.layout.R * max_hops + 1)))
        m = self.pq.codes.shape[1]
        per_query = 4 * table + 9 * L + 4 * m * 256 + 12 * k
        threads = max(1, min(nq, numba.get_num_threads()))
        step = max(1, min(-(-nq // threads), STATE_BYTES // per_query))

        def run(start: int) -> None:
            stop = min(nq, start + step)
            state = _State.new(stop - start, L, k, W, table, m)
            reads = self._walk_chunk(queries[start:stop], allowed, W, max_hops, rerank, state)
            finish_search(state.pool_d, state.pool_i, state.sizes, state.res_d, state.res_i,
                          _mask(allowed), allowed is not None, rerank, rows[start:stop],
                          dist[start:stop])
            if not rerank and self.navigation != self.metric.kernel:
                dist[start:stop] = dist[start:stop] / 2 - 1  # |q - x|^2 = 2 - 2<q, x>
            with self._counts:
                self.block_reads += reads
                self.queries_walked += stop - start

        starts = range(0, nq, step)
        if threads == 1 or len(starts) == 1:
            for start in starts:
                run(start)
            return
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, starts))

    def _walk_chunk(self, queries: np.ndarray, allowed: np.ndarray | None, W: int,
                    max_hops: int, rerank: int, s: "_State") -> int:
        """Run the walk of one chunk of queries to its end; the blocks it read."""
        pq, layout, mask = self.pq, self.nodes.layout, _mask(allowed)
        use_mask = allowed is not None
        make_luts(queries, pq.centre, pq.codebooks, self.navigation, s.luts, s.bases)
        start_search(self.nodes.entry, pq.codes, s.luts, s.bases, s.pool_d, s.pool_i,
                     s.pool_x, s.sizes, s.seen, s.seen_n, s.res_d, s.res_i, s.hops, s.reads)
        cache = self.cache  # one read: `resize_cache` may swap it meanwhile
        common = (queries, self.metric.kernel, W, max_hops, pq.codes, s.luts, s.bases,
                  s.pool_d, s.pool_i, s.pool_x, s.sizes, s.seen, s.seen_n, s.res_d,
                  s.res_i, mask, use_mask, rerank, cache.ids, cache.words.view(np.float32),
                  cache.words)
        if self.config.io == "mmap":
            mapped = self.nodes.mapped()
            mapped_search(*common, mapped.view(np.float32), mapped.view(np.int32),
                          layout.per_sector, layout.node_bytes, layout.spans, s.want,
                          s.hops, s.reads)
            return int(s.reads.sum())
        buffer = np.empty(s.want.size * layout.node_bytes, dtype=np.uint8)
        done = pread_search(*common, self.nodes.fd, layout.per_sector, layout.node_bytes,
                            layout.spans, buffer, buffer.view(np.float32),
                            buffer.view(np.int32), np.zeros(s.want.shape, np.int64), s.want,
                            s.hops, s.reads)
        if done < 0:
            raise CorruptFile(f"{self.nodes.path}: read of a {layout.node_bytes}-byte block "
                              f"at offset {-1 - done} failed (short file or I/O error)")
        return int(s.reads.sum())


def _mask(allowed: np.ndarray | None) -> np.ndarray:
    return np.zeros(0, np.uint8) if allowed is None else allowed


class _State(NamedTuple):
    """One chunk of queries' walk state (shapes in `kernels/diskann.py`)."""

    pool_d: np.ndarray
    pool_i: np.ndarray
    pool_x: np.ndarray
    sizes: np.ndarray
    seen: np.ndarray
    seen_n: np.ndarray
    res_d: np.ndarray
    res_i: np.ndarray
    luts: np.ndarray
    bases: np.ndarray
    want: np.ndarray
    hops: np.ndarray
    reads: np.ndarray

    @classmethod
    def new(cls, nq: int, L: int, k: int, W: int, table: int, m: int) -> "_State":
        return cls(np.empty((nq, L), np.float32), np.empty((nq, L), np.int32),
                   np.empty((nq, L), np.uint8), np.zeros(nq, np.int64),
                   np.empty((nq, table), np.int32), np.zeros(nq, np.int64),
                   np.empty((nq, k), np.float32), np.empty((nq, k), np.int64),
                   np.empty((nq, m, 256), np.float32), np.empty(nq, np.float32),
                   np.full((nq, W), -1, np.int64), np.zeros(nq, np.int64),
                   np.zeros(nq, np.int64))
