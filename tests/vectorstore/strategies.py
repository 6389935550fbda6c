"""Hypothesis strategies for payloads and filters over a small shared vocabulary, so
filters actually hit records."""

from hypothesis import strategies as st

COLORS = ["red", "green", "blue"]
WORDS = ["postgres", "connection", "connections", "connecting", "max_connections",
         "pg_stat_activity", "os.path.join", "--max-connections", "SQLSTATE", "23505",
         "getElementById", "v1.2.3", "the", "of", "error", "Error", "timeout", "path", "join"]
"""Text for the text index: stems shared by several words, code tokens with their parts,
stopwords, so that queries meet overlapping and repeated terms."""
text = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)
scalar = st.one_of(st.sampled_from(COLORS), st.integers(-3, 3), st.booleans(), st.none(),
                   st.sampled_from([0.5, 1.0, 2.5]))

payloads = st.fixed_dictionaries(
    {"color": st.sampled_from(COLORS)},
    optional={
        "n": st.one_of(st.integers(0, 9), st.sampled_from([1.5, 4.0, 7.25])),
        "flag": st.booleans(),
        "tags": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
        "meta": st.fixed_dictionaries({}, optional={"k": st.integers(0, 3),
                                                    "s": st.sampled_from(COLORS)}),
        "date": st.sampled_from(["2024-01-01", "2024-06-30", "2025-02-14"]),
        "text": text,
        "title": text,
        "heading_path": st.lists(text, max_size=2),
    })

FIELDS = ["color", "n", "flag", "tags", "meta.k", "meta.s", "date", "missing"]


def _condition() -> st.SearchStrategy:
    return st.one_of(
        scalar,
        st.fixed_dictionaries({"$eq": scalar}),
        st.fixed_dictionaries({"$ne": scalar}),
        st.fixed_dictionaries({"$in": st.lists(scalar, max_size=3)}),
        st.fixed_dictionaries({"$nin": st.lists(scalar, max_size=3)}),
        st.fixed_dictionaries({"$exists": st.booleans()}),
        st.fixed_dictionaries({"$gte": st.integers(0, 9)}, optional={"$lt": st.integers(0, 9)}),
        st.fixed_dictionaries({"$gt": st.sampled_from([1.5, 3, 7])}),
        st.fixed_dictionaries({"$lte": st.sampled_from(["2024-06-30", "b", "green"])}),
    )


leaf = st.dictionaries(st.sampled_from(FIELDS), _condition(), min_size=1, max_size=2)
filters = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.fixed_dictionaries({"$and": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"$or": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"$not": inner}),
    ),
    max_leaves=4,
)
