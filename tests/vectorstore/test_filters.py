"""Filters compiled against the inverted index select exactly what the plain-Python
oracle selects, for random payloads and random filters."""

from hypothesis import given, settings
from hypothesis import strategies as st

from vectorstore.filters import compile_filter
from vectorstore.payloads import PayloadIndex

from . import oracle
from .strategies import filters, payloads


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(payloads, max_size=25), where=filters)
def test_compiled_filter_equals_oracle(rows, where):
    index = PayloadIndex()
    index.add(0, rows)
    expected = {row for row, payload in enumerate(rows) if oracle.matches(payload, where)}
    assert set(compile_filter(where, index)) == expected


def test_numeric_and_string_ranges():
    index = PayloadIndex()
    values = [1, 2.5, 3, "2024-01-05", "2024-03-01", True, None, 10]
    index.add(0, [{"v": value} for value in values])
    assert set(compile_filter({"v": {"$gte": 2.5, "$lt": 10}}, index)) == {1, 2}
    assert set(compile_filter({"v": {"$gt": "2024-01-31"}}, index)) == {4}
    assert set(compile_filter({"v": 1}, index)) == {0}
    assert set(compile_filter({"v": {"$ne": None}}, index)) == set(range(8)) - {6}
