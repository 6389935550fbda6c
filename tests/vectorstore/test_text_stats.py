"""BM25 statistics that add up: a collection split in two parts, each scoring with the
summed statistics of both, ranks text queries exactly as the whole collection does (what
a distributed collection's shards rely on to merge their lists by score)."""

import heapq

import numpy as np
import pytest

from vectorstore import Database
from vectorstore.errors import InvalidQuery
from vectorstore.text.search import TextStats

from .test_text_search import QUERIES, _corpus, _vectors


@pytest.fixture
def whole_and_parts(tmp_path):
    docs = _corpus(150, seed=11)
    ids, vectors = list(docs), _vectors(150)
    with Database(tmp_path) as db:
        whole = db.create_collection("whole", dim=8, seal_rows=40)
        parts = [db.create_collection(f"part{p}", dim=8, seal_rows=40) for p in (0, 1)]
        whole.upsert(ids, vectors, [docs[i] for i in ids])
        for p, part in enumerate(parts):  # every third record to part 1
            mine = [n for n in range(150) if (n % 3 == 0) == (p == 1)]
            part.upsert([ids[n] for n in mine], vectors[mine], [docs[ids[n]] for n in mine])
        for collection in (whole, *parts):
            collection.delete(ids=ids[::10])  # deleted rows leave the statistics
        parts[0].flush()  # sealed and growing rows score alike
        yield whole, parts


def test_parts_scoring_with_summed_statistics_rank_as_the_whole(whole_and_parts):
    whole, parts = whole_and_parts
    summed = [TextStats.total(found) for found in
              zip(*(part.text_stats(QUERIES) for part in parts), strict=True)]
    own = whole.text_stats(QUERIES)
    for a, b in zip(summed, own, strict=True):
        assert (a.rows, a.length) == (b.rows, b.length)
        np.testing.assert_array_equal(a.doc_freq, b.doc_freq)
    for where in (None, {"group": {"$in": [0, 2]}}):
        want = whole.search(text=QUERIES, k=12, where=where)
        got = [part.search(text=QUERIES, k=12, where=where, text_stats=summed)
               for part in parts]
        for q, expected in enumerate(want):
            merged = heapq.nlargest(12, (h for part in got for h in part[q]),
                                    key=lambda h: h.score)
            assert [h.score for h in merged] == pytest.approx([h.score for h in expected],
                                                              abs=1e-5)
            ties = {round(h.score, 4) for h in expected[-1:]}  # the cut may split a tie
            assert {h.id for h in merged if round(h.score, 4) not in ties} == \
                {h.id for h in expected if round(h.score, 4) not in ties}
    # a part's own statistics give other scores: the sums are what align them
    alone = parts[1].search(text=QUERIES[0], k=1)[0].score
    aligned = parts[1].search(text=QUERIES[0], k=1, text_stats=summed[:1])[0].score
    assert alone != pytest.approx(aligned, abs=1e-3)


def test_text_stats_are_checked_like_a_text_query(whole_and_parts):
    whole, _ = whole_and_parts
    with pytest.raises(InvalidQuery):
        whole.text_stats("the and of")  # only stopwords
    with pytest.raises(InvalidQuery):
        whole.search(text=["vacuum", "wal"], k=3, text_stats=whole.text_stats("vacuum"))
