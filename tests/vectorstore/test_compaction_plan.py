"""Compaction planning is pure: hand-built statistics in, groups of positions out."""

from vectorstore.compaction import SegmentStats, plan_compaction


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
