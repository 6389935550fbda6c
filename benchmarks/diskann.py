"""Sleuth's diskann segment index side by side with diskannpy, page cache warm and cold.

    .venv/bin/python -m benchmarks.diskann [--n 100000] [--queries 1000] [--threads 2]
                                           [--repeats 2] [--scale]
    (make bench-diskann first: diskannpy lives in .venv-diskannpy, see diskann_peer.py)

On the shared real embeddings (../shared/datasets, 100,000 x 384 all-MiniLM-L6-v2,
unit vectors: cosine for us, L2 for diskannpy, the same order), in one run: both build
with R=64, L=100, alpha=1.2 (diskannpy's disk default), 32-byte PQ codes, --threads
threads; both cache the same number of nodes around the entry point (ours: 4 bytes per
row, so PQ codes + codebooks + cache stay within 40 bytes per vector at 100k). Then
L_search is swept at W=4, with both searching the whole query batch on --threads
threads, timed by wall clock (disk waits count), warm (after an untimed pass) and cold
(the index files' pages dropped with posix_fadvise(DONTNEED) before each timed pass;
diskannpy reads with O_DIRECT, so it never uses the page cache and its warm and cold
passes both go to the device).
Storage reads per query come from /proc/<pid>/io read_bytes (4 KiB units) for both;
ours also counts the blocks it asked for (page-cache hits included). Our io="mmap"
mode (the kernel reads the mapped node file) runs beside it, to say which I/O path is
faster. Prints build time, resident bytes per vector, recall@10 / QPS curves and the
ratios at recall@10 = 0.95 against the goals of issue #19.

--scale runs instead our index alone at 100k, 300k and 1M rows (--sizes to change them;
about an hour on two busy cores): the real set, then copies of it
with small Gaussian perturbations (sigma 0.01 per dimension, re-normalised) to reach the
size, exact ground truth recomputed: build time, resident bytes and QPS at recall 0.95.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numba
import numpy as np

from vectorstore.arrayfile import read_array, write_array
from vectorstore.config import DiskAnnConfig
from vectorstore.diskann import DiskAnnIndex
from vectorstore.flat import exact_search
from vectorstore.metrics import METRICS

from .ann import common_arguments, load, qps_at, recall
from .quantized import Seconds, by_recall, timed

R, L_BUILD, ALPHA, PQ_BYTES, W, K = 64, 100, 1.2, 32, 4, 10
CACHE_PER_ROW = 4
L_SEARCH = (10, 16, 24, 32, 48, 64, 96, 128, 192)
TARGET = 0.95
METRIC = METRICS["cosine"]
PEER = Path(__file__).resolve().parent.parent / ".venv-diskannpy" / "bin" / "python"
PAGE = 4096
Curve = list[tuple[int, float, float]]


def storage_reads() -> int:
    """Bytes this process caused to be read from storage so far."""
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("read_bytes")).split()[1])


def drop_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class Ours:
    """Our index over a segment directory: vectors.arr written, built from its map."""

    def __init__(self, base: np.ndarray, directory: Path, threads: int) -> None:
        self.directory = directory
        self.config = DiskAnnConfig(R=R, L=L_BUILD, alpha=ALPHA, pq_bytes=PQ_BYTES,
                                    W=W, cache_per_row=CACHE_PER_ROW)
        write_array(directory / "vectors.arr", base)
        numba.set_num_threads(threads)
        built, self.build_time = timed(lambda: DiskAnnIndex.build(
            read_array(directory / "vectors.arr"), METRIC, self.config))
        built.write(directory)
        del built
        self.index = DiskAnnIndex.open(directory, read_array(directory / "vectors.arr"),
                                       METRIC, self.config)

    def search(self, queries: np.ndarray, L: int, cold: bool, io: str = "pread"
               ) -> tuple[np.ndarray, float, float, float]:
        """(ids, QPS, storage reads per query, blocks asked per query)."""
        self.index.config = replace(self.config, io=io)
        if cold:
            self.index.nodes.drop_cache()
            drop_file(self.directory / "vectors.arr")
        io_before, blocks_before = storage_reads(), self.index.block_reads
        start = time.perf_counter()
        found = self.index.search(queries, K, None, {"L_search": L})[0]
        seconds = time.perf_counter() - start
        nq = len(queries)
        return (found, nq / seconds, (storage_reads() - io_before) / PAGE / nq,
                (self.index.block_reads - blocks_before) / nq)


class Peer:
    """diskannpy in its own interpreter (`diskann_peer.py`)."""

    def __init__(self, python: Path, scratch: Path) -> None:
        read, write = os.pipe()
        self.scratch = scratch
        self.log = open(scratch / "diskannpy.log", "w")  # noqa: SIM115 (closed in close)
        self.process = subprocess.Popen(
            [str(python), str(Path(__file__).with_name("diskann_peer.py")), str(write)],
            stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
            pass_fds=(write,), text=True)
        os.close(write)
        self.answers = os.fdopen(read)

    def ask(self, **request: object) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.answers.readline()
        if not line:
            raise RuntimeError(f"diskannpy worker died; see {self.log.name}")
        return json.loads(line)

    def build(self, base: np.ndarray, threads: int) -> Seconds:
        np.save(self.scratch / "base.npy", base)
        (self.scratch / "peer").mkdir()
        answer = self.ask(op="build", base=str(self.scratch / "base.npy"),
                          dir=str(self.scratch / "peer"), R=R, L=L_BUILD,
                          pq_bytes=PQ_BYTES, threads=threads)
        (self.scratch / "base.npy").unlink()
        return Seconds(answer["wall"], answer["cpu"])

    def open(self, cache_nodes: int, threads: int) -> int:
        return self.ask(op="open", dir=str(self.scratch / "peer"), cache_nodes=cache_nodes,
                        threads=threads)["rss"]

    def search(self, queries: np.ndarray, L: int, cold: bool, threads: int
               ) -> tuple[np.ndarray, float, float]:
        np.save(self.scratch / "queries.npy", queries)
        out = self.scratch / "found.npy"
        answer = self.ask(op="search", queries=str(self.scratch / "queries.npy"),
                          out=str(out), k=K, L=max(L, K), W=W, threads=threads, cold=cold)
        nq = len(queries)
        return np.load(out), nq / answer["wall"], answer["read_bytes"] / PAGE / nq

    def close(self) -> None:
        self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.log.close()


def peer_bytes_per_vector(n: int, d: int, cache_nodes: int) -> float:
    """diskannpy's resident bytes per vector: PQ codes, pivots, cached nodes."""
    node = 4 * (d + 1 + R)
    return PQ_BYTES + (256 * d * 4 + cache_nodes * node) / n


def sweep(ours: Ours, peer: Peer | None, queries: np.ndarray, gt: np.ndarray, threads: int,
          repeats: int) -> dict[str, Curve]:
    curves: dict[str, Curve] = {}
    header = f"{'L':>5} {'lib':>14} {'R@10':>7} {'QPS':>7} {'storage reads/q':>16} " \
             f"{'blocks/q':>9}"
    for cold in (False, True):
        print(f"\n{'cold' if cold else 'warm'} page cache ({threads} search threads)\n{header}")
        for L in L_SEARCH:
            runs = [("sleuth-pread", "pread"), ("sleuth-mmap", "mmap")]
            for name, io in runs:
                if not cold:
                    ours.search(queries, L, False, io)
                best = None
                for _ in range(1 if cold else repeats):
                    found, qps, reads, blocks = ours.search(queries, L, cold, io)
                    if best is None or qps > best[1]:
                        best = (found, qps, reads, blocks)
                found, qps, reads, blocks = best
                key = f"{name}-{'cold' if cold else 'warm'}"
                curves.setdefault(key, []).append((L, recall(found, gt), qps))
                print(f"{L:>5} {name:>14} {curves[key][-1][1]:>7.4f} {qps:>7.0f} "
                      f"{reads:>16.1f} {blocks:>9.1f}", flush=True)
            if peer is None:
                continue
            if not cold:
                peer.search(queries, L, False, threads)
            best = None
            for _ in range(1 if cold else repeats):
                found, qps, reads = peer.search(queries, L, cold, threads)
                if best is None or qps > best[1]:
                    best = (found, qps, reads)
            found, qps, reads = best
            key = f"diskannpy-{'cold' if cold else 'warm'}"
            curves.setdefault(key, []).append((L, recall(found, gt), qps))
            print(f"{L:>5} {'diskannpy':>14} {curves[key][-1][1]:>7.4f} {qps:>7.0f} "
                  f"{reads:>16.1f} {'':>9}", flush=True)
    return curves


def ratio_line(what: str, a: float, b: float, goal: float, higher: bool = True) -> None:
    ratio = a / b
    held = ratio >= goal if higher else ratio <= goal
    verdict = "n/a (a curve does not reach it)" if np.isnan(ratio) else \
        ("goal held" if held else "goal NOT held")
    sign = ">=" if higher else "<="
    print(f"  {what}: {a:.1f} vs {b:.1f} = {ratio:.2f}x (goal {sign} {goal}x: {verdict})")


def side_by_side(base: np.ndarray, queries: np.ndarray, gt: np.ndarray, args,
                 scratch: Path) -> None:
    n, d = base.shape
    (scratch / "ours").mkdir()
    ours = Ours(base, scratch / "ours", args.threads)
    cache_nodes = ours.index.cache.ids.size
    resident = ours.index.nbytes() / n
    print(f"\nsleuth diskann: build {ours.build_time}, resident {resident:.1f} bytes/vector "
          f"(PQ {PQ_BYTES} + codebooks + {cache_nodes} cached nodes), node file "
          f"{ours.index.disk_bytes() / 2**20:.0f} MiB")
    peer = None
    if args.peer.exists():
        peer = Peer(args.peer, scratch)
        peer_build = peer.build(base, args.threads)
        peer_rss = peer.open(cache_nodes, args.threads)
        print(f"diskannpy:      build {peer_build}, resident "
              f"{peer_bytes_per_vector(n, d, cache_nodes):.1f} bytes/vector (PQ {PQ_BYTES} + "
              f"pivots + {cache_nodes} cached nodes; its process grew {peer_rss / n:.0f} "
              f"bytes/vector on open, thread scratch included)")
    else:
        print(f"diskannpy: not found at {args.peer}. It pins numpy < 2, so it cannot share "
              "the project's venv; `make bench-diskann` makes its own. Running ours alone.")
    try:
        curves = sweep(ours, peer, queries, gt, args.threads, args.repeats)
    finally:
        if peer is not None:
            peer.close()
    print(f"\nAt recall@10 = {TARGET} (QPS interpolated along each curve):")
    for temp in ("warm", "cold"):
        a = qps_at(by_recall(curves[f"sleuth-pread-{temp}"]), TARGET)
        m = qps_at(by_recall(curves[f"sleuth-mmap-{temp}"]), TARGET)
        print(f"  {temp}: pread {a:.0f} QPS, mmap {m:.0f} QPS "
              f"({'mmap' if m > a else 'pread'} is faster by {max(a, m) / min(a, m):.2f}x)")
        if peer is not None:
            b = qps_at(by_recall(curves[f"diskannpy-{temp}"]), TARGET)
            ratio_line(f"QPS {temp}, ours (pread) vs diskannpy", a, b, 0.8)
            ratio_line(f"QPS {temp}, ours (mmap) vs diskannpy", m, b, 0.8)
    if peer is not None:
        ratio_line("build wall seconds, ours vs diskannpy", ours.build_time.wall,
                   peer_build.wall, 1.5, higher=False)
    held = resident <= 40 and max(r for _, r, _ in curves["sleuth-pread-warm"]) >= TARGET
    print(f"  resident {resident:.1f} bytes/vector and recall@10 >= {TARGET} reached: "
          f"goal (<= 40 bytes) {'held' if held else 'NOT held'}")


def perturbed(base: np.ndarray, size: int, seed: int) -> np.ndarray:
    """`size` rows: the real set, then noisy re-normalised copies of it."""
    rng = np.random.default_rng(seed)
    parts, have = [base], base.shape[0]
    while have < size:
        take = min(base.shape[0], size - have)
        copy = base[:take] + rng.normal(0, 0.01, (take, base.shape[1])).astype(np.float32)
        parts.append(METRIC.prepare(copy))
        have += take
    return np.concatenate(parts)


def scaling(base: np.ndarray, queries: np.ndarray, args, scratch: Path) -> None:
    print("\nScaling (ours alone; rows past the real 100k are perturbed copies, sigma 0.01 "
          "per dimension, re-normalised; exact ground truth recomputed; warm cache)")
    print(f"{'rows':>9} {'build s':>18} {'resident B/vec':>15} {'QPS@0.95':>9} "
          f"{'L@0.95':>7} {'blocks/q':>9}")
    for size in args.sizes:
        data = perturbed(base, size, seed=size)
        gt = exact_search(data, queries, K, METRIC.kernel, None)[0]
        directory = scratch / f"scale{size}"
        directory.mkdir()
        ours = Ours(data, directory, args.threads)
        del data
        curve = []
        for L in L_SEARCH:
            ours.search(queries, L, False)
            found, qps, _, blocks = ours.search(queries, L, False)
            curve.append((L, recall(found, gt), qps, blocks))
            if curve[-1][1] >= TARGET + 0.01:
                break
        at = qps_at(by_recall([c[:3] for c in curve]), TARGET)
        first = next((c for c in curve if c[1] >= TARGET), curve[-1])
        print(f"{size:>9} {ours.build_time!s:>18} {ours.index.nbytes() / size:>15.1f} "
              f"{at:>9.0f} {first[0]:>7} {first[3]:>9.1f}", flush=True)
        del ours
        shutil.rmtree(directory)


def main() -> None:
    parser = common_arguments(__doc__)
    parser.set_defaults(repeats=2)
    parser.add_argument("--scale", action="store_true",
                        help="the 100k / 300k / 1M scaling run instead (long)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000],
                        help="rows of each scaling step")
    parser.add_argument("--peer", type=Path, default=PEER, help="diskannpy's python")
    args = parser.parse_args()
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    base, queries, gt = load(args.n, args.queries)
    base, queries = METRIC.prepare(base), METRIC.prepare(queries)
    with tempfile.TemporaryDirectory(prefix="sleuth-diskann-bench-") as scratch:
        if args.scale:
            scaling(base, queries, args, Path(scratch))
        else:
            side_by_side(base, queries, gt, args, Path(scratch))
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
