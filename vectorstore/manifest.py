"""The collection manifest: which sealed segments exist and up to where the WAL is
checkpointed, replaced atomically (temp file, fsync, rename) on every change.

File: `manifest.json` = {"format", "version", "crc32", "body"}, the CRC computed over the
canonical JSON of the body, so a damaged manifest is refused instead of misread.
"""

import base64
import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyroaring import BitMap

from .config import CollectionConfig, parse_index_config, parse_text_config
from .errors import CorruptFile
from .fsutil import atomic_write

FORMAT = "sleuth-collection-manifest"
VERSION = 1
NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    config: CollectionConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    segments: tuple[str, ...] = ()
    next_segment: int = 1
    checkpoint_seq: int = 0
    next_rowid: int = 0
    tombstones: BitMap = field(default_factory=BitMap)


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def write_manifest(directory: Path, manifest: Manifest) -> None:
    config = asdict(manifest.config)
    body = {
        "config": config,
        "metadata": manifest.metadata,
        "segments": list(manifest.segments),
        "next_segment": manifest.next_segment,
        "checkpoint_seq": manifest.checkpoint_seq,
        "next_rowid": manifest.next_rowid,
        "tombstones": base64.b64encode(manifest.tombstones.serialize()).decode(),
    }
    doc = {"format": FORMAT, "version": VERSION, "crc32": zlib.crc32(_canonical(body)),
           "body": body}
    atomic_write(directory / NAME, json.dumps(doc, indent=1).encode())


def read_manifest(directory: Path) -> Manifest:
    path = directory / NAME
    try:
        doc = json.loads(path.read_bytes())
        body = doc["body"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFile(f"{path}: unreadable manifest ({exc})") from None
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise CorruptFile(f"{path}: not a version-{VERSION} collection manifest")
    if doc.get("crc32") != zlib.crc32(_canonical(body)):
        raise CorruptFile(f"{path}: checksum mismatch")
    config = dict(body["config"])
    config["index"] = parse_index_config(config["index"])
    config["text"] = parse_text_config(config.get("text"))  # absent before text indexes
    return Manifest(
        config=CollectionConfig(**config),
        metadata=body["metadata"],
        segments=tuple(body["segments"]),
        next_segment=body["next_segment"],
        checkpoint_seq=body["checkpoint_seq"],
        next_rowid=body["next_rowid"],
        tombstones=BitMap.deserialize(base64.b64decode(body["tombstones"])),
    )
