"""Compaction planning is pure: hand-built statistics in, groups of positions out."""

from vectorstore.compaction import SegmentStats, plan_compaction, plan_growth


def s(rows: int, dead: int = 0) -> SegmentStats:
    return SegmentStats(rows, dead)


def test_nothing_to_do():
    assert plan_compaction([], 100) == []
    assert plan_compaction([s(100), s(100)], 100) == []


def test_mostly_dead_segment_is_rewritten_alone():
    assert plan_compaction([s(100, 5), s(100, 30), s(100)], 100) == [[1]]


def test_small_segments_are_merged_in_runs_up_to_target():
    assert plan_compaction([s(30)] * 10, 100) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_few_small_segments_wait_unless_forced():
    stats = [s(30), s(30), s(100, 1)]
    assert plan_compaction(stats, 100) == []
    assert plan_compaction(stats, 100, force=True) == [[0, 1], [2]]


def test_large_segment_breaks_a_run():
    stats = [s(10)] * 5 + [s(500)] + [s(10)] * 5
    assert plan_compaction(stats, 100) == [[0, 1, 2, 3, 4], [6, 7, 8, 9, 10]]


def test_merged_segment_keeps_growing_until_target():
    assert plan_compaction([s(80), s(20)], 100) == []
    assert plan_compaction([s(60), s(10), s(10), s(10)], 100) == [[0, 1, 2, 3]]


def test_dead_rows_count_against_size():
    assert plan_compaction([s(100, 80), s(100, 80)], 100, force=True) == [[0, 1]]


def test_full_segments_grow_into_the_older_one_geometrically():
    """The run of full segments after the oldest full one joins it once the run holds
    `fraction` of its rows; a segment with dead rows is never grown (its graph cannot
    be reused), and a small one never joins a run."""
    assert plan_growth([s(100), s(100)], 100, 0.5) == [[0, 1]]
    assert plan_growth([s(300), s(100)], 100, 0.5) == []
    assert plan_growth([s(300), s(100), s(100)], 100, 0.5) == [[0, 1, 2]]
    assert plan_growth([s(300, 1), s(100), s(100)], 100, 0.5) == [[1, 2]]
    assert plan_growth([s(300), s(100), s(40), s(100)], 100, 0.5) == []
    assert plan_growth([s(1000), s(200), s(200)], 100, 0.5) == [[1, 2]]
    assert plan_growth([s(50), s(100)], 100, 0.5) == []


def test_growth_keeps_a_large_collection_to_few_segments():
    """Sealing full segments one at a time, growing after each: ten targets' worth of
    rows end as at most three segments (without growth: ten)."""
    stats: list[SegmentStats] = []
    for _ in range(10):
        stats.append(s(100))
        while plan := plan_growth(stats, 100, 0.5):
            group = plan[0]
            merged = s(sum(stats[i].live for i in group))
            stats = stats[:group[0]] + [merged] + stats[group[-1] + 1:]
    assert sum(x.rows for x in stats) == 1000 and len(stats) <= 3
