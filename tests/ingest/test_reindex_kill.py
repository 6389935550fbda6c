"""A reindex killed with SIGKILL at random moments: the collection always opens with one
complete generation (every record, all vectors of the old recipe or all of the new) and
answers searches; the next run completes it."""

import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ingest.recipe import BARE_TEMPLATE, CONTEXT_TEMPLATE, RECIPE_KEY, Contextualizer, Recipe
from ingest.store import DIM_KEY, MODEL_KEY, recorded_recipe
from tests.ingest.reindex_child import DIM, MODEL, HashEmbedder
from vectorstore import Database

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 1200
KILLS = 10
RUN_TIMEOUT = 120.0


def _payloads() -> list[dict]:
    return [{"text": f"Chunk {i} tells of topic {i % 37} in some detail.",
             "title": f"Document {i // 20}", "heading_path": [f"Document {i // 20}",
                                                              f"Part {i % 3}"],
             "source": f"/docs/d{i // 20}.md"} for i in range(RECORDS)]


def _fill(data: Path, embedder: HashEmbedder) -> None:
    payloads = _payloads()
    with Database(data) as db:
        collection = db.create_collection(
            "docs", dim=DIM, seal_rows=400,
            metadata={MODEL_KEY: MODEL, DIM_KEY: DIM,
                      RECIPE_KEY: Recipe(MODEL, BARE_TEMPLATE, 64, 8).metadata()})
        for start in range(0, RECORDS, 500):
            part = payloads[start:start + 500]
            collection.upsert([f"r{i}" for i in range(start, start + len(part))],
                              embedder.embed([p["text"] for p in part]), part)
        collection.flush()


def _start(data: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-m", "tests.ingest.reindex_child", str(data)],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    return child


def _state(data: Path, old: np.ndarray, new: np.ndarray) -> str:
    """'old' or 'new': the recipe whose vectors the whole collection holds; fails unless
    it opens with every record, one recipe throughout, and answers searches."""
    with Database(data) as db:
        assert db.list_collections() == ["docs"]
        collection = db.get_collection("docs")
        records = collection.get(ids=[f"r{i}" for i in range(RECORDS)], include_vectors=True)
        assert collection.count() == RECORDS and all(r is not None for r in records)
        got = np.stack([r.vector for r in records])
        state = "new" if np.allclose(got, new, atol=1e-5) else "old"
        assert np.allclose(got, new if state == "new" else old, atol=1e-5), \
            "vectors of two recipes in one generation"
        template = recorded_recipe(collection).template
        assert template == (CONTEXT_TEMPLATE if state == "new" else BARE_TEMPLATE)
        for i in (0, RECORDS // 2, RECORDS - 1):
            query = new[i] if state == "new" else old[i]
            assert collection.search(query, k=1)[0].id == f"r{i}"
        assert [r.payload for r in records[:3]] == _payloads()[:3]
    return state


@pytest.mark.slow
def test_reindex_killed_at_random_moments_keeps_one_complete_generation(tmp_path):
    embedder = HashEmbedder()
    payloads = _payloads()
    old = embedder.embed([p["text"] for p in payloads])
    context = Contextualizer(CONTEXT_TEMPLATE, embedder.tokenizer, embedder.max_tokens)
    new = embedder.embed([context.embedded(p["title"], p["heading_path"], p["text"])
                          for p in payloads])
    data = tmp_path / "data"
    _fill(data, embedder)

    timing = tmp_path / "timing"  # an uninterrupted run on a copy: how long one lasts
    shutil.copytree(data, timing)
    child = _start(timing)
    started = time.monotonic()
    assert child.wait(RUN_TIMEOUT) == 0
    duration = time.monotonic() - started
    assert _state(timing, old, new) == "new"

    rng = random.Random(20261127)
    seen = []
    for n in range(KILLS):  # the first early, then every other late, to hit the switch too
        child = _start(data)
        low, high = (0.0, 0.5) if n == 0 else (0.6, 1.1) if n % 2 else (0.0, 1.0)
        time.sleep(duration * rng.uniform(low, high))
        child.kill()
        child.wait(RUN_TIMEOUT)
        seen.append(_state(data, old, new))
        if seen[-1] == "new":
            break
    print(f"states after {len(seen)} kills in a {duration:.1f}s run: {seen}")
    assert seen[0] == "old", f"the first kill landed after the switch (run {duration:.1f}s)"

    child = _start(data)
    output, _ = child.communicate(timeout=RUN_TIMEOUT)
    print(output)
    assert child.returncode == 0 and "reindexed 'docs'" in output
    assert _state(data, old, new) == "new"
    folder = data / "collections" / "docs"
    current = (folder / "GENERATION").read_text().strip()
    assert sorted(p.name for p in folder.iterdir()) == sorted(["GENERATION", current])
