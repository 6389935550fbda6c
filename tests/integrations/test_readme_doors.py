"""The README's MCP, LangChain and LlamaIndex examples, run as written (each in its own
Python process) in a folder whose `data/` holds the ingested sample documents."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import OFFLINE, ingest_sample_docs

pytestmark = pytest.mark.slow

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
DOORS = README.split("\n## For LLM apps: MCP, LangChain, LlamaIndex\n", 1)[1].split("\n## ")[0]

EXPECTED = {
    # door: what its output must show
    "MCP": ["hr/expense-policy.html", "Above $5,000: the CFO approves", "score"],
    "LangChain": ["Expense Reimbursement Policy ['Expense Reimbursement Policy', 'Approvals']",
                  "TLS Certificate Rotation", "runbook/tls-certificate-rotation.txt"],
    "LlamaIndex": ["Owls hunt at night and see well in the dark.",
                   "hybrid: Owls hunt at night"],
}


def example(door: str) -> str:
    text = DOORS.split(f"\n### {door}\n", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, f"{door}: one python example expected"
    assert len(blocks[0].strip().splitlines()) <= 14, f"{door}: keep the example short"
    return blocks[0]


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory) -> Path:
    return ingest_sample_docs(tmp_path_factory.mktemp("readme") / "data")


@pytest.mark.parametrize("door", list(EXPECTED))
def test_example_runs_as_written(door, sample_data, tmp_path):
    shutil.copytree(sample_data, tmp_path / "data")
    env = {**os.environ, **OFFLINE,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-c", example(door)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for expected in EXPECTED[door]:
        assert expected in done.stdout, done.stdout
