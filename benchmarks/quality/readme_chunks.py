"""The labelled set's own chunking, for the sanity line that reproduces its README figures.

The main-body text of each listed page comes from the set's `build.py` (BeautifulSoup, its
per-source content selectors), cut into 200-word chunks with 40-word overlap, exactly as
its `bm25_baseline.py` does. Parsing every page with BeautifulSoup takes a minute, so the
chunks are kept in a JSON file beside the collections, keyed by build.py and the pages.
"""

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

from benchmarks.quality.qrels import QRELS, Source

CHUNK_WORDS, OVERLAP_WORDS = 200, 40


def word_chunks(words: list[str]) -> list[str]:
    """Windows of CHUNK_WORDS words every CHUNK_WORDS - OVERLAP_WORDS, the last one reaching
    the end (an empty page gives one empty chunk, as the baseline does)."""
    step = CHUNK_WORDS - OVERLAP_WORDS
    out = []
    for start in range(0, max(1, len(words)), step):
        out.append(" ".join(words[start:start + CHUNK_WORDS]))
        if start + CHUNK_WORDS >= len(words):
            break
    return out


def readme_chunks(source: Source, cache_dir: Path | None) -> tuple[list[str], list[str]]:
    """(chunk texts, the path of each chunk's page) for the listed pages of `source`, kept
    in `cache_dir` when it is given."""
    pages = _read_pages(source)
    digest = hashlib.sha256((QRELS / "build.py").read_bytes())
    for page in pages:
        stat = (source.root / page).stat()
        digest.update(f"{page}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    cached = None if cache_dir is None else cache_dir / f"readme-chunks-{source.name}.json"
    if cached is not None and cached.exists():
        data = json.loads(cached.read_text(encoding="utf-8"))
        if data["key"] == digest.hexdigest():
            return data["texts"], data["owners"]
    build = _load_build()
    from bs4 import BeautifulSoup

    texts, owners = [], []
    for page in pages:
        soup = BeautifulSoup((source.root / page).read_bytes(), "lxml")
        for chunk in word_chunks(build.page_text(soup, source.name).split()):
            texts.append(chunk)
            owners.append(str(source.root / page))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({"key": digest.hexdigest(), "texts": texts,
                                      "owners": owners}), encoding="utf-8")
    return texts, owners


def _read_pages(source: Source) -> list[str]:
    with open(QRELS / source.name / "pages.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["path"] for line in f if line.strip()]


def _load_build():
    """The set's build.py as a module, without writing bytecode into the data folder."""
    spec = importlib.util.spec_from_file_location("qrels_build", QRELS / "build.py")
    module = importlib.util.module_from_spec(spec)
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module
