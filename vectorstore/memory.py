"""Where a collection's resident bytes are, and how a memory budget is shared.

Resident bytes are what searches keep in RAM: each sealed segment's index (`nbytes()`:
for diskann the PQ codes, codebooks and pinned node cache; for hnsw the graph and the
float32 vectors it walks; ...) and the write buffer, counted at its capacity (seal_rows
float32 rows: it grows to that before it is sealed). The id map and the payload index
are Python objects and are not counted; the report says so.

A budget is shared by a pure rule: the fixed part (every index but its node cache, and
the buffer) comes first; what is left goes to the diskann segments' node caches in
proportion to their rows. When the fixed part alone is over the budget the caches get
nothing and the report says the budget is not met.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

NOT_COUNTED = "the id map and the payload index (Python objects) are not counted"


@dataclass(frozen=True)
class SegmentMemory:
    name: str
    index: str
    rows: int
    resident_bytes: int
    cache_bytes: int
    disk_bytes: int


def segment_memory(segment: Any) -> SegmentMemory:
    """The memory figures of one sealed segment."""
    index = segment.index
    cache = index.cache_bytes() if hasattr(index, "cache_bytes") else 0
    return SegmentMemory(segment.name, index.kind, len(segment), int(index.nbytes()), cache,
                         segment.disk_bytes())


def cache_shares(budget: int, fixed: int, rows: Sequence[int]) -> list[int]:
    """Bytes of node cache for each cacheable segment of `rows` rows: budget less the
    fixed bytes, split in proportion to rows (0 each when nothing is left)."""
    left = max(0, budget - fixed)
    total = sum(rows)
    return [left * r // total if total else 0 for r in rows]


def report(segments: Sequence[SegmentMemory], buffer_bytes: int, budget: int | None
           ) -> dict[str, Any]:
    """The `memory` section of a collection's stats."""
    resident = buffer_bytes + sum(s.resident_bytes for s in segments)
    return {
        "budget_bytes": budget,
        "resident_bytes": resident,
        "within_budget": None if budget is None else resident <= budget,
        "buffer_bytes": buffer_bytes,
        "disk_bytes": sum(s.disk_bytes for s in segments),
        "segments": [asdict(s) for s in segments],
        "not_counted": NOT_COUNTED,
    }
