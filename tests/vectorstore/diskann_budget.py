"""Build and search a diskann segment several times larger than its memory budget, in
a fresh process, and print how much the peak resident size grew in each phase. The
segment holds the repository's 20,000 real MiniLM embeddings (30 MiB of vectors, 41 MiB
of nodes) under a 32 MiB budget.

    python -m tests.vectorstore.diskann_budget DIR

Run by test_diskann.py. Resident size is Rss from /proc/self/smaps_rollup, counted
page by page (anonymous and file-backed alike: a touched page of a memory map counts),
sampled every millisecond by a thread while a phase runs; the peak's growth over the
size the phase started from is printed as key=value. (VmHWM in /proc/self/status is
kept from per-CPU counters that drift by megabytes in a threaded process, too coarse
for a 32 MiB budget; it is printed too, as `*_hwm`.) The kernels are compiled first on
a small segment taking the same paths.
"""

import sys
import threading
import time
from pathlib import Path

from tests.realdata import minilm
from vectorstore.arrayfile import read_array, write_array
from vectorstore.config import DiskAnnConfig
from vectorstore.diskann import DiskAnnIndex
from vectorstore.metrics import METRICS

R = 32
BUDGET = 32 << 20
METRIC = METRICS["cosine"]


def memory(field: str) -> int:
    with open("/proc/self/status") as f:
        return 1024 * int(next(line for line in f if line.startswith(field)).split()[1])


def reset_peak() -> int:
    """Reset VmHWM to the current resident size, which it returns."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return memory("VmRSS")


def rss() -> int:
    with open("/proc/self/smaps_rollup") as f:
        return 1024 * int(next(line for line in f if line.startswith("Rss:")).split()[1])


class Peak:
    """The peak growth of `rss()` while the block runs, sampled every millisecond."""

    def __enter__(self) -> "Peak":
        self.start = rss()
        self.hwm_start = reset_peak()
        self.top = self.start
        self.running = True
        self.thread = threading.Thread(target=self._sample)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.top = max(self.top, rss())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()
        self.top = max(self.top, rss())
        self.growth = self.top - self.start
        self.hwm_growth = memory("VmHWM") - self.hwm_start




def build(directory: Path, config: DiskAnnConfig) -> None:
    index = DiskAnnIndex.build(read_array(directory / "vectors.arr"), METRIC, config)
    index.write(directory)


def main() -> None:
    root = Path(sys.argv[1])
    config = DiskAnnConfig(R=R, L=48, L_search=80, build_memory_bytes=BUDGET)
    warm = root / "warm"
    warm.mkdir()
    fixture = minilm()
    queries = METRIC.prepare(fixture.queries[:200])
    write_array(warm / "vectors.arr", METRIC.prepare(fixture.base[:3000]))
    build(warm, DiskAnnConfig(R=R, L=48, build_memory_bytes=32 << 20))  # sharded path too
    DiskAnnIndex.open(warm, read_array(warm / "vectors.arr"), METRIC, config).search(
        queries[:10], 10, None, {})
    big = root / "big"
    big.mkdir()
    write_array(big / "vectors.arr", METRIC.prepare(fixture.base))
    truth = fixture.gt[:200, :10]

    with Peak() as built:
        build(big, config)
    with Peak() as searched:
        index = DiskAnnIndex.open(big, read_array(big / "vectors.arr"), METRIC, config)
        rows, _ = index.search(queries, 10, None, {})
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(rows, truth, strict=True))
    segment = sum(path.stat().st_size for path in big.iterdir())
    print(f"budget={BUDGET} segment_bytes={segment} build_peak={built.growth} "
          f"search_peak={searched.growth} build_hwm={built.hwm_growth} "
          f"search_hwm={searched.hwm_growth} resident={index.nbytes()} "
          f"recall={hits / truth.size}")


if __name__ == "__main__":
    main()
