"""/v1/similarity: texts scored against a query by meaning, with the server's model."""

import numpy as np
import pytest

from app.schemas.similarity import MAX_TEXTS


def test_scores_are_the_cosine_of_the_query_and_text_embeddings(client, embedder):
    texts = ["Employees get 10 days of paid sick leave a year.",
             "The hotel cap is $250 per night.", "Cats purr."]
    result = client.similarity("How many days off when I'm ill?", texts)
    assert result.model == "all-MiniLM-L6-v2" or result.model.endswith("all-MiniLM-L6-v2")
    expected = embedder.embed(texts) @ embedder.embed_query("How many days off when I'm ill?")
    assert result.scores == pytest.approx(expected.tolist(), abs=1e-5)
    assert int(np.argmax(result.scores)) == 0
    assert all(-1.0 <= s <= 1.0 for s in result.scores)


@pytest.mark.parametrize("body", [
    {"query": "q", "texts": []},
    {"query": "", "texts": ["a"]},
    {"query": "q", "texts": [""]},
    {"query": "q", "texts": ["a"] * (MAX_TEXTS + 1)},
    {"query": "q", "texts": ["a"], "k": 3},
    {"texts": ["a"]},
])
def test_bad_requests_are_refused_with_422(http, body):
    response = http.post("/v1/similarity", json=body)
    assert response.status_code == 422, body
