"""Hostile inputs shared by the library and HTTP poison suites: the cases of issue #12
and a hypothesis strategy of hostile JSON payloads."""

import enum
import json

import numpy as np
from hypothesis import strategies as st


class _Level(enum.IntEnum):
    HIGH = 3


def nested(depth: int, leaf: object = 1) -> object:
    """A list nested `depth` deep around `leaf` (built without recursion)."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def deep_filter(depth: int, op: str = "$not") -> dict:
    """A filter with `depth` levels of `op` ($not or $and) around {"n": 1}."""
    where: dict = {"n": 1}
    for _ in range(depth):
        where = {"$not": where} if op == "$not" else {"$and": [where]}
    return where


POISON_PAYLOADS = {
    "int beyond float range": {"n": 10**400},
    "int beyond 2**53": {"n": 2**53 + 1},
    "nested 950 deep": {"deep": nested(950)},
    "nested 255 deep": {"deep": nested(255)},
    "nested 33 deep": {"deep": nested(32)},
    "lone surrogate value": {"s": "\udc00"},
    "lone surrogate key": {"\ud800x": 1},
    "surrogate deep inside": {"a": [{"b": ["ok", "bad \udfff"]}]},
    "nan": {"x": float("nan")},
    "infinity": {"x": float("-inf")},
    "huge string": {"s": "x" * (1 << 20)},
    "non-string key": {1: "x"},
    "bytes value": {"b": b"\x00"},
}
"""Payloads the store must refuse whole (each with ValueError / HTTP 4xx)."""

FINE_PAYLOADS = {
    "nested 31 deep": {"deep": nested(30)},
    "max int": {"n": 2**53 - 1, "m": -(2**53 - 1)},
    "tiny and huge floats": {"a": 5e-324, "b": 1.7976931348623157e308, "c": -0.0},
    "odd unicode": {"s": "\x00\u200f\ufeff\uffff\U0010ffff e\u0301 🦀", "\u0000k": "nul key"},
    "odd keys": {"": 1, ".": 2, "$gt": 3, "a.b": 4, "a": {"b": 5}},
    "big string": {"s": "y" * 500_000},
    "numpy float and int enum": {"f": np.float64(0.25), "e": _Level.HIGH},
}
"""Odd payloads the store must accept and give back intact."""

DEEP_FILTERS = {f"{op} x {depth}": deep_filter(depth, op)
                for op in ("$not", "$and") for depth in (33, 500, 1000, 5000)}


def deep_filter_text(depth: int, op: str = "$not") -> str:
    """`deep_filter(depth, op)` as JSON text (json.dumps recurses too deep for it)."""
    head, tail = ('{"$not": ', "}") if op == "$not" else ('{"$and": [', "]}")
    return head * depth + '{"n": 1}' + tail * depth

_keys = st.one_of(st.text(max_size=8), st.sampled_from(["", ".", "$or", "a.b", "\ud800", "k"]))
_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**53 - 1, 2**53, -(2**53), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([5e-324, -0.0, 1.7976931348623157e308]),
    st.text(max_size=20),
    st.sampled_from(["\udc00", "a\ud83dz", "\U0001f980", "\x00", "\u202e"]),
    st.builds(lambda n: "z" * n, st.sampled_from([70_000, 400_000, 1_100_000])),
)


@st.composite
def _deep(draw: st.DrawFn) -> object:
    return nested(draw(st.sampled_from([20, 31, 32, 40, 300])), draw(_scalars))


hostile_values = st.recursive(
    st.one_of(_scalars, _deep()),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)
hostile_payloads = st.dictionaries(_keys, hostile_values, max_size=5)
"""JSON-ish objects with big and small numbers, deep nesting, odd Unicode, huge strings."""


def as_stored(payload: dict) -> dict:
    """What the store gives back for an accepted payload: the JSON round trip."""
    return json.loads(json.dumps(payload, ensure_ascii=False))
