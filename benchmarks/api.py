"""Load test of the retrieval API against a real server, beside the same searches in-process.

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.api [--data DIR] [--seconds 8]
    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.api --backends torch onnx onnx-int8

Fills a collection with the 100,000 real all-MiniLM-L6-v2 passages of ../shared/datasets
through the library (index "hnsw", default seal size; reused when `--data` already holds
it), then runs text and vector searches (k=10) at 1, 8 and 32 concurrent clients:
in-process on the library (threads calling `Collection.search`, the model embedding the
text), then over HTTP against `sleuth serve` on 127.0.0.1 (one `benchmarks.load` process
per client, each with one keep-alive connection). Every level is bounded in requests and
seconds. Prints p50/p95/p99 latency and requests/s per level, and the recall@10 the
server's vector search reached. Clients share the machine's cores with the server, as
they would on one box.

`--backends` measures text search alone (the server embeds each query) at 8 clients over
HTTP with each embedding backend (SLEUTH_EMBEDDING_BACKEND), one server per backend in
turn, for `--rounds` rounds interleaved; prints each backend's best round and its ratio
of requests/s to `torch`'s.
"""

import argparse
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import numpy as np

from ingest.embedding import BACKEND_ENV, BACKENDS, DEFAULT_MODEL, shared_embedder
from ingest.store import DIM_KEY, MODEL_KEY
from vectorstore import Database

from .datasets import load_ann_dev, load_passages

COLLECTION, K = "bench", 10
CLIENTS = (1, 8, 32)
MAX_REQUESTS = {"vector": 4000, "text": 1000}
BATCH = 5000

Call = Callable[[int], None]
"""One search: the argument picks the query."""

Runner = Callable[[int, int, float], tuple[np.ndarray, float]]
"""Runs (clients, request limit, seconds) and gives (latencies in seconds, wall seconds)."""


@dataclass(frozen=True)
class Result:
    where: str
    kind: str
    clients: int
    latencies: np.ndarray  # seconds
    seconds: float

    def row(self) -> str:
        p50, p95, p99 = np.percentile(self.latencies * 1000, [50, 95, 99])
        rate = len(self.latencies) / self.seconds
        return (f"{self.where:<10} {self.kind:<6} {self.clients:>7} {len(self.latencies):>6} "
                f"{p50:>8.2f} {p95:>8.2f} {p99:>8.2f} {rate:>8.1f}")


HEADER = (f"{'where':<10} {'search':<6} {'clients':>7} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'req/s':>8}")


def build(data_dir: Path, base: np.ndarray, passages: list[str]) -> None:
    """Write the collection through the library unless it is already there, then seal."""
    with Database(data_dir) as db:
        if COLLECTION in db and db.get_collection(COLLECTION).count() == len(base):
            return
        if COLLECTION in db:
            db.drop_collection(COLLECTION)
        col = db.create_collection(COLLECTION, dim=base.shape[1], index="hnsw",
                                   metadata={MODEL_KEY: DEFAULT_MODEL, DIM_KEY: base.shape[1]})
        started = time.perf_counter()
        for lo in range(0, len(base), BATCH):
            hi = min(lo + BATCH, len(base))
            col.upsert([f"p{i}" for i in range(lo, hi)], base[lo:hi],
                       [{"text": passages[i], "doc_id": f"d{i // 20}", "chunk_index": i % 20,
                         "source": f"corpus/{i // 20}.txt"} for i in range(lo, hi)])
        col.flush()
        print(f"built {len(base)} chunks in {time.perf_counter() - started:.0f}s: "
              f"{col.stats()}", flush=True)


def run_threads(calls: Callable[[], Call], clients: int, limit: int, seconds: float
                ) -> tuple[np.ndarray, float]:
    """`clients` threads, each with its own `calls()`, until `limit` requests or `seconds`."""
    counter = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    def worker(out: list[float]) -> None:
        call = calls()
        while (i := next(counter)) < limit and time.perf_counter() < deadline:
            started = time.perf_counter()
            call(i)
            out.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(out,)) for out in latencies]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return np.array([x for out in latencies for x in out]), time.perf_counter() - started


def run_processes(url: str, bodies: Path, clients: int, limit: int, seconds: float
                  ) -> tuple[np.ndarray, float]:
    """`clients` load processes POSTing `bodies` to `url`, started together once all are
    connected, until `limit` requests in all or `seconds`."""
    shares = [limit // clients + (i < limit % clients) for i in range(clients)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.load", url, str(bodies), str(share),
             str(seconds), str(sum(shares[:i]))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for i, share in enumerate(shares)
    ]
    try:
        for p in processes:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"load client {p.args} did not connect")
        started = time.perf_counter()
        for p in processes:
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=seconds + 120)[0] for p in processes]
        wall = time.perf_counter() - started
    finally:
        for p in processes:
            p.kill()
            p.communicate()
    if any(p.returncode for p in processes):
        raise RuntimeError("a load client failed; see its message above")
    return np.array([x for out in outputs for x in json.loads(out)]), wall


def measure(where: str, kinds: dict[str, Runner], seconds: float) -> list[Result]:
    results = []
    for kind, runner in kinds.items():
        runner(2, 20, seconds)  # warm-up: numba, torch and connections
        for clients in CLIENTS:
            latencies, wall = runner(clients, MAX_REQUESTS[kind], seconds)
            results.append(Result(where, kind, clients, latencies, wall))
            print(results[-1].row(), flush=True)
    return results


def in_process(data_dir: Path, queries: np.ndarray, texts: list[str], seconds: float) -> list:
    embedder = shared_embedder()
    with Database(data_dir) as db:
        col = db.get_collection(COLLECTION)

        def vector() -> Call:
            return lambda i: col.search(queries[i % len(queries)], k=K)

        def text() -> Call:
            return lambda i: col.search(embedder.embed_query(texts[i % len(texts)]), k=K)

        return measure("in-process", {"vector": partial(run_threads, vector),
                                      "text": partial(run_threads, text)}, seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, env: dict[str, str] | None = None
                 ) -> subprocess.Popen:
    """`sleuth serve` on 127.0.0.1:`port`, ready (bounded wait), logs discarded."""
    sleuth = Path(sys.executable).with_name("sleuth")
    process = subprocess.Popen(
        [str(sleuth), "serve", "--host", "127.0.0.1", "--port", str(port), "--data",
         str(data_dir)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise TimeoutError("server not ready within 180s")


def over_http(port: int, queries: np.ndarray, texts: list[str], seconds: float,
              scratch: Path) -> list:
    url = f"http://127.0.0.1:{port}/v1/collections/{COLLECTION}/search"
    vectors, text = scratch / "vector.jsonl", scratch / "text.jsonl"
    vectors.write_text("".join(json.dumps({"vector": q.tolist(), "k": K}) + "\n"
                               for q in queries))
    text.write_text("".join(json.dumps({"query": t, "k": K}) + "\n" for t in texts))
    return measure("http", {"vector": partial(run_processes, url, vectors),
                            "text": partial(run_processes, url, text)}, seconds)


def http_recall(port: int, queries: np.ndarray, gt: np.ndarray, n: int = 200) -> float:
    url = f"http://127.0.0.1:{port}/v1/collections/{COLLECTION}/search"
    found = 0
    with httpx.Client(timeout=30) as http:
        for q, truth in zip(queries[:n], gt[:n], strict=True):
            hits = http.post(url, json={"vector": q.tolist(), "k": K}).json()["hits"]
            ids = {int(h["id"][1:]) for h in hits}
            found += len(ids & set(truth[:K].tolist()))
    return found / (n * K)


TEXT_CLIENTS = 8


def compare_backends(data_dir: Path, texts: list[str], backends: list[str], rounds: int,
                     seconds: float, scratch: Path) -> None:
    """Text search at TEXT_CLIENTS clients over HTTP, one server per backend in turn."""
    bodies = scratch / "text.jsonl"
    bodies.write_text("".join(json.dumps({"query": t, "k": K}) + "\n" for t in texts))
    best: dict[str, Result] = {}
    print(HEADER, flush=True)
    for _ in range(rounds):
        for backend in backends:
            port = free_port()
            server = start_server(data_dir, port, {BACKEND_ENV: backend})
            url = f"http://127.0.0.1:{port}/v1/collections/{COLLECTION}/search"
            try:
                run_processes(url, bodies, 2, 20, seconds)  # warm-up
                latencies, wall = run_processes(url, bodies, TEXT_CLIENTS,
                                                MAX_REQUESTS["text"], seconds)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
            result = Result(backend, "text", TEXT_CLIENTS, latencies, wall)
            print(result.row(), flush=True)
            rate = len(latencies) / wall
            if backend not in best or rate > len(best[backend].latencies) / best[backend].seconds:
                best[backend] = result
    base = best.get("torch")
    print(f"\ntext search over HTTP at {TEXT_CLIENTS} clients, best of {rounds} round(s):")
    for backend, result in best.items():
        rate = len(result.latencies) / result.seconds
        p50 = np.percentile(result.latencies * 1000, 50)
        ratio = "" if base is None else \
            f", {rate / (len(base.latencies) / base.seconds):.2f}x torch's req/s"
        print(f"  {backend:<10} {rate:7.1f} req/s, p50 {p50:7.1f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="Data directory (kept; reused if filled).")
    parser.add_argument("--seconds", type=float, default=8.0, help="Longest run per level.")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS,
                        help="Only text search at 8 clients, per embedding backend.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds of --backends.")
    args = parser.parse_args()
    data = load_ann_dev()
    lines = load_passages()
    passages, texts = lines[: len(data.base)], lines[len(data.base):]
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data or Path(scratch) / "data"
        build(data_dir, data.base, passages)
        if args.backends:
            print(f"load average at start: {os.getloadavg()}", flush=True)
            compare_backends(data_dir, texts, args.backends, args.rounds, args.seconds,
                             Path(scratch))
            print(f"load average at end: {os.getloadavg()}")
            return
        print(HEADER, flush=True)
        results = in_process(data_dir, data.queries, texts, args.seconds)
        port = free_port()
        server = start_server(data_dir, port)
        try:
            results += over_http(port, data.queries, texts, args.seconds, Path(scratch))
            recall = http_recall(port, data.queries, data.gt)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    print(f"\nk={K}, {len(data.base)} chunks, index hnsw (ef_search 64); "
          f"HTTP vector search recall@10 = {recall:.3f}\n")
    print(HEADER)
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
