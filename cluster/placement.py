"""Where a record lives: a stable hash of its placement key picks its shard.

The key is the record's document (`doc_id` in its payload, as ingest writes it), else
its own id, so all chunks of a document share a shard: deleting or re-ingesting a
document touches one shard. The hash is BLAKE2b, the same in every process and release
(Python's `hash` is salted per process).
"""

import hashlib
from typing import Any

DOCUMENT_FIELD = "doc_id"


def placement_key(record_id: str, payload: dict[str, Any] | None) -> str:
    """The string whose hash places a record: its document id, else its id."""
    document = payload.get(DOCUMENT_FIELD) if payload else None
    return document if isinstance(document, str) else record_id


def shard_of(key: str, shards: int) -> int:
    """The shard, in [0, shards), of a placement key."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards
