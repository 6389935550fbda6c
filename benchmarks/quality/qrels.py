"""The labelled set `../shared/datasets/qrels_dev/` and its scoring recipe (see its README).

Three sources, each a Sphinx documentation package installed by Debian under
`/usr/share/doc/<package>/`: `pages.jsonl` lists the pages that count, `queries.jsonl` the
queries with their relevant pages. A hit is mapped to `<source>/<path under the HTML root
without .html>`; pages not listed are dropped, pages are deduplicated by first occurrence,
and the top 10 are scored by binary nDCG@10 and Recall@10.
"""

import json
import math
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from benchmarks.datasets import DATASETS, DATASETS_ENV

QRELS = DATASETS / "qrels_dev"
PACKAGES = {
    "django": "python-django-doc",
    "sqlalchemy": "python-sqlalchemy-doc",
    "sphinx": "sphinx-doc",
}
INSTALL = "apt-get install -y " + " ".join(PACKAGES.values())
CUTOFF = 10


class MissingData(Exception):
    """The labelled set or the documentation it is built on is not on this machine."""


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class Source:
    """One source of the set: where its HTML lives, which pages count, its queries."""

    name: str
    package: str
    root: Path
    pages: dict[str, str]
    """doc_id -> title, for the pages that count."""
    queries: tuple[Query, ...]
    version: str
    notes: tuple[str, ...]
    """Differences from what the set was built on (package version, missing pages)."""
    readme_bm25: tuple[float, float] | None
    """nDCG@10 and Recall@10 of the set's BM25 baseline, as its README states them."""
    _mapped: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    def doc_id(self, source: str) -> str | None:
        """The page a hit's `source` payload names, or None when it is not a page that counts.

        `source` may be absolute (under the root, symlinks resolved or not) or relative to
        the ingested root, with or without the root folder's own name in front of it.
        """
        if source not in self._mapped:
            rel = _relative(source, self.root)
            doc_id = None if rel is None else f"{self.name}/{rel.removesuffix('.html')}"
            self._mapped[source] = doc_id if doc_id in self.pages else None
        return self._mapped[source]


def _relative(source: str, root: Path) -> str | None:
    path = PurePosixPath(source.replace(os.sep, "/"))
    if path.is_absolute():
        for base in (str(root), os.path.realpath(root)):
            for candidate in (source, os.path.realpath(source)):
                rel = os.path.relpath(candidate, base)
                if not rel.startswith(".."):
                    return PurePosixPath(rel).as_posix()
        return None
    parts = [p for p in path.parts if p != "."]
    if parts and parts[0] == root.name and len(parts) > 1:
        parts = parts[1:]
    return "/".join(parts) if parts and ".." not in parts else None


def find_html_root(package: str) -> Path:
    """The shallowest folder under the package's doc folder holding a Sphinx general index
    (as the set's build.py finds it), following symlinks."""
    top = Path("/usr/share/doc") / package
    if not top.is_dir():
        raise MissingData(f"{top} not found: run `{INSTALL}`")
    found = []
    for folder, dirs, files in os.walk(top, followlinks=True):
        dirs.sort()
        if "genindex.html" in files or "genindex-all.html" in files:
            found.append(folder)
    if not found:
        raise MissingData(f"no Sphinx genindex page under {top}: reinstall with `{INSTALL}`")
    return Path(min(found, key=lambda p: (p.count(os.sep), p)))


def load_source(name: str) -> Source:
    """Read one source's pages and queries and locate its HTML; MissingData says what lacks."""
    folder = QRELS / name
    if not (folder / "queries.jsonl").exists():
        raise MissingData(f"{folder}/queries.jsonl not found: put the shared datasets folder "
                          f"beside the checkout (../shared/datasets) or point {DATASETS_ENV} "
                          f"at a copy holding qrels_dev")
    package = PACKAGES[name]
    root = find_html_root(package)
    pages = {p["doc_id"]: p["title"] for p in _read_jsonl(folder / "pages.jsonl")}
    paths = [p["path"] for p in _read_jsonl(folder / "pages.jsonl")]
    queries = tuple(Query(q["qid"], q["query"], frozenset(q["relevant"]))
                    for q in _read_jsonl(folder / "queries.jsonl"))
    version = _installed_version(package)
    notes = []
    built_on, readme_bm25 = _readme_rows().get(name, (None, None))
    if built_on and version != built_on:
        notes.append(f"{package} {version} installed, the set was built on {built_on}: "
                     "pages may differ")
    missing = [p for p in paths if not (root / p).is_file()]
    if missing:
        notes.append(f"{len(missing)} of {len(paths)} listed pages are not under {root} "
                     f"(first: {missing[0]}); they can never be found")
    return Source(name, package, root, pages, queries, version, tuple(notes), readme_bm25)


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _installed_version(package: str) -> str:
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                              capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


_README_ROW = re.compile(r"^\| `(\w+)` \|.*\| `[\w.+-]+` (\S+) \|.*\| ([0-9.]+) \| ([0-9.]+) \|$",
                         re.MULTILINE)


def _readme_rows() -> dict[str, tuple[str, tuple[float, float]]]:
    """source -> (package version, (BM25 nDCG@10, Recall@10)) from the set's README table."""
    try:
        text = (QRELS / "README.md").read_text(encoding="utf-8")
    except OSError:
        return {}
    return {name: (version, (float(ndcg), float(recall)))
            for name, version, ndcg, recall in _README_ROW.findall(text)}


def top_pages(ranked_sources: list[str], source: Source, k: int = CUTOFF) -> list[str]:
    """Hits (their `source` payloads, best first) -> the first k distinct pages that count."""
    pages: list[str] = []
    for hit in ranked_sources:
        doc_id = source.doc_id(hit)
        if doc_id is not None and doc_id not in pages:
            pages.append(doc_id)
            if len(pages) == k:
                break
    return pages


def ndcg_recall(ranked: list[str], relevant: frozenset[str], k: int = CUTOFF
                ) -> tuple[float, float]:
    """Binary-relevance nDCG@k and Recall@k of a ranked list of pages."""
    top = ranked[:k]
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(top) if d in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / idcg, len(relevant.intersection(top)) / len(relevant)
