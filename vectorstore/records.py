"""Encoding of the collection's WAL records: one upsert batch or one delete batch.

upsert: b"U" | n u32 | dim u32 | first_rowid u64 | meta_len u32 | meta JSON | vectors
delete: b"D" | JSON {"ids": [...]}
meta is {"ids": [...], "payloads": [...], "delete": [...]}: `delete` lists ids removed
by the same atomic batch (absent when none, and in records written before atomic
replace existed). Payloads are spliced in as their canonical JSON. Vectors are raw
float32, already prepared by the metric, so replay applies exactly what was
acknowledged.
"""

import json
import struct
from typing import Any, NamedTuple

import numpy as np
import orjson

from .errors import CorruptLog

UPSERT_HEAD = struct.Struct("<cIIQI")


class Upsert(NamedTuple):
    """An upsert batch as logged (a named tuple: built for every write, and a frozen
    dataclass costs ~4x more to build)."""

    first_rowid: int
    ids: list[str]
    vectors: np.ndarray
    payloads: list[bytes]
    """Each payload's canonical JSON (`validate.encode_payload`)."""
    objects: list[dict[str, Any]]
    """The same payloads as objects, for the payload index."""
    deletes: list[str]
    """Ids the same atomic batch removes."""


class Delete(NamedTuple):
    """A delete batch as logged."""

    ids: list[str]


Parts = list[bytes | memoryview]
"""A record's bytes in order, left in parts: the WAL checksums and writes them as they
are (joining them would copy the vectors twice more per batch)."""


def encode_upsert(op: Upsert) -> Parts:
    meta = [b'{"ids":', orjson.dumps(op.ids), b',"payloads":[', b",".join(op.payloads), b"]"]
    if op.deletes:
        meta += [b',"delete":', orjson.dumps(op.deletes)]
    meta.append(b"}")
    n, dim = op.vectors.shape
    vectors = np.ascontiguousarray(op.vectors, dtype=np.float32).reshape(-1).view(np.uint8)
    return [UPSERT_HEAD.pack(b"U", n, dim, op.first_rowid, sum(map(len, meta))), *meta,
            memoryview(vectors)]


def encode_delete(op: Delete) -> Parts:
    return [b"D", orjson.dumps({"ids": op.ids})]


def encode(op: Upsert | Delete) -> Parts:
    return encode_upsert(op) if isinstance(op, Upsert) else encode_delete(op)


def row_span(payload: bytes) -> tuple[int, int] | None:
    """[first, end) of the row ids an upsert record claims, read from its fixed header
    alone (so even a record whose meta cannot be decoded); None for anything else."""
    if payload[:1] != b"U" or len(payload) < UPSERT_HEAD.size:
        return None
    _, n, _, first_rowid, _ = UPSERT_HEAD.unpack_from(payload, 0)
    return first_rowid, first_rowid + n


def decode(payload: bytes) -> Upsert | Delete:
    """Decode a record written by `encode_upsert` or `encode_delete`. The payloads'
    bytes are left empty: replay re-encodes (and re-checks) the objects."""
    kind = payload[:1]
    if kind == b"D":
        return Delete(json.loads(payload[1:])["ids"])
    if kind != b"U":
        raise CorruptLog(f"unknown WAL record kind {kind!r}")
    _, n, dim, first_rowid, meta_len = UPSERT_HEAD.unpack_from(payload, 0)
    start = UPSERT_HEAD.size
    meta = json.loads(payload[start:start + meta_len])
    vectors = np.frombuffer(payload, dtype=np.float32, offset=start + meta_len).reshape(n, dim)
    return Upsert(first_rowid, meta["ids"], vectors, [], meta["payloads"],
                  meta.get("delete", []))
