"""A plain-Python brute-force twin of the store, written independently of it: the test
oracle for search, filters and gets."""

from typing import Any

import numpy as np


def field_values(payload: dict[str, Any], path: str) -> tuple[bool, list[Any]]:
    """(present, scalar values) at a dotted path."""
    node: Any = payload
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, []
        node = node[part]
    if isinstance(node, dict):
        return True, []
    if isinstance(node, list):
        return True, [v for v in node if not isinstance(v, dict | list)]
    return True, [node]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _in_range(value: Any, op: str, bound: Any) -> bool:
    numeric = isinstance(bound, int | float)
    if isinstance(value, bool) or value is None:
        return False
    if numeric != isinstance(value, int | float) or (not numeric and not isinstance(value, str)):
        return False
    return {"$gt": value > bound, "$gte": value >= bound, "$lt": value < bound,
            "$lte": value <= bound}[op]


def _condition(payload: dict[str, Any], path: str, cond: Any) -> bool:
    present, values = field_values(payload, path)
    if not isinstance(cond, dict):
        cond = {"$eq": cond}
    for op, arg in cond.items():
        if op == "$eq":
            ok = any(_same(v, arg) for v in values)
        elif op == "$ne":
            ok = not any(_same(v, arg) for v in values)
        elif op == "$in":
            ok = any(_same(v, a) for v in values for a in arg)
        elif op == "$nin":
            ok = not any(_same(v, a) for v in values for a in arg)
        elif op == "$exists":
            ok = present == arg
        else:
            ok = any(_in_range(v, op, arg) for v in values)
        if not ok:
            return False
    return True


def matches(payload: dict[str, Any], where: dict[str, Any] | None) -> bool:
    if where is None:
        return True
    for key, value in where.items():
        if key == "$and":
            ok = all(matches(payload, sub) for sub in value)
        elif key == "$or":
            ok = any(matches(payload, sub) for sub in value)
        elif key == "$not":
            ok = not matches(payload, value)
        else:
            ok = _condition(payload, key, value)
        if not ok:
            return False
    return True


def prepare(vector: np.ndarray, metric: str) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    if metric == "cosine":
        norm = np.linalg.norm(v)
        return v / norm if norm else v
    return v


def score(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    if metric == "l2":
        return float(np.sqrt(((a - b) ** 2).sum()))
    return float(a @ b)


def search(records: dict[str, tuple[np.ndarray, dict]], query: np.ndarray, k: int,
           metric: str, where: dict[str, Any] | None) -> list[tuple[str, float]]:
    """Exact top-k (id, score) among matching records, best first."""
    q = prepare(query, metric)
    scored = [(rid, score(prepare(vec, metric), q, metric))
              for rid, (vec, payload) in records.items() if matches(payload, where)]
    scored.sort(key=lambda item: item[1], reverse=metric != "l2")
    return scored[:k]
