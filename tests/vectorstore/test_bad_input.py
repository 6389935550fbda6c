"""Bad input is rejected whole with a ValueError that says what and where, and nothing
already stored is touched."""

import math

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.errors import DimensionMismatch, InvalidConfig, InvalidFilter, InvalidInput


@pytest.fixture
def col(tmp_path):
    with Database(tmp_path) as db:
        col = db.create_collection("c", dim=4, seal_rows=3)
        col.upsert(["a", "b", "c", "d"], np.eye(4), [{"n": i} for i in range(4)])
        yield col


def _unchanged(col) -> None:
    assert col.count() == 4
    assert [r.payload for r in col.get(["a", "b", "c", "d"])] == [{"n": i} for i in range(4)]
    assert col.get(["new"]) == [None]


@pytest.mark.parametrize("ids, vectors, payloads, error, message", [
    (["new", "x"], np.ones((2, 3)), None, DimensionMismatch, "dimension 3.*expects 4"),
    (["new", "x"], [[1, 2, 3, 4], [1, 2, math.nan, 4]], None, InvalidInput, r"vectors\[1\].*NaN"),
    (["new", "x"], [[1, 2, 3, 4], [math.inf, 2, 3, 4]], None, InvalidInput, r"vectors\[1\]"),
    (["new", ""], np.ones((2, 4)), None, InvalidInput, r"ids\[1\] must be a non-empty"),
    (["new", "new"], np.ones((2, 4)), None, InvalidInput, r"ids\[1\] 'new' appears twice"),
    (["new", 7], np.ones((2, 4)), None, InvalidInput, r"ids\[1\]"),
    ("new", np.ones((1, 4)), None, InvalidInput, "ids must be a list"),
    (["new", "x"], np.ones((3, 4)), None, InvalidInput, r"shape \(2, 4\)"),
    (["new", "x"], np.ones((2, 4)), [{}, [1]], InvalidInput, r"payloads\[1\] must be a JSON"),
    (["new", "x"], np.ones((2, 4)), [{}], InvalidInput, "payloads must be a list of 2"),
    (["new", "x"], np.ones((2, 4)), [{}, {"v": math.nan}], InvalidInput, r"payloads\[1\]"),
    (["new", "x"], np.ones((2, 4)), [{}, {"v": object()}], InvalidInput, r"payloads\[1\]"),
    (["new", "x"], [["a", "b", "c", "d"]] * 2, None, InvalidInput, "must be numbers"),
])
def test_bad_upserts_are_rejected_whole(col, ids, vectors, payloads, error, message):
    with pytest.raises(error, match=message) as info:
        col.upsert(ids, vectors, payloads)
    assert isinstance(info.value, ValueError)
    _unchanged(col)


@pytest.mark.parametrize("where, message", [
    ({"n": {"$foo": 1}}, r"where\.n\.\$foo: unknown operator"),
    ({"$xor": []}, r"where\.\$xor: unknown operator"),
    ({"n": {"$gt": [1]}}, r"where\.n\.\$gt: expects a number or a string, got list"),
    ({"n": {"$gt": True}}, r"\$gt: expects a number or a string, got bool"),
    ({"n": {"$in": 3}}, r"where\.n\.\$in: expects a list"),
    ({"n": {"$exists": "yes"}}, r"\$exists: expects true or false"),
    ({"$or": {"n": 1}}, r"where\.\$or: expects a non-empty list"),
    ({"$and": [{"n": 1}, 5]}, r"where\.\$and\[1\]: a filter must be an object"),
    ({"$not": [1]}, r"where\.\$not: a filter must be an object"),
    ({"n": {}}, r"where\.n: empty operator object"),
    ({"n": [1, 2]}, r"where\.n: expects a string, number"),
    ({"n": {"$gt": 1, "$lt": "z"}}, "range bounds mix"),
    ([{"n": 1}], "a filter must be an object"),
])
def test_bad_filters_name_the_place(col, where, message):
    for call in (lambda: col.search(np.ones(4), k=2, where=where),
                 lambda: col.count(where), lambda: col.delete(where=where)):
        with pytest.raises(InvalidFilter, match=message):
            call()
    _unchanged(col)


@pytest.mark.parametrize("k", [0, -1, 1.5, "3", True, 10_001])
def test_bad_k(col, k):
    with pytest.raises(InvalidInput, match="k must be an integer"):
        col.search(np.ones(4), k=k)


def test_bad_queries(col):
    with pytest.raises(DimensionMismatch, match="query have dimension 5"):
        col.search(np.ones(5))
    with pytest.raises(InvalidInput, match="NaN"):
        col.search([1, 2, math.nan, 4])
    for ragged in ([[1, 2, 3, 4], [1, 2]], [1, [2, 3], 4, 5]):
        with pytest.raises(InvalidInput, match="query"):
            col.search(ragged)
    with pytest.raises(InvalidInput, match="exactly one of ids or where"):
        col.delete()
    _unchanged(col)


@pytest.mark.parametrize("kwargs, message", [
    ({"dim": 0}, "dim must be a positive integer"),
    ({"dim": 4, "metric": "hamming"}, "unknown metric 'hamming'"),
    ({"dim": 4, "index": "annoy"}, "unknown index type 'annoy'"),
    ({"dim": 4, "index": {"type": "hnsw", "m": 16}}, r"unknown hnsw index key\(s\) \['m'\]"),
    ({"dim": 4, "index": {"type": "hnsw", "M": -1}}, "hnsw.M must be a positive"),
    ({"dim": 4, "shards": 2}, r"unknown collection option\(s\) \['shards'\]"),
])
def test_bad_collection_config(tmp_path, kwargs, message):
    with Database(tmp_path) as db:
        with pytest.raises(InvalidConfig, match=message):
            db.create_collection("c", **kwargs)
        assert db.list_collections() == []


@pytest.mark.parametrize("name", ["", "../x", "a/b", "x" * 65, ".hidden", "c.tmp", None])
def test_bad_collection_names(tmp_path, name):
    with Database(tmp_path) as db, pytest.raises(InvalidConfig, match="collection name"):
        db.create_collection(name, dim=3)
