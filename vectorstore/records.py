"""Encoding of the collection's WAL records: one upsert batch or one delete batch.

upsert: b"U" | n u32 | dim u32 | first_rowid u64 | meta_len u32 | meta JSON | vectors
delete: b"D" | JSON {"ids": [...]}
meta holds the ids, the payloads and `delete`: ids removed by the same atomic batch
(absent in records written before atomic replace existed). Vectors are raw float32,
already prepared by the metric, so replay applies exactly what was acknowledged.
"""

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import CorruptLog

UPSERT_HEAD = struct.Struct("<cIIQI")


@dataclass(frozen=True)
class Upsert:
    first_rowid: int
    ids: list[str]
    vectors: np.ndarray
    payloads: list[dict[str, Any]]
    deletes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Delete:
    ids: list[str]


def encode_upsert(op: Upsert) -> bytes:
    body = {"ids": op.ids, "payloads": op.payloads}
    if op.deletes:
        body["delete"] = op.deletes
    meta = json.dumps(body, separators=(",", ":")).encode()
    n, dim = op.vectors.shape
    return UPSERT_HEAD.pack(b"U", n, dim, op.first_rowid, len(meta)) + meta + \
        op.vectors.astype(np.float32, copy=False).tobytes()


def encode_delete(op: Delete) -> bytes:
    return b"D" + json.dumps({"ids": op.ids}, separators=(",", ":")).encode()


def decode(payload: bytes) -> Upsert | Delete:
    """Decode a record written by `encode_upsert` or `encode_delete`."""
    kind = payload[:1]
    if kind == b"D":
        return Delete(json.loads(payload[1:])["ids"])
    if kind != b"U":
        raise CorruptLog(f"unknown WAL record kind {kind!r}")
    _, n, dim, first_rowid, meta_len = UPSERT_HEAD.unpack_from(payload, 0)
    start = UPSERT_HEAD.size
    meta = json.loads(payload[start:start + meta_len])
    vectors = np.frombuffer(payload, dtype=np.float32, offset=start + meta_len).reshape(n, dim)
    return Upsert(first_rowid, meta["ids"], vectors, meta["payloads"], meta.get("delete", []))
