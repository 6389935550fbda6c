"""diskannpy driven from `benchmarks/diskann.py`, in its own interpreter.

diskannpy 0.7.0 pins numpy < 2, which the project cannot take, so it lives in its own
virtualenv (`make bench-diskann` makes `.venv-diskannpy`) and runs this script there.
It imports nothing from the project. Requests arrive as JSON lines on stdin; each
answer is one JSON line written to the file descriptor given as argv[1] (diskann's C++
code prints its logs on stdout). Arrays travel as .npy files.

    {"op": "build", "base": "x.npy", "dir": "...", "R": 64, "L": 100, "pq_bytes": 32,
     "threads": 2}                      -> {"wall": s, "cpu": s}
    {"op": "open", "dir": "...", "cache_nodes": 400, "threads": 2}
                                        -> {"rss": bytes}
    {"op": "search", "queries": "q.npy", "out": "ids.npy", "k": 10, "L": 64, "W": 4,
     "threads": 2, "cold": true}        -> {"wall": s, "read_bytes": bytes}
    {"op": "quit"}
"""

import json
import os
import sys
import time

import diskannpy
import numpy as np

INDEX_FILE = "ann_disk.index"


def read_bytes() -> int:
    """Bytes this process caused to be fetched from storage (direct I/O included)."""
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("read_bytes")).split()[1])


def rss() -> int:
    with open("/proc/self/status") as f:
        return 1024 * int(next(line for line in f if line.startswith("VmRSS")).split()[1])


def build(request: dict) -> dict:
    base = np.load(request["base"], mmap_mode="r")
    n = base.shape[0]
    # diskann sizes its PQ codes as floor(search_memory_maximum GiB / n) bytes per row.
    budget = (request["pq_bytes"] + 0.5) * n / 2**30
    wall, cpu = time.perf_counter(), time.process_time()
    diskannpy.build_disk_index(
        data=np.ascontiguousarray(base), distance_metric="l2",
        index_directory=request["dir"], complexity=request["L"],
        graph_degree=request["R"], search_memory_maximum=budget,
        build_memory_maximum=request.get("build_gb", 8.0), num_threads=request["threads"],
        pq_disk_bytes=0)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def main() -> None:
    answers = os.fdopen(int(sys.argv[1]), "w")
    index = None
    directory = ""
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "quit":
            break
        if op == "build":
            answer = build(request)
        elif op == "open":
            directory = request["dir"]
            before = rss()
            index = diskannpy.StaticDiskIndex(
                index_directory=directory, num_threads=request["threads"],
                num_nodes_to_cache=request["cache_nodes"], distance_metric="l2",
                vector_dtype=np.float32)
            answer = {"rss": rss() - before}
        else:
            queries = np.load(request["queries"])
            if request["cold"]:
                fd = os.open(os.path.join(directory, INDEX_FILE), os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            io_before = read_bytes()
            wall = time.perf_counter()
            found = index.batch_search(queries, request["k"], request["L"],
                                       request["threads"], request["W"])
            answer = {"wall": time.perf_counter() - wall,
                      "read_bytes": read_bytes() - io_before}
            np.save(request["out"], np.asarray(found[0], dtype=np.int64))
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
