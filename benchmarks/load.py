"""One HTTP load client, run as its own process by `benchmarks.api`.

    python -m benchmarks.load URL BODIES LIMIT SECONDS OFFSET

Opens one keep-alive connection to URL, prints "ready", waits for "go" on stdin (and
leaves if stdin closes first), then POSTs the JSON bodies of the file BODIES (one per
line, cycling from line OFFSET) until LIMIT requests are answered or SECONDS pass, and
prints the latencies in seconds as one JSON list. Each client is a process of its own, as
separate apps would be, with the stdlib's lean `http.client` and bodies encoded
beforehand: clients sharing one GIL, or spending milliseconds building each request,
would measure themselves, not the server.
"""

import http.client
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

HEADERS = {"Content-Type": "application/json"}


def main(url: str, bodies_path: str, limit: str, seconds: str, offset: str) -> None:
    target = urlsplit(url)
    bodies = Path(bodies_path).read_bytes().splitlines()
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    connection.connect()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    latencies: list[float] = []
    i, deadline = int(offset), time.perf_counter() + float(seconds)
    while len(latencies) < int(limit) and time.perf_counter() < deadline:
        started = time.perf_counter()
        connection.request("POST", target.path, body=bodies[i % len(bodies)], headers=HEADERS)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status} from {url}: {body[:200]!r}")
        latencies.append(time.perf_counter() - started)
        i += 1
    print(json.dumps(latencies), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
