"""The DiskANN node file: sector-aligned blocks of (vector, degree, neighbours).

Layout (`kernels/diskann.py` reads the same): sector 0 is the header, then node i's
block of node_bytes = 4 (d + 1 + R) bytes, float32 vector, int32 degree and R int32
neighbour ids (padded with 0 past the degree). Blocks never straddle a sector: when
one fits, `per_sector` = 4096 // node_bytes of them share a sector (DiskANN's
`nnodes_per_sector`); otherwise each starts a run of `spans` whole sectors. Reading a
node is one aligned read of one sector (or its run).

Header: magic, format version, the layout numbers, the entry node and the CRC32 of
everything after the header sector, so a torn or corrupted file is refused on open. The
file is written in one streaming pass (`NodeWriter`: append blocks in node order, then
the header), to a temporary name that is fsync'd and renamed.
"""

import contextlib
import mmap
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CorruptFile
from .fsutil import fsync_dir
from .kernels.diskann import SECTOR, block_offsets

MAGIC = b"SLDISKAN"
VERSION = 1
HEADER = struct.Struct("<8sHHI7q")  # magic, version, pad, crc, n, d, R, node_bytes,
#                                     per_sector, spans, entry


@dataclass(frozen=True)
class Layout:
    n: int
    d: int
    R: int

    @property
    def node_bytes(self) -> int:
        return 4 * (self.d + 1 + self.R)

    @property
    def per_sector(self) -> int:
        """Blocks per sector, 0 when a block needs more than one sector."""
        return SECTOR // self.node_bytes

    @property
    def spans(self) -> int:
        """Sectors one read covers: 1, or a large block's run."""
        return max(1, -(-self.node_bytes // SECTOR))

    @property
    def read_bytes(self) -> int:
        return self.spans * SECTOR

    @property
    def sectors(self) -> int:
        if self.per_sector:
            return -(-self.n // self.per_sector)
        return self.n * self.spans

    @property
    def file_bytes(self) -> int:
        return SECTOR * (1 + self.sectors)

    def offsets(self, nodes: np.ndarray) -> np.ndarray:
        """Byte offset of each node's block: int64 (m,)."""
        return block_offsets(np.ascontiguousarray(nodes, dtype=np.int64), self.per_sector,
                             self.node_bytes, self.spans)


class NodeWriter:
    """Streams node blocks into a new node file, in node order, in whole sectors."""

    def __init__(self, path: Path, layout: Layout) -> None:
        self.path, self.layout = path, layout
        self.tmp = path.with_name(path.name + ".tmp")
        self.file = open(self.tmp, "wb")  # noqa: SIM115 (held across appends, closed by finish)
        self.file.write(bytes(SECTOR))
        self.crc = 0
        self.written = 0

    def append(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        """Blocks for the next vectors (c, d) float32 with their graph rows int32
        (c, R + 1) of [degree, ids...]; c a multiple of per_sector unless last."""
        layout = self.layout
        c = vectors.shape[0]
        per, words = max(layout.per_sector, 1), layout.node_bytes // 4
        if layout.per_sector and c % per and self.written + c != layout.n:
            raise ValueError(f"{c} blocks do not fill whole sectors")
        groups = -(-c // per)
        blocks = np.zeros((groups * per, words), dtype=np.int32)
        blocks[:c, :layout.d] = np.asarray(vectors, dtype=np.float32).view(np.int32)
        blocks[:c, layout.d:] = rows
        sectors = np.zeros((groups, layout.read_bytes // 4), dtype=np.int32)
        sectors[:, :per * words] = blocks.reshape(groups, per * words)
        del blocks
        self.crc = zlib.crc32(sectors, self.crc)
        self.file.write(sectors)
        self.written += c

    def finish(self, entry: int) -> None:
        """Write the header, fsync and rename into place."""
        layout = self.layout
        if self.written != layout.n:
            raise ValueError(f"wrote {self.written} of {layout.n} nodes")
        self.file.seek(0)
        self.file.write(HEADER.pack(MAGIC, VERSION, 0, self.crc, layout.n, layout.d, layout.R,
                                    layout.node_bytes, layout.per_sector, layout.spans, entry))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


class NodeFile:
    """An open node file: header checked, blocks read with `pread` or through a map."""

    def __init__(self, path: Path, n: int, d: int, verify: bool = True) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        try:
            self.layout, self.entry, crc = self._header(n, d)
            if verify and self._crc() != crc:
                raise CorruptFile(f"{path}: checksum mismatch")
            # Blocks are read one at a time in no order: no readahead around them (20k
            # fixture, cold, L_search 48: 33.3 -> 24.0 device pages per query; the extra
            # pages were never asked for). After the CRC pass, which reads in order.
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_RANDOM)
        except BaseException:
            os.close(self.fd)
            raise
        self._map: mmap.mmap | None = None

    def _header(self, n: int, d: int) -> tuple[Layout, int, int]:
        raw = os.pread(self.fd, HEADER.size, 0)
        if len(raw) < HEADER.size:
            raise CorruptFile(f"{self.path}: truncated header")
        magic, version, _, crc, n_, d_, R, node_bytes, per_sector, spans, entry = \
            HEADER.unpack(raw)
        if magic != MAGIC:
            raise CorruptFile(f"{self.path}: not a DiskANN node file (bad magic)")
        if version != VERSION:
            raise CorruptFile(f"{self.path}: unsupported node file version {version}")
        layout = Layout(n_, d_, R)
        if (n_, d_) != (n, d):
            raise CorruptFile(f"{self.path}: node file covers {(n_, d_)} vectors, segment "
                              f"has {(n, d)}")
        if (node_bytes, per_sector, spans) != (layout.node_bytes, layout.per_sector,
                                               layout.spans) or not 0 <= entry < max(n, 1):
            raise CorruptFile(f"{self.path}: inconsistent header")
        if os.fstat(self.fd).st_size != layout.file_bytes:
            raise CorruptFile(f"{self.path}: size {os.fstat(self.fd).st_size} does not match "
                              f"{layout.file_bytes} for {n} nodes")
        return layout, entry, crc

    def _crc(self, chunk: int = 1 << 20) -> int:
        crc, offset = 0, SECTOR
        while block := os.pread(self.fd, chunk, offset):
            crc = zlib.crc32(block, crc)
            offset += len(block)
        return crc

    def read(self, offsets: np.ndarray, buffer: np.ndarray, prefetch: bool
             ) -> tuple[np.ndarray, int]:
        """Read the blocks at byte `offsets` (int64 (m,)) into `buffer` (uint8, room for
        m reads of read_bytes), one aligned read per distinct sector (run); with
        `prefetch`, all of them are first handed to the kernel's readahead so they are
        in flight together (a beam's W reads in parallel on a cold cache).
        Returns (word offset in buffer of each block int64 (m,), reads issued)."""
        span = self.layout.read_bytes
        starts = offsets - offsets % span if self.layout.per_sector else offsets
        unique, inverse = np.unique(starts, return_inverse=True)
        view = memoryview(buffer)
        if prefetch and unique.size > 1:
            for start in unique.tolist():
                os.posix_fadvise(self.fd, start, span, os.POSIX_FADV_WILLNEED)
        for i, start in enumerate(unique.tolist()):
            if os.preadv(self.fd, [view[i * span:(i + 1) * span]], start) != span:
                raise CorruptFile(f"{self.path}: short read at {start}")
        return (inverse * span + (offsets - starts)) // 4, unique.size

    def mapped(self) -> np.ndarray:
        """The whole file as uint8, memory-mapped read-only with random-access advice."""
        if self._map is None:
            self._map = mmap.mmap(self.fd, 0, access=mmap.ACCESS_READ)
            self._map.madvise(mmap.MADV_RANDOM)
        return np.frombuffer(self._map, dtype=np.uint8)

    def release_pages(self) -> None:
        """Drop the map's pages from this process (the page cache keeps them)."""
        if self._map is not None:
            self._map.madvise(mmap.MADV_DONTNEED)

    def drop_cache(self) -> None:
        """Ask the kernel to drop this file's pages from the page cache (a cold start)."""
        self.release_pages()
        os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a search holds a view: closes with it
                self._map.close()
        os.close(self.fd)
