"""The `where` language, compiled into one roaring bitmap of matching row ids.

Mongo-like: `{"source": "a.pdf", "page": {"$gte": 3}, "$or": [...]}`. A bare value means
$eq; several keys in one object are ANDed. Negations ($ne, $nin, $not, $exists: false)
match rows lacking the field, as in MongoDB. Every mistake raises `InvalidFilter` naming
the path inside the filter where it is, before anything is evaluated.
"""

from typing import Any

from pyroaring import BitMap

from .errors import InvalidFilter
from .payloads import KEY_TYPES, PayloadIndex

LOGICAL = {"$and", "$or", "$not"}
COMPARISON = {"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"}
MAX_DEPTH = 32
RANGE = {"$gt": ("low", False), "$gte": ("low", True), "$lt": ("high", False),
         "$lte": ("high", True)}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, KEY_TYPES)


def _is_orderable(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def validate(where: Any) -> None:
    """Raise InvalidFilter if `where` is not a well-formed filter nested at most
    MAX_DEPTH logical operators deep (checked iteratively, so any depth is refused
    cleanly; compiling then recurses at most MAX_DEPTH levels)."""
    pending: list[tuple[Any, str, int]] = [(where, "where", 0)]
    while pending:
        node, at, depth = pending.pop()
        if not isinstance(node, dict):
            raise InvalidFilter(f"{at}: a filter must be an object, got {type(node).__name__}")
        if depth > MAX_DEPTH:
            raise InvalidFilter(f"{at}: filter nested deeper than {MAX_DEPTH} levels of "
                                "$and/$or/$not")
        for key, value in node.items():
            here = f"{at}.{key}"
            if key in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise InvalidFilter(f"{here}: expects a non-empty list of filters")
                pending.extend(reversed([(sub, f"{here}[{i}]", depth + 1)
                                         for i, sub in enumerate(value)]))
            elif key == "$not":
                pending.append((value, here, depth + 1))
            elif key.startswith("$"):
                known = sorted(LOGICAL)
                raise InvalidFilter(f"{here}: unknown operator {key!r} at top level; "
                                    f"known: {known}")
            elif not key:
                raise InvalidFilter(f"{here}: empty field name")
            else:
                _validate_condition(value, here)


def _validate_condition(cond: Any, at: str) -> None:
    if not isinstance(cond, dict):
        if not _is_scalar(cond):
            raise InvalidFilter(f"{at}: expects a string, number, bool, null or an operator "
                                f"object, got {type(cond).__name__}")
        return
    if not cond:
        raise InvalidFilter(f"{at}: empty operator object")
    for op, operand in cond.items():
        here = f"{at}.{op}"
        if op not in COMPARISON:
            raise InvalidFilter(f"{here}: unknown operator {op!r}; known: {sorted(COMPARISON)}")
        if op in ("$eq", "$ne") and not _is_scalar(operand):
            raise InvalidFilter(f"{here}: expects a scalar, got {type(operand).__name__}")
        if op in ("$in", "$nin") and (not isinstance(operand, list)
                                       or not all(_is_scalar(v) for v in operand)):
            raise InvalidFilter(f"{here}: expects a list of scalars")
        if op in RANGE and not _is_orderable(operand):
            raise InvalidFilter(f"{here}: expects a number or a string, "
                                f"got {type(operand).__name__}")
        if op == "$exists" and not isinstance(operand, bool):
            raise InvalidFilter(f"{here}: expects true or false")
    bounds = [v for op, v in cond.items() if op in RANGE]
    if len({isinstance(v, str) for v in bounds}) > 1:
        raise InvalidFilter(f"{at}: range bounds mix strings and numbers")


def compile_filter(where: dict[str, Any], index: PayloadIndex) -> BitMap:
    """Rows matching `where` (validated first). Tombstones are not subtracted here."""
    validate(where)
    with index.lock:
        return _compile(where, index)


def _compile(where: dict[str, Any], index: PayloadIndex) -> BitMap:
    parts = []
    for key, value in where.items():
        if key == "$and":
            parts.extend(_compile(sub, index) for sub in value)
        elif key == "$or":
            parts.append(BitMap.union(*(_compile(sub, index) for sub in value)))
        elif key == "$not":
            parts.append(index.all_rows() - _compile(value, index))
        else:
            parts.append(_condition(key, value, index))
    if not parts:
        return index.all_rows()
    result = parts[0]
    for part in parts[1:]:
        result = result & part
    return result


def _condition(path: str, cond: Any, index: PayloadIndex) -> BitMap:
    if not isinstance(cond, dict):
        return index.equal_rows(path, cond)
    result: BitMap | None = None
    bounds: dict[str, tuple[Any, bool]] = {}
    for op, operand in cond.items():
        if op in RANGE:
            side, inclusive = RANGE[op]
            bounds[side] = (operand, inclusive)
            continue
        rows = _comparison(path, op, operand, index)
        result = rows if result is None else result & rows
    if bounds:
        low, low_incl = bounds.get("low", (None, True))
        high, high_incl = bounds.get("high", (None, True))
        rows = index.range_rows(path, low, low_incl, high, high_incl)
        result = rows if result is None else result & rows
    return result


def _comparison(path: str, op: str, operand: Any, index: PayloadIndex) -> BitMap:
    if op == "$eq":
        return index.equal_rows(path, operand)
    if op == "$ne":
        return index.all_rows() - index.equal_rows(path, operand)
    if op in ("$in", "$nin"):
        rows = BitMap.union(BitMap(), *(index.equal_rows(path, v) for v in operand))
        return rows if op == "$in" else index.all_rows() - rows
    present = index.present_rows(path)
    return present if operand else index.all_rows() - present
