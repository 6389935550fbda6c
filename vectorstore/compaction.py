"""Compaction planning: pure functions from segment statistics to a merge plan.

A plan is a list of groups of sealed-segment positions; each group is rewritten into one
new segment holding only its live rows. Fewer, larger segments make searches cheaper
(one graph walk instead of several), so small segments are merged in the background
once enough of them pile up. An index whose graph can grow by insertion (hnsw) also
grows past the merge target, geometrically (`plan_growth`), so a large collection is a
few graphs, not one per target's worth of rows. The I/O that carries a plan out lives in
`collection_segments.py`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentStats:
    rows: int
    dead: int

    @property
    def live(self) -> int:
        return self.rows - self.dead


def plan_compaction(stats: list[SegmentStats], target_rows: int, min_small: int = 4,
                    dead_fraction: float = 0.2, force: bool = False) -> list[list[int]]:
    """Groups of segment positions to rewrite.

    A segment is small when its live rows are below `target_rows`. Adjacent small
    segments are merged in runs of at most `target_rows` live rows when at least
    `min_small` segments are small (or always with `force`). A segment not merged is
    rewritten alone when more than `dead_fraction` of it is dead (any dead row with
    `force`).
    """
    small = [seg.live < target_rows for seg in stats]
    merge = force or sum(small) >= min_small
    groups: list[list[int]] = []
    run: list[int] = []
    run_live = 0
    for pos, seg in enumerate(stats):
        if merge and small[pos] and run_live + seg.live <= target_rows:
            run.append(pos)
            run_live += seg.live
            continue
        groups.append(run)
        run, run_live = ([pos], seg.live) if merge and small[pos] else ([], 0)
        if not (merge and small[pos]):
            groups.append([pos])
    groups.append(run)
    return [g for g in groups if len(g) > 1 or (g and _dirty(stats[g[0]], dead_fraction, force))]


def _dirty(seg: SegmentStats, dead_fraction: float, force: bool) -> bool:
    return seg.dead > 0 and (force or seg.dead > dead_fraction * seg.rows)


def plan_growth(stats: list[SegmentStats], target_rows: int, fraction: float
                ) -> list[list[int]]:
    """At most one group: the oldest full segment (live rows at least `target_rows`) with
    no dead rows, followed by the run of full segments after it once their live rows
    reach `fraction` of its own. The group is merged by inserting the run's rows into a
    copy of the first one's graph, so a row is inserted again only when its segment is
    in a run, and each merge makes the first segment at least 1 + `fraction` times
    larger: the segments stay few (about log base 1 + fraction of the rows over
    target_rows) and the bytes rewritten stay a small multiple of the rows.
    """
    for first, head in enumerate(stats):
        if head.dead or head.live < target_rows:
            continue
        end, run = first + 1, 0
        while end < len(stats) and stats[end].live >= target_rows:
            run += stats[end].live
            end += 1
        if end > first + 1 and run >= fraction * head.live:
            return [list(range(first, end))]
    return []
