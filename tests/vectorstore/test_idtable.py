"""The compact id table (the id map's base) against a dict: built from pairs or from
segments' stored id strings, updated, looked up one id or a batch at a time; a hash
shared by different ids is told apart by the stored bytes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorstore.arrayfile import pack_strings
from vectorstore.idtable import IdTable
from vectorstore.kernels.idhash import hash_strings

ids = st.text(min_size=1, max_size=12)  # any Unicode, as ids may be
rows = st.integers(0, 2**32 - 1)


def check(table: IdTable, oracle: dict[str, int], probes: list[str]) -> None:
    asked = [*oracle, *probes]
    assert len(table) == len(oracle)
    assert table.get_many(asked) == [oracle.get(rid) for rid in asked]
    assert all(table.get(rid) == oracle.get(rid) for rid in asked)


@settings(max_examples=200, deadline=None)
@given(start=st.dictionaries(ids, rows, max_size=30),
       changes=st.lists(st.dictionaries(ids, st.none() | rows, max_size=10), max_size=5),
       probes=st.lists(ids, max_size=10))
def test_table_answers_as_a_dict(start, changes, probes):
    table, oracle = IdTable.from_pairs(start.items()), dict(start)
    check(table, oracle, probes)
    for change in changes:
        table = table.updated(change)
        for rid, row in change.items():
            if row is None:
                oracle.pop(rid, None)
            else:
                oracle[rid] = row
        check(table, oracle, probes)


@settings(max_examples=100, deadline=None)
@given(segments=st.lists(st.dictionaries(ids, st.booleans(), max_size=12), max_size=4),
       probes=st.lists(ids, max_size=10))
def test_table_of_segments_holds_their_live_rows(segments, probes):
    """Each segment: its ids (distinct across segments) with whether the row is live."""
    seen: set[str] = set()
    parts, oracle, row = [], {}, 0
    for segment in segments:
        names = [rid for rid in segment if rid not in seen]
        seen.update(names)
        blob, offsets = pack_strings([rid.encode() for rid in names])
        live = np.array([i for i, rid in enumerate(names) if segment[rid]], dtype=np.int64)
        rowids = np.arange(row, row + len(names), dtype=np.uint32)
        oracle.update({names[i]: row + i for i in live.tolist()})
        parts.append((blob, offsets, live, rowids[live]))
        row += len(names) + 5
    check(IdTable.from_segments(parts), oracle, probes)


def test_a_shared_hash_is_told_apart_by_the_stored_id():
    """Four ids stored under one hash (that of "c", as a collision would): a lookup of
    "c" walks them and answers the entry whose bytes are "c", not the first of the run."""
    blob, offsets = pack_strings([b"a", b"bb", b"c", b"cc"])
    shared = hash_strings(*pack_strings([b"c"]))[0]
    table = IdTable(np.full(4, shared, dtype=np.uint64), np.arange(10, 14, dtype=np.uint32),
                    offsets[:-1], np.diff(offsets).astype(np.uint16), blob)
    assert table.get_many(["c", "a", "cc", "d"]) == [12, None, None, None]


def test_removed_ids_bytes_are_dropped_once_they_dominate():
    """The blob keeps removed ids' bytes until they are most of it, then is repacked:
    many rounds of replacing every id leave it bounded, and every id still found."""
    table = IdTable.from_pairs((f"id-0-{i}", i) for i in range(500))
    for round_ in range(1, 30):
        table = table.updated({f"id-{round_ - 1}-{i}": None for i in range(500)} |
                              {f"id-{round_}-{i}": i for i in range(500)})
        assert len(table) == 500
        assert table.get_many([f"id-{round_}-{i}" for i in range(500)]) == list(range(500))
    assert table.blob.shape[0] < 3 * sum(len(f"id-29-{i}") for i in range(500)) + 4096
