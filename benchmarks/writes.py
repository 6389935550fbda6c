"""Small concurrent writes with fsync on: group commit against one fsync per batch, and
chromadb, in one run.

    .venv/bin/python -m benchmarks.writes [--threads 8] [--batch 10] [--batches 150]

Each of `--threads` threads upserts `--batches` batches of `--batch` records (384-d
random unit vectors, a small payload) into one collection, every batch acknowledged
only once durable. Sleuth runs twice on a fresh directory: with group commit (the
default: batches queued while an fsync runs share the next one) and with
`Database(group_commit=False)` (one fdatasync per batch). chromadb's
PersistentClient.add runs the same load. The sleuth modes alternate for `--rounds`
rounds (fsync latency on a shared disk drifts): each round's ratio and the median ratio
are printed, and for the median round of each mode records/s, batches per fdatasync and
its mean latency (counted in this process), and per-batch latency. The figure that
counts is the median ratio, group commit over one fsync per batch. A last sleuth run
with fdatasync skipped shows the CPU bound of the write path: group commit can reach a
high ratio only where an fsync costs well above a batch's CPU time. `CPU us/batch` is
the process's CPU time (user and system, every thread, the kernel's share of each
fdatasync included) over the batches written. The data directory
is on the disk holding `--dir` (default: the system temp directory); it must not be a
tmpfs, where fsync costs nothing.
"""

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable

import numpy as np

from vectorstore import Database

DIM = 384


class FsyncCounter:
    """Counts and times os.fdatasync calls made by Python code in this process (the
    WAL's)."""

    def __init__(self, skip: bool = False) -> None:
        self.calls = 0
        self.seconds = 0.0
        self.skip = skip
        self._real = os.fdatasync

    def __enter__(self) -> "FsyncCounter":
        def counted(fd: int) -> None:
            began = time.perf_counter()
            if not self.skip:
                self._real(fd)
            self.seconds += time.perf_counter() - began
            self.calls += 1

        os.fdatasync = counted
        return self

    def __exit__(self, *exc: object) -> None:
        os.fdatasync = self._real


def workload(threads: int, batches: int, batch: int) -> list[list[tuple]]:
    """Per thread, its batches of (ids, vectors, payloads)."""
    rng = np.random.default_rng(0)
    plan = []
    for t in range(threads):
        mine = []
        for b in range(batches):
            vectors = rng.normal(size=(batch, DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = [f"t{t}-b{b}-{i}" for i in range(batch)]
            payloads = [{"source": f"doc{t}.pdf", "page": b, "chunk": i} for i in range(batch)]
            mine.append((ids, vectors, payloads))
        plan.append(mine)
    return plan


def run(write: Callable[[list, np.ndarray, list], None], plan: list[list[tuple]]) -> dict:
    """Run every thread's batches through `write`; records/s and latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(len(plan) + 1)

    def worker(mine: list[tuple]) -> None:
        local = []
        start_gate.wait()
        for ids, vectors, payloads in mine:
            began = time.perf_counter()
            write(ids, vectors, payloads)
            local.append(time.perf_counter() - began)
        with lock:
            latencies.extend(local)

    workers = [threading.Thread(target=worker, args=(mine,)) for mine in plan]
    for w in workers:
        w.start()
    start_gate.wait()
    began, cpu_began = time.perf_counter(), time.process_time()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    records = sum(len(ids) for mine in plan for ids, _, _ in mine)
    ms = np.array(latencies) * 1000
    return {"records_per_s": records / seconds, "seconds": seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "batches": len(latencies), "cpu_us": cpu / len(latencies) * 1e6}


def bench_sleuth(workdir: str, plan: list[list[tuple]], grouped: bool,
                 fsync: bool = True) -> dict:
    path = tempfile.mkdtemp(prefix="grouped-" if grouped else "single-", dir=workdir)
    with Database(path, group_commit=grouped) as db:
        col = db.create_collection("w", dim=DIM, metric="cosine")
        with FsyncCounter(skip=not fsync) as fsyncs:
            result = run(col.upsert, plan)
        assert col.count() == sum(len(ids) for mine in plan for ids, _, _ in mine)
    shutil.rmtree(path)
    result["batches_per_fsync"] = result["batches"] / max(fsyncs.calls, 1)
    result["fsync_ms"] = fsyncs.seconds / max(fsyncs.calls, 1) * 1000
    if not fsync:
        result["batches_per_fsync"] = result["fsync_ms"] = float("nan")
    return result


def warm_up(workdir: str, plan: list[list[tuple]]) -> None:
    """One batch through a throwaway collection, so one-off costs of a process's first
    write (numba kernels of the text index load or compile: ~1 s) land in no timed
    round."""
    path = tempfile.mkdtemp(prefix="warm-", dir=workdir)
    with Database(path) as db:
        db.create_collection("w", dim=DIM, metric="cosine").upsert(*plan[0][0])
    shutil.rmtree(path)


def median_run(runs: list[dict]) -> dict:
    """The run with the median records/s (its other figures with it)."""
    return sorted(runs, key=lambda r: r["records_per_s"])[len(runs) // 2]


def bench_chroma(workdir: str, plan: list[list[tuple]]) -> dict:
    import chromadb

    client = chromadb.PersistentClient(path=os.path.join(workdir, "chroma"))
    col = client.create_collection("writes", metadata={"hnsw:space": "cosine"},
                                   embedding_function=None)

    def write(ids: list, vectors: np.ndarray, payloads: list) -> None:
        col.add(ids=ids, embeddings=vectors, metadatas=payloads)

    result = run(write, plan)
    result["batches_per_fsync"] = result["fsync_ms"] = float("nan")
    return result


def filesystem(path: str) -> str:
    """The type of the filesystem holding `path` (its longest mount point in
    /proc/mounts), or "unknown"."""
    path, best, kind = os.path.realpath(path), "", "unknown"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                point = fields[1]
                if (path == point or path.startswith(point.rstrip("/") + "/")) and \
                        len(point) > len(best):
                    best, kind = point, fields[2]
    except OSError:
        pass
    return kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--batches", type=int, default=150, help="batches per thread")
    parser.add_argument("--dir", default=None, help="parent of the data directories")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of each sleuth mode; the median is shown")
    parser.add_argument("--no-chroma", action="store_true", help="skip chromadb")
    args = parser.parse_args()
    plan = workload(args.threads, args.batches, args.batch)
    workdir = tempfile.mkdtemp(prefix="sleuth-writes-", dir=args.dir)
    runs: dict[str, list[dict]] = {"sleuth, group commit": [], "sleuth, one fsync per batch": []}
    try:
        warm_up(workdir, plan)
        for _ in range(args.rounds):  # alternating, so a slow spell of the disk hits both
            runs["sleuth, group commit"].append(bench_sleuth(workdir, plan, grouped=True))
            runs["sleuth, one fsync per batch"].append(bench_sleuth(workdir, plan, grouped=False))
        rows = {name: median_run(found) for name, found in runs.items()}
        rows["sleuth, fsync skipped (CPU bound)"] = bench_sleuth(workdir, plan, grouped=True,
                                                                fsync=False)
        if not args.no_chroma:
            rows["chromadb PersistentClient.add"] = bench_chroma(workdir, plan)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    grouped, single = runs["sleuth, group commit"], runs["sleuth, one fsync per batch"]
    ratios = [g["records_per_s"] / s["records_per_s"] for g, s in zip(grouped, single, strict=True)]
    print(f"{args.threads} threads x {args.batches} batches of {args.batch} records "
          f"({DIM}-d), fsync on; load average {os.getloadavg()[0]:.2f}")
    kind = filesystem(workdir)
    print(f"data directories under {workdir} ({kind}"
          f"{': fsync costs nothing there, the ratio means nothing' if kind == 'tmpfs' else ''})")
    print("round by round, records/s group commit / one fsync per batch: " + ", ".join(
        f"{g['records_per_s']:.0f}/{s['records_per_s']:.0f} = {r:.2f}x"
        for g, s, r in zip(grouped, single, ratios, strict=True)))
    print(f"{'engine (median round)':34} {'records/s':>10} {'batches/fsync':>13} "
          f"{'ms/fsync':>8} {'CPU us/batch':>12} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in rows.items():
        print(f"{name:34} {r['records_per_s']:10.0f} {r['batches_per_fsync']:13.1f} "
              f"{r['fsync_ms']:8.2f} {r['cpu_us']:12.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")
    print(f"group commit / one fsync per batch: {float(np.median(ratios)):.2f}x "
          "(median of the rounds' ratios; goal >= 4x)")
    if "chromadb PersistentClient.add" in rows:
        chroma = rows["chromadb PersistentClient.add"]["records_per_s"]
        sleuth = rows["sleuth, group commit"]["records_per_s"]
        print(f"group commit / chromadb: {sleuth / chroma:.1f}x")


if __name__ == "__main__":
    main()
