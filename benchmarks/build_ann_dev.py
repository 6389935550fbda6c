"""Rebuild the benchmarks' development set `ann_dev` (see benchmarks/datasets.py) from
real English text: the Linux kernel, Perl and Git manuals shipped by Debian.

    sudo apt-get install linux-doc perl-doc git-doc
    .venv/bin/python -m benchmarks.build_ann_dev [--out DIR] [--n 100000] [--q 1000]

Passages of 15-60 words are embedded with the bundled all-MiniLM-L6-v2 (normalised,
384-d), shuffled with a fixed seed, split into a base set and held-out queries, and the
queries' exact top-100 in the base set by inner product is computed on the float16
values that are stored. Writes into DIR (default: the benchmarks' data directory):
  ann_dev_base.npy     float16 [n, 384]
  ann_dev_queries.npy  float16 [q, 384]
  ann_dev_gt.npy       int32   [q, 100]   exact neighbours in base, best first
  ann_dev_passages.txt one passage per line: base rows first, then the queries
About 25 minutes on two cores. This is the script that made the shared set our machines
hold; embeddings can differ in the last bits across library versions.
"""

import argparse
import glob
import hashlib
import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.datasets import DATASETS, PASSAGES

SOURCES = ("/usr/share/doc/linux-doc-*/html/**/*.html", "/usr/share/perl/*/pod/*.pod",
           "/usr/share/doc/git-doc/*.html")


def source_files() -> list[str]:
    return sorted(f for pattern in SOURCES for f in glob.glob(pattern, recursive=True))


def clean(text: str, is_html: bool) -> str:
    """Markup out: HTML tags, scripts and styles; POD formatting codes and directives."""
    if is_html:
        text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
        text = re.sub(r"(?s)<[^>]+>", " ", text)
    text = re.sub(r"[A-Z]<([^<>]*)>", r"\1", text)
    return re.sub(r"^=\w+.*$", " ", text, flags=re.M)


def passages(files: list[str]) -> Iterator[str]:
    """Mostly-prose paragraphs cut into 60-word windows every 50 words, de-duplicated."""
    seen = set()
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as fh:
            raw = clean(fh.read(), path.endswith(".html"))
        for para in re.split(r"\n\s*\n", raw):
            words = para.split()
            if len(words) < 15 or sum(w.isalpha() for w in words) < 0.6 * len(words):
                continue
            for i in range(0, len(words), 50):
                chunk = words[i:i + 60]
                if len(chunk) < 15:
                    break
                text = " ".join(chunk)
                digest = hashlib.blake2b(text.lower().encode(), digest_size=8).digest()
                if digest not in seen:
                    seen.add(digest)
                    yield text


def exact_top(base: np.ndarray, queries: np.ndarray, top: int = 100) -> np.ndarray:
    """(nq, top) int32 rows of `base` by descending inner product, best first: computed
    in float64 on the values as given (pass the stored float16), ties to the lower row."""
    gt = np.empty((len(queries), top), dtype=np.int32)
    base64 = base.astype(np.float64)
    for s in range(0, len(queries), 100):
        scores = queries[s:s + 100].astype(np.float64) @ base64.T
        gt[s:s + 100] = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    return gt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATASETS)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--q", type=int, default=1_000)
    args = parser.parse_args()
    files = source_files()
    if not files:
        raise SystemExit("no source text: sudo apt-get install linux-doc perl-doc git-doc")
    texts = list(passages(files))
    random.Random(7).shuffle(texts)
    texts = texts[:args.n + args.q]
    print(f"{len(texts)} passages from {len(files)} files")
    from ingest.embedding import shared_embedder

    model = shared_embedder().model
    emb = model.encode(texts, batch_size=128, normalize_embeddings=True, show_progress_bar=True)
    emb = emb.astype(np.float16)
    queries, base = emb[-args.q:], emb[:-args.q]
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "ann_dev_base.npy", base)
    np.save(args.out / "ann_dev_queries.npy", queries)
    np.save(args.out / "ann_dev_gt.npy", exact_top(base, queries))
    (args.out / PASSAGES).write_text("\n".join(texts) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
