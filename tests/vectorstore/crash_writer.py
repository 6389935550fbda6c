"""Child process of the crash test: applies the deterministic operations of one run
to the store and prints `ack N` after operation N returns (i.e. is durable)."""

import sys

import numpy as np

from vectorstore import Database

DIM = 16


def operation(run: int, n: int) -> tuple[str, list[str], np.ndarray | None, list[dict] | None]:
    """Operation `n` of run `run`: mostly upserts of 40 records (some overwriting
    earlier ones), every fifth a delete of part of an earlier batch."""
    rng = np.random.default_rng(run * 100_003 + n)
    if n % 5 == 4:
        return "delete", [f"{run}-{n - 3}-{j}" for j in range(0, 40, 3)], None, None
    ids = [f"{run}-{n}-{j}" for j in range(40)]
    if n >= 2:
        ids[:5] = [f"{run}-{n - 2}-{j}" for j in range(5)]
    vectors = rng.normal(size=(40, DIM)).astype(np.float32)
    payloads = [{"run": run, "op": n, "j": j} for j in range(40)]
    return "upsert", ids, vectors, payloads


def main(path: str, run: int) -> None:
    db = Database(path)
    col = db.get_collection("c") if "c" in db else \
        db.create_collection("c", dim=DIM, metric="cosine", index="flat", seal_rows=300)
    n = 0
    while True:
        kind, ids, vectors, payloads = operation(run, n)
        if kind == "upsert":
            col.upsert(ids, vectors, payloads)
        else:
            col.delete(ids=ids)
        print(f"ack {n}", flush=True)
        n += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
