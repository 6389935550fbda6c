"""A self-checking container for one numpy array, opened memory-mapped.

Layout: a 64-byte header (magic, format version, dtype, ndim, shape, CRC32 of the data)
followed by the raw C-order data. Sealed segments and their indexes store every array
this way, so a torn or corrupted file is detected on open instead of answering wrong.
"""

import mmap as mmap_module
import os
import struct
from itertools import accumulate
from pathlib import Path

import numpy as np
from isal.isal_zlib import crc32

from .errors import CorruptFile
from .fsutil import atomic_write, fsync_dir

MAGIC = b"SLARRAY\x00"
VERSION = 1
HEADER = struct.Struct("<8sHH4sI4Q12x")  # magic, version, ndim, dtype, crc, shape[4]
HEADER_SIZE = 64
assert HEADER.size == HEADER_SIZE
DTYPES = {"f4": np.float32, "f8": np.float64, "i4": np.int32, "i8": np.int64,
          "u1": np.uint8, "u4": np.uint32, "u8": np.uint64, "i1": np.int8}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}


def write_array(path: Path, array: np.ndarray) -> None:
    """Write `array` (at most 4-d) to `path` atomically with a checksum."""
    array = np.ascontiguousarray(array)
    code = CODES.get(array.dtype)
    if code is None or array.ndim > 4:
        raise TypeError(f"unsupported array {array.dtype} with {array.ndim} dims")
    data = array.tobytes()
    shape = list(array.shape) + [0] * (4 - array.ndim)
    header = HEADER.pack(MAGIC, VERSION, array.ndim, code.encode().ljust(4, b"\0"),
                         crc32(data), *shape)
    atomic_write(path, header + data)


def write_rows(path: Path, parts: list[tuple[np.ndarray, np.ndarray]], dim: int,
               chunk_rows: int = 4096) -> None:
    """Write the float32 rows `rows` of each (array, rows) part, in order, as one (n, dim)
    array file, streaming: at most `chunk_rows` rows are in RAM at a time and the pages
    of mapped sources are released after each chunk, so a merge of segments larger than
    memory can be written. Atomic like `write_array`."""
    n = sum(rows.size for _, rows in parts)
    tmp = path.with_name(path.name + ".tmp")
    crc = 0
    with open(tmp, "wb") as f:
        f.write(bytes(HEADER_SIZE))
        for array, rows in parts:
            for start in range(0, rows.size, chunk_rows):
                data = np.ascontiguousarray(array[rows[start:start + chunk_rows]],
                                            dtype=np.float32).tobytes()
                drop_pages(array)
                crc = crc32(data, crc)
                f.write(data)
        f.seek(0)
        f.write(HEADER.pack(MAGIC, VERSION, 2, b"f4\0\0", crc, n, dim, 0, 0))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_array(path: Path, mmap: bool = True, verify: bool = True) -> np.ndarray:
    """Open an array written by `write_array`; memory-mapped and read-only when `mmap`.

    A mapped array is returned as a plain ndarray view of the mapping: `np.memmap`
    runs Python code on every slice, which showed up as 9% of a search request.
    """
    with open(path, "rb") as f:
        raw = f.read(HEADER_SIZE)
    if len(raw) < HEADER_SIZE:
        raise CorruptFile(f"{path}: truncated header ({len(raw)} bytes)")
    magic, version, ndim, code, crc, *shape = HEADER.unpack(raw)
    if magic != MAGIC:
        raise CorruptFile(f"{path}: not an array file (bad magic)")
    if version != VERSION:
        raise CorruptFile(f"{path}: unsupported array format version {version}")
    dtype = np.dtype(DTYPES[code.rstrip(b"\0").decode()])
    shape = tuple(shape[:ndim])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if path.stat().st_size != HEADER_SIZE + expected:
        raise CorruptFile(f"{path}: size {path.stat().st_size} does not match shape {shape}")
    if mmap and expected > 0:
        mapped = np.memmap(path, dtype=dtype, mode="r", offset=HEADER_SIZE, shape=shape)
        array = mapped.view(np.ndarray)
    else:
        array = np.fromfile(path, dtype=dtype, offset=HEADER_SIZE).reshape(shape)
    if verify and _file_crc(path) != crc:
        raise CorruptFile(f"{path}: checksum mismatch")
    return array


def _mapping(array: np.ndarray) -> mmap_module.mmap | None:
    """The memory map `array` is a view of, or None."""
    base = array
    while base is not None:
        if isinstance(base, mmap_module.mmap):
            return base
        base = getattr(base, "base", None)
    return None


def is_mapped(array: np.ndarray) -> bool:
    """Whether `array` is a view of a memory-mapped file."""
    return _mapping(array) is not None


def mapped_path(array: np.ndarray) -> Path | None:
    """The file `array` is memory-mapped from (as `read_array` maps it), or None."""
    base = array
    while base is not None:
        if isinstance(base, np.memmap) and base.filename:
            return Path(base.filename)
        base = getattr(base, "base", None)
    return None


def drop_pages(array: np.ndarray) -> None:
    """Release the pages of the memory map under `array` from this process (the page
    cache keeps them; the next access maps them again). A no-op for arrays in RAM. A
    build that streams a file larger than its memory budget calls it after each chunk,
    so the process's resident size stays within the budget."""
    mapping = _mapping(array)
    if mapping is not None:
        mapping.madvise(mmap_module.MADV_DONTNEED)


def _file_crc(path: Path, chunk: int = 1 << 20) -> int:
    """CRC32 of the data part, read through the page cache rather than the mapping so a
    memory-mapped file is not pulled into the process's resident memory (1 MiB at a
    time into one buffer: opening a segment under a small memory budget must not take
    16). isal's CRC-32 is zlib's, several times faster: with the reads into one reused
    buffer, checking 500 MB in the page cache takes ~0.1 s instead of ~0.3-0.6 s."""
    crc = 0
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        f.seek(HEADER_SIZE)
        while size := f.readinto(buffer):
            crc = crc32(view[:size], crc)
    return crc


def pack_strings(items: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings as one uint8 blob (back to back) and int64 offsets (n + 1)."""
    offsets = np.fromiter(accumulate(map(len, items), initial=0), np.int64, len(items) + 1)
    return np.frombuffer(b"".join(items), dtype=np.uint8), offsets


def write_strings(directory: Path, name: str, items: list[bytes]) -> None:
    """Write byte strings as two array files: `<name>.off` (the offsets) and
    `<name>.blob` (the bytes), as `pack_strings` lays them out."""
    blob, offsets = pack_strings(items)
    write_array(directory / f"{name}.off", offsets)
    write_array(directory / f"{name}.blob", blob)


class StringArray:
    """Memory-mapped UTF-8 strings written by `write_strings`."""

    def __init__(self, directory: Path, name: str) -> None:
        self.offsets = read_array(directory / f"{name}.off")
        self.blob = read_array(directory / f"{name}.blob")
        self._bytes = memoryview(self.blob)  # slicing a memoryview is cheaper than numpy's

    def __getitem__(self, i: int) -> bytes:
        return self._bytes[self.offsets.item(i):self.offsets.item(i + 1)].tobytes()

    def views(self, rows: list[int]) -> list[memoryview]:
        """The strings at `rows`, as views into the mapping (no copy)."""
        offsets, data = self.offsets, self._bytes
        return [data[offsets.item(i):offsets.item(i + 1)] for i in rows]

    def __len__(self) -> int:
        return self.offsets.shape[0] - 1
