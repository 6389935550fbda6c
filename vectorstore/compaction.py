"""Compaction planning: pure functions from segment statistics to a merge plan.

A plan is a list of groups of sealed-segment positions; each group is rewritten into one
new segment holding only its live rows. The I/O that carries a plan out lives in
`collection.py`; keeping planning pure makes it testable with hand-built numbers.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentStats:
    rows: int
    dead: int

    @property
    def live(self) -> int:
        return self.rows - self.dead


def plan_compaction(stats: list[SegmentStats], target_rows: int, max_segments: int = 8,
                    dead_fraction: float = 0.2, force: bool = False) -> list[list[int]]:
    """Groups of segment positions to rewrite.

    - With `force`, every segment with a dead row is rewritten, and runs of adjacent
      small segments (live rows below `target_rows` together) are merged.
    - Otherwise a segment is rewritten when more than `dead_fraction` of it is dead, and
      adjacent small segments are merged only when there are more than `max_segments`.
    """
    if not stats:
        return []
    merge_small = force or len(stats) > max_segments
    groups: list[list[int]] = []
    current: list[int] = []
    current_live = 0
    for pos, seg in enumerate(stats):
        small = merge_small and seg.live < target_rows
        if small and current_live + seg.live <= target_rows:
            current.append(pos)
            current_live += seg.live
            continue
        groups.append(current)
        current, current_live = ([pos], seg.live) if small else ([], 0)
        if not small:
            groups.append([pos])
    groups.append(current)
    threshold = 0 if force else dead_fraction
    return [g for g in groups if g and (len(g) > 1 or _dirty(stats[g[0]], threshold, force))]


def _dirty(seg: SegmentStats, threshold: float, force: bool) -> bool:
    if seg.dead == 0:
        return False
    return force or seg.dead > threshold * seg.rows
