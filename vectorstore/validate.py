"""The store's input boundary: ids, vectors and payloads checked completely before the WAL.

Everything accepted here can be logged, applied, indexed, sealed, replayed, returned and
serialised again (by the stdlib, orjson or pydantic) without error, so nothing is
acknowledged that cannot be read back. The layers below trust what passes.

Limits (documented in API.md):
- ids: non-empty strings of at most MAX_ID_CHARS characters, valid Unicode (no lone
  surrogates, which UTF-8 cannot encode).
- payloads: JSON objects of strings, finite floats, integers within +-MAX_INT (the
  integers a float64 holds exactly: the payload index compares numbers as float64 and
  JavaScript clients read them as doubles), bools, null, lists and objects nested at most
  MAX_DEPTH deep, valid Unicode in keys and strings, at most MAX_PAYLOAD_BYTES encoded.
- vectors: finite float32 (after conversion) and, for the dot and l2 metrics, an L2 norm
  of at most MAX_NORM, so every score (at most 4 * MAX_NORM**2) stays finite in float32.
  Cosine vectors are normalised, so only finiteness applies.
"""

import json
import math
from typing import Any

import numpy as np
import orjson

from .errors import DimensionMismatch, InvalidInput
from .filters import validate as validate_filter
from .metrics import Metric

MAX_ID_CHARS = 512
MAX_DEPTH = 32
MAX_INT = 2**53 - 1
MAX_PAYLOAD_BYTES = 1 << 20
MAX_NORM = 1e18


def check_delete(ids: Any, where: Any) -> list[str] | None:
    """A delete's selector checked: exactly one of ids or where, each valid. Returns the
    checked ids (None for a delete by filter)."""
    if (ids is None) == (where is None):
        raise InvalidInput("delete takes exactly one of ids or where")
    if ids is None:
        validate_filter(where)
        return None
    return check_ids(ids)


def check_ids(ids: Any, what: str = "ids", unique: bool = True) -> list[str]:
    """A list of valid record ids; duplicates are an error when `unique`."""
    if isinstance(ids, str) or not isinstance(ids, list | tuple):
        raise InvalidInput(f"{what} must be a list of strings, got {type(ids).__name__}")
    seen: set[str] = set()
    for i, rid in enumerate(ids):
        if not isinstance(rid, str) or not rid:
            raise InvalidInput(f"{what}[{i}] must be a non-empty string, got {rid!r}")
        if len(rid) > MAX_ID_CHARS:
            raise InvalidInput(f"{what}[{i}] has {len(rid)} characters; at most "
                               f"{MAX_ID_CHARS} are allowed")
        if unique and rid in seen:
            raise InvalidInput(f"{what}[{i}] {rid!r} appears twice in the batch")
        if not rid.isascii():
            _check_text(rid, f"{what}[{i}]")
        seen.add(rid)
    return list(ids)


def check_vectors(vectors: Any, n: int | None, dim: int, metric: Metric, what: str
                  ) -> np.ndarray:
    """An (n, dim) float32 matrix of storable vectors (n = None: any number of rows, a
    single vector becomes one row)."""
    try:
        with np.errstate(over="ignore"):
            matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"{what} must be numbers: {exc}") from None
    if n == 0 and matrix.size == 0:
        return np.zeros((0, dim), dtype=np.float32)
    if matrix.ndim == 1 and n is None:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or (n is not None and matrix.shape[0] != n and matrix.size):
        raise InvalidInput(f"{what} must have shape ({n if n is not None else 'n'}, "
                           f"{dim}), got {matrix.shape}")
    if matrix.size and matrix.shape[1] != dim:
        raise DimensionMismatch(f"{what} have dimension {matrix.shape[1]}, collection "
                                f"expects {dim}")
    if not matrix.size:
        return matrix
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(f"{what}[{row}] contains NaN or inf (or a number beyond float32)")
    if not metric.normalise:
        norms = np.linalg.norm(matrix.astype(np.float64), axis=1)
        big = norms > MAX_NORM
        if big.any():
            row = int(np.flatnonzero(big)[0])
            raise InvalidInput(f"{what}[{row}] has norm {norms[row]:.3g}; the {metric.name} "
                               f"metric takes norms up to {MAX_NORM:g} so scores stay finite")
    return matrix


def prepare_queries(vectors: Any, dim: int, metric: Metric) -> np.ndarray:
    """Query vectors (one vector, or a matrix (nq, dim)) checked as `check_vectors`
    checks them and prepared by the metric (`Metric.prepare`), as (nq, dim) float32."""
    return prepare_vectors(vectors, None, dim, metric, "query")


def prepare_vectors(vectors: Any, n: int | None, dim: int, metric: Metric, what: str,
                    out: np.ndarray | None = None) -> np.ndarray:
    """`check_vectors` then `Metric.prepare`, as one step (n = None: any number of rows,
    a single vector becomes one row).

    The fixed cost of every search and every write: a float32 array of the right shape
    whose squared norms are finite (and within the metric's bound) is checked and
    normalised from one pass over it; anything else takes the full checks, which name
    what is wrong. `out`, a float32 (n, dim) matrix, takes the normalised rows of such
    an array instead of a new one (vectors no metric changes are returned as given)."""
    if (isinstance(vectors, np.ndarray) and vectors.dtype == np.float32 and vectors.size
            and vectors.ndim in (1, 2) and vectors.shape[-1] == dim
            and (n is None or (vectors.ndim == 2 and vectors.shape[0] == n))):
        matrix = np.ascontiguousarray(vectors.reshape(-1, dim))
        squares = np.einsum("ij,ij->i", matrix, matrix)
        if matrix.shape[0] == 1:  # one query: scalar checks (~1.5 us less than arrays')
            square = squares.item()
            if math.isfinite(square):
                if metric.normalise:  # float32 sqrt, as np.sqrt (a float64 one rounded)
                    return np.divide(matrix, np.float32(math.sqrt(square) or 1.0), out=out)
                if square <= MAX_NORM ** 2:
                    return matrix
        elif np.isfinite(squares).all():  # no NaN or inf, and no float32 overflow
            if metric.normalise:
                norms = np.sqrt(squares)
                norms[norms == 0] = 1
                return np.divide(matrix, norms[:, None], out=out)
            if squares.max() <= MAX_NORM ** 2:
                return matrix
    return metric.prepare(check_vectors(vectors, n, dim, metric, what))


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The canonical stored form of a valid payload: compact UTF-8 JSON.

    orjson writes it (~40x faster than the stdlib on a small payload: the largest part
    of a small batch's write cost); values orjson does not take (a float subclass such
    as numpy.float64, which the checks accept as a float) go through the stdlib. A lone
    surrogate raises UnicodeEncodeError either way."""
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(payload).encode("utf-8")


def check_payloads(payloads: Any, n: int, what: str = "payloads") -> list[bytes]:
    """One valid JSON object per record (None: empty objects), each as its canonical
    encoding. Raises InvalidInput naming the first bad value's position and path."""
    if payloads is None:
        return [b"{}"] * n
    if not isinstance(payloads, list | tuple) or len(payloads) != n:
        got = len(payloads) if isinstance(payloads, list | tuple) else type(payloads).__name__
        raise InvalidInput(f"{what} must be a list of {n} objects, got {got}")
    return [_flat_encoded(p) or check_payload(p, f"{what}[{i}]")
            for i, p in enumerate(payloads)]


def check_payload(payload: Any, where: str) -> bytes:
    """A payload's canonical encoding, after checking every value in it (iteratively:
    no recursion on user data, however deep)."""
    data = _flat_encoded(payload)
    if data is not None:
        return data
    if not isinstance(payload, dict):
        raise InvalidInput(f"{where} must be a JSON object, got {type(payload).__name__}")
    if not _flat_and_valid(payload):
        try:
            _walk(payload, where, paths=False)
        except InvalidInput:
            _walk(payload, where, paths=True)  # again, naming the place
            raise
    try:
        data = encode_payload(payload)
    except UnicodeEncodeError:
        _walk(payload, where, paths=True, text=True)
        raise
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"{where} is {len(data)} bytes as JSON; at most "
                           f"{MAX_PAYLOAD_BYTES} are allowed")
    return data


def _flat_encoded(payload: Any) -> bytes | None:
    """The common case's encoding, checked fast: a dict of valid scalars that orjson
    encodes within the size limit. None means: check it properly (which names what is
    wrong, or takes what orjson does not)."""
    if type(payload) is not dict or not _flat_and_valid(payload):
        return None
    try:
        data = orjson.dumps(payload)
    except orjson.JSONEncodeError:
        return None
    return data if len(data) <= MAX_PAYLOAD_BYTES else None


def _flat_and_valid(payload: dict[str, Any]) -> bool:
    """The common case, checked fast: string keys, and scalar values that are valid
    (strings are checked by the encoder). False means: walk it properly."""
    for key, value in payload.items():
        kind = type(key)
        if kind is not str:
            return False
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is int:
            if not -MAX_INT <= value <= MAX_INT:
                return False
        elif kind is not float or value != value or value in _INFINITIES:
            return False
    return True


_INFINITIES = (float("inf"), float("-inf"))


def _walk(payload: dict[str, Any], where: str, paths: bool, text: bool = False) -> None:
    """Check every key and value; path strings are built only when `paths` (to name the
    place of an error found without them), strings are encoded only when `text`."""
    pending: list[tuple[Any, str, int]] = [(payload, where, 1)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise InvalidInput(f"{path}: nested deeper than {MAX_DEPTH} levels")
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidInput(f"{path} has a non-string key {key!r}")
                if text:
                    _check_text(key, f"{path} key '{_printable(key)}'")
                pending.append((item, f"{path}.{_printable(key)}" if paths else path,
                                depth + 1))
        elif isinstance(value, list | tuple):
            if depth > MAX_DEPTH:
                raise InvalidInput(f"{path}: nested deeper than {MAX_DEPTH} levels")
            pending.extend((item, f"{path}[{i}]" if paths else path, depth + 1)
                           for i, item in enumerate(value))
        elif text and isinstance(value, str):
            _check_text(value, path)
        else:
            _check_scalar(value, path)


def _printable(key: str) -> str:
    """A key as it can appear in an error message (lone surrogates escaped)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_scalar(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise InvalidInput(f"{path}: integer out of range; integers must lie within "
                               f"+-{MAX_INT} (2**53 - 1); store larger ones as strings")
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(f"{path}: {value} is not a JSON number")
        return
    raise InvalidInput(f"{path}: {type(value).__name__} is not a JSON value")


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise InvalidInput(f"{path}: invalid Unicode (lone surrogate U+{ord(bad):04X} at "
                           f"character {exc.start})") from None
