"""The same /v1 API and CLI over a distributed collection: `sleuth ingest --cluster`
fills it on Ray Data, a real `sleuth serve --cluster` answers searches, documents and
records through HTTP, and `sleuth cluster status` shows its shards and replicas."""

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from app.cli import app
from app.client import SleuthClient
from tests.servers import SAMPLE_DOCS, sleuth_serve

pytestmark = pytest.mark.slow

FILES = ("hr/parental-leave.docx", "hr/remote-work.md", "runbook/postgres-failover.pdf")


def test_cli_and_api_over_a_cluster(ray_cluster, cluster_db, tmp_path):
    folder = tmp_path / "docs"
    for name in FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DOCS / name, folder / name)
    address = ray_cluster.address
    runner = CliRunner()
    nodes = tmp_path / "nodes"  # the replicas' directory on each node: not the home's
    done = runner.invoke(app, ["ingest", str(folder), "-c", "served", "--cluster", address],
                         env={"COLUMNS": "200", "SLEUTH_CLUSTER_DATA_DIR": str(nodes)})
    assert done.exit_code == 0, done.output
    assert "3 added" in done.output
    try:
        with sleuth_serve(tmp_path / "data", SLEUTH_CLUSTER=address,
                          SLEUTH_CLUSTER_DATA_DIR=str(nodes)) as url, \
                SleuthClient(url) as api:
            info = {c.name: c for c in api.list_collections()}["served"]
            assert info.count == cluster_db.get_collection("served").count() > 0
            assert info.documents == 3
            hits = api.search("served", "how long is parental leave", k=3).hits
            assert hits and hits[0].source.endswith("parental-leave.docx")
            documents = api.list_documents("served").documents
            assert len(documents) == 3
            gone = next(d for d in documents if d.source.endswith("remote-work.md"))
            api.delete_document("served", gone.id)
            assert api.get_collection("served").documents == 2

            api.create_collection("raw", dimension=4, index="flat")
            vectors = np.eye(4, dtype=np.float32)
            api.upsert("raw", ["a", "b", "c", "d"], vectors, [{"doc_id": x} for x in "abcd"])
            found = api.search("raw", vector=vectors[2].tolist(), k=2).hits
            assert found[0].id == "c" and found[0].score == pytest.approx(1.0)
            assert [r.id for r in api.get_records("raw", ids=["d", "x"])] == ["d"]
            api.delete_collection("raw")
            assert "raw" not in {c.name for c in api.list_collections()}

        status = runner.invoke(app, ["cluster", "status", "--cluster", address],
                               env={"COLUMNS": "200"})
        assert status.exit_code == 0, status.output
        rows = [line for line in status.output.splitlines() if "served" in line]
        assert len(rows) == 2 * 2 and all("live" in row for row in rows), status.output
        assert any(nodes.glob("*/served/shard-0/replica-*"))
    finally:
        cluster_db.drop_collection("served")
