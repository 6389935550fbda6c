"""Ingestion on Ray Data gives the single-process pipeline's chunks (ids, texts,
payloads, vectors of the chunks with their context, the recipe) and report, skips
unchanged files, and follows changes and removals."""

import shutil

import numpy as np
import pytest

from cluster.ingest import RayIngestor, token_batches
from ingest.embedding import shared_embedder
from ingest.pipeline import Ingestor
from ingest.store import open_collection
from tests.servers import SAMPLE_DOCS
from vectorstore import Database

pytestmark = pytest.mark.slow


def _chunks(collection) -> dict[str, tuple[str, dict]]:
    records = collection.get(where={"doc_id": {"$exists": True}}, limit=100_000,
                             include_vectors=False)
    return {r.id: (r.payload["text"], r.payload) for r in records}


def _same_vectors(a, b) -> None:
    ids = sorted(_chunks(a))
    got = np.stack([r.vector for r in a.get(ids)])
    want = np.stack([r.vector for r in b.get(ids)])
    # the same text with its context, by the same model and backend; onnx-int8 scales its
    # activations per batch, so other batch-mates move a vector a little (embedding the
    # chunk without its context moves it far more)
    assert float(np.min(np.sum(got * want, axis=1))) >= 0.98


def _outcomes(report) -> set[tuple]:
    return {(r.path, r.status, r.chunks, r.reason, r.warnings) for r in report.results}


def test_token_batches_bound_the_padded_size():
    lengths = [5, 300, 40, 40, 900, 12, 250]
    batches = token_batches(lengths, 600)
    assert sorted(p for b in batches for p in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[p] for p in batch) <= 600


def test_ray_data_ingest_equals_the_single_process_pipeline(cluster_db, tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (folder / "empty.txt").write_text("   \n")
    embedder = shared_embedder()
    with Database(tmp_path / "single") as db:
        single = open_collection(db, "docs", embedder)
        with Ingestor(single, embedder, workers=0) as ingestor:
            local_report = ingestor.ingest([folder])
        distributed = open_collection(cluster_db, "ingest", embedder)
        try:
            ray_ingestor = RayIngestor(distributed, embedder)
            ray_report = ray_ingestor.ingest([folder])
            assert _outcomes(ray_report) == _outcomes(local_report)
            assert ray_report.of("failed")[0].path.endswith("empty.txt")
            assert ray_report.chunks == local_report.chunks > 100
            assert _chunks(distributed) == _chunks(single)
            _same_vectors(distributed, single)
            assert ray_ingestor.recipe == ingestor.recipe

            again = ray_ingestor.ingest([folder])
            assert again.chunks == 0
            assert {r.status for r in again.results} == {"unchanged", "failed"}

            changed = folder / "hr" / "remote-work.md"
            changed.write_text(changed.read_text() + "\n\nA new closing paragraph.\n")
            (folder / "runbook" / "oncall-rotation.md").unlink()
            with Ingestor(single, embedder, workers=0) as ingestor:
                local_after = ingestor.ingest([folder])
            ray_after = ray_ingestor.ingest([folder])
            assert _outcomes(ray_after) == _outcomes(local_after)
            assert {r.status for r in ray_after.results} >= {"updated", "removed"}
            assert _chunks(distributed) == _chunks(single)
        finally:
            cluster_db.drop_collection("ingest")
