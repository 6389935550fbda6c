"""Child process of the atomic-replace crash test: replaces the chunks of a few
documents over and over and prints `ack D V` once version V of document D is durable.

Version V of document D has the chunks `chunk_ids(D, V)`; each replace upserts the new
version's chunks and deletes the ones stored now, in one batch. A restarted writer goes
on from the highest version in the store.
"""

import sys

import numpy as np

from vectorstore import Database

DIM = 8
DOCS = 3


def chunk_ids(doc: int, version: int) -> list[str]:
    """The chunk ids of version `version` of document `doc` (1 to 12 chunks)."""
    count = 1 + (doc * 7 + version * 5) % 12
    return [f"{doc}:{version}:{j}" for j in range(count)]


def main(path: str) -> None:
    db = Database(path)
    col = db.get_collection("c") if "c" in db else \
        db.create_collection("c", dim=DIM, metric="cosine", index="flat", seal_rows=50)
    stored = {doc: [r.id for r in col.get(where={"doc": doc}, limit=None,
                                          include_vectors=False)] for doc in range(DOCS)}
    version = max((int(rid.split(":")[1]) for ids in stored.values() for rid in ids),
                  default=0)
    rng = np.random.default_rng(version)
    while True:
        version += 1
        for doc in range(DOCS):
            new = chunk_ids(doc, version)
            vectors = rng.normal(size=(len(new), DIM)).astype(np.float32)
            payloads = [{"doc": doc, "version": version, "j": j} for j in range(len(new))]
            col.upsert(new, vectors, payloads, delete=stored[doc])
            stored[doc] = new
            print(f"ack {doc} {version}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
