"""Imports flow one way: ui -> (HTTP) -> app -> cluster -> ingest -> vectorstore; Ray is
imported by `cluster` only."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "vectorstore": {"ingest", "app", "ui", "fastapi", "pydantic", "pydantic_settings", "torch",
                    "sentence_transformers", "streamlit", "httpx", "uvicorn", "cluster", "ray"},
    "ingest": {"app", "ui", "fastapi", "streamlit", "uvicorn", "cluster", "ray"},
    "cluster": {"app", "ui", "fastapi", "streamlit", "uvicorn"},
    "ui": {"vectorstore", "ingest", "cluster", "torch", "sentence_transformers", "ray"},
    "app": {"ray"},
}
REFERENCES = {"bm25s", "bs4", "faiss", "hnswlib", "chromadb", "tantivy"}
"""Peers the benchmarks compare against: never imported by the product."""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_import_direction(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found in {package}/"
    offenders = {str(f.relative_to(ROOT)): sorted(_imports(f) & (FORBIDDEN[package] | REFERENCES))
                 for f in files}
    assert {f: bad for f, bad in offenders.items() if bad} == {}
