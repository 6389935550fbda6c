"""A bounded concurrency soak through a real HTTP server: 4 writers (upserts, overwrites,
deletes by id and by filter) and 4 readers (filtered searches, document gets, collection
info) on one collection while it seals and compacts, and a drop/re-create loop on
another. Every read is checked against what was acknowledged (and what was in flight)
when it ran: no wrong record, no filter broken, no 5xx, 404 only for a dropped
collection or a deleted document. Then every acknowledged write is checked, and again
after a restart."""

import random
import threading
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
import pytest
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.app.test_serve import free_port
from vectorstore import Database

SECONDS = 20
MAX_OPS = 4000
WRITERS = 4
READERS = 4
IDS_PER_WRITER = 40
DIM = 8


def _vector(rid: str, version: int) -> list[float]:
    rng = np.random.default_rng(abs(hash((rid, version))) % 2**32)
    return rng.normal(size=DIM).round(4).tolist()


def _payload(writer: int, i: int, version: int) -> dict:
    return {"w": writer, "i": i, "v": version, "doc_id": f"w{writer}-{i}", "chunk_index": 0,
            "title": f"v{version}"}


@dataclass
class History:
    """Every state one id has been given: (seq when sent, seq when acknowledged or None
    while in flight, version or None for deleted)."""

    states: list[list] = field(default_factory=lambda: [[0, 0, None]])


class Oracle:
    """What the writers sent and what was acknowledged, on one clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clock = 0
        self.ids = {f"w{w}-{i}": History() for w in range(WRITERS) for i in range(IDS_PER_WRITER)}

    def tick(self) -> int:
        with self.lock:
            self.clock += 1
            return self.clock

    def send(self, changes: dict[str, int | None]) -> list[list]:
        seq = self.tick()
        with self.lock:
            entries = [[seq, None, version] for version in changes.values()]
            for rid, entry in zip(changes, entries, strict=True):
                self.ids[rid].states.append(entry)
        return entries

    def ack(self, entries: list[list]) -> None:
        seq = self.tick()
        with self.lock:
            for entry in entries:
                entry[1] = seq

    def possible(self, rid: str, t0: int, t1: int) -> set[int | None]:
        """Versions a read running from t0 to t1 may show for `rid`."""
        with self.lock:
            states = list(self.ids[rid].states)
        acked_before = [s for s in states if s[1] is not None and s[1] <= t0]
        out = {acked_before[-1][2]} if acked_before else {None}
        out |= {s[2] for s in states if s[0] <= t1 and (s[1] is None or s[1] >= t0)}
        return out

    def final(self, rid: str) -> int | None:
        return self.ids[rid].states[-1][2]


def _check(response: httpx.Response, allowed: tuple[int, ...] = (200,)) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert response.status_code in allowed, (response.status_code, response.text[:300])


def _writer(url: str, oracle: Oracle, w: int, deadline: float, rng: random.Random) -> int:
    versions = dict.fromkeys(range(IDS_PER_WRITER), 0)
    live = set()
    ops = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline and ops < MAX_OPS:
            ops += 1
            roll = rng.random()
            if roll < 0.6 or not live:
                chosen = rng.sample(range(IDS_PER_WRITER), rng.randint(1, 5))
                for i in chosen:
                    versions[i] += 1
                entries = oracle.send({f"w{w}-{i}": versions[i] for i in chosen})
                body = {"records": [{"id": f"w{w}-{i}", "vector": _vector(f"w{w}-{i}", versions[i]),
                                     "payload": _payload(w, i, versions[i])} for i in chosen]}
                _check(http.post("/v1/collections/stable/records", json=body))
                live |= set(chosen)
            elif roll < 0.85:
                chosen = rng.sample(sorted(live), min(len(live), rng.randint(1, 3)))
                entries = oracle.send({f"w{w}-{i}": None for i in chosen})
                response = http.post("/v1/collections/stable/records/delete",
                                     json={"ids": [f"w{w}-{i}" for i in chosen]})
                _check(response)
                assert response.json()["deleted"] == len(chosen)
                live -= set(chosen)
            else:
                low = rng.randrange(IDS_PER_WRITER)
                chosen = [i for i in live if low <= i < low + 4]
                entries = oracle.send({f"w{w}-{i}": None for i in chosen})
                response = http.post("/v1/collections/stable/records/delete",
                                     json={"where": {"w": w, "i": {"$gte": low, "$lt": low + 4}}})
                _check(response)
                assert response.json()["deleted"] == len(chosen)
                live -= set(chosen)
            oracle.ack(entries)
    return ops


def _check_hit(oracle: Oracle, hit: dict, t0: int, t1: int, where: dict | None) -> None:
    meta = hit["metadata"]
    rid = f"w{meta['w']}-{meta['i']}"
    assert hit["id"] == rid == hit["document_id"], hit
    assert hit["title"] == f"v{meta['v']}", hit
    assert meta["v"] in oracle.possible(rid, t0, t1), (hit, oracle.ids[rid].states)
    if where is not None:
        assert all(meta[k] == v if not isinstance(v, dict) else meta[k] >= v["$gte"]
                   for k, v in where.items()), (where, hit)


def _reader(url: str, oracle: Oracle, deadline: float, rng: random.Random) -> int:
    ops = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline and ops < MAX_OPS:
            ops += 1
            roll = rng.random()
            t0 = oracle.tick()
            if roll < 0.5:
                where = rng.choice([None, {"w": rng.randrange(WRITERS)},
                                    {"v": {"$gte": rng.randint(1, 4)}},
                                    {"w": rng.randrange(WRITERS), "v": {"$gte": 2}}])
                body = {"vector": np.random.default_rng(ops).normal(size=DIM).tolist(),
                        "k": rng.choice([1, 5, 20])}
                if where is not None:
                    body["where"] = where
                response = http.post("/v1/collections/stable/search", json=body)
                t1 = oracle.tick()
                _check(response)
                hits = response.json()["hits"]
                assert len({h["id"] for h in hits}) == len(hits), "an id twice in one answer"
                for hit in hits:
                    _check_hit(oracle, hit, t0, t1, where)
            elif roll < 0.8:
                rid = f"w{rng.randrange(WRITERS)}-{rng.randrange(IDS_PER_WRITER)}"
                response = http.get(f"/v1/collections/stable/documents/{rid}")
                t1 = oracle.tick()
                possible = oracle.possible(rid, t0, t1)
                if response.status_code == 404:
                    assert None in possible, (rid, oracle.ids[rid].states)
                else:
                    _check(response)
                    assert int(response.json()["title"][1:]) in possible
            elif roll < 0.9:
                _check(http.get("/v1/collections/stable"))
            else:
                response = http.post("/v1/collections/cycle/search",
                                     json={"vector": [1.0] * DIM, "k": 10})
                _check(response, (200, 404))
                if response.status_code == 200:
                    generations = {h["metadata"]["g"] for h in response.json()["hits"]}
                    assert len(generations) <= 1, f"records of two generations: {generations}"
    return ops


def _cycler(url: str, deadline: float) -> int:
    """Drop and re-create collection 'cycle' over and over, writing each generation."""
    generation = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < deadline and generation < 500:
            generation += 1
            _check(http.delete("/v1/collections/cycle"), (204, 404))
            _check(http.post("/v1/collections", json={"name": "cycle", "dimension": DIM}), (201,))
            body = {"records": [{"id": f"{generation}-{i}", "vector": [1.0 + i] * DIM,
                                 "payload": {"g": generation}} for i in range(5)]}
            _check(http.post("/v1/collections/cycle/records", json=body))
            _check(http.get("/v1/collections"))
            _check(http.get("/metrics"))
    return generation


def _maintainer(db_of, deadline: float) -> int:
    """Seal and compact the live collection now and then, as an operator might."""
    rounds = 0
    while time.monotonic() < deadline and rounds < 100:
        time.sleep(1.0)
        collection = db_of().get_collection("stable")
        collection.flush()
        collection.compact()
        rounds += 1
    return rounds


class Server:
    """The API in a uvicorn thread on a free loopback port."""

    def __init__(self, data) -> None:
        self.port = free_port()
        self.app = create_app(Settings(data_dir=data, ingest_workers=0, port=self.port))
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="soak-api")
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=5).json()["status"] == "ready":
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server not ready"
            time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    def db(self) -> Database:
        return self.app.state.services.db


def _verify_final(url: str, oracle: Oracle) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        expected = {rid: oracle.final(rid) for rid in oracle.ids}
        info = http.get("/v1/collections/stable").json()
        assert info["count"] == sum(v is not None for v in expected.values())
        for rid, version in expected.items():
            response = http.get(f"/v1/collections/stable/documents/{rid}")
            if version is None:
                assert response.status_code == 404, rid
            else:
                assert response.status_code == 200 and response.json()["title"] == f"v{version}"


@pytest.mark.slow
def test_concurrent_soak_reads_match_acknowledged_writes(tmp_path, embedder):
    data = tmp_path / "data"
    with Database(data) as db:
        db.create_collection("stable", dim=DIM, metric="l2", seal_rows=48, merge_rows=200)
    oracle = Oracle()
    with Server(data) as server:
        deadline = time.monotonic() + SECONDS
        results: dict[str, object] = {}

        def run(name: str, fn, *args) -> None:
            try:
                results[name] = fn(*args)
            except BaseException as exc:  # reported by the assertion below
                results[name] = exc

        threads = [threading.Thread(target=run, args=(f"writer{w}", _writer, server.url, oracle,
                                                      w, deadline, random.Random(w)))
                   for w in range(WRITERS)]
        threads += [threading.Thread(target=run, args=(f"reader{r}", _reader, server.url, oracle,
                                                       deadline, random.Random(100 + r)))
                    for r in range(READERS)]
        threads.append(threading.Thread(target=run, args=("cycler", _cycler, server.url,
                                                          deadline)))
        threads.append(threading.Thread(target=run, args=("maintainer", _maintainer, server.db,
                                                          deadline)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 120)
        failures = {k: v for k, v in results.items() if isinstance(v, BaseException)}
        assert not failures, failures
        assert len(results) == len(threads)
        assert all(results[f"writer{w}"] > 10 for w in range(WRITERS)), results
        assert all(results[f"reader{r}"] > 10 for r in range(READERS)), results
        assert results["cycler"] > 2 and results["maintainer"] >= 1, results
        stats = server.db().get_collection("stable").stats()
        assert stats["health"] == "ok", stats
        _verify_final(server.url, oracle)
    with Server(data) as server:
        _verify_final(server.url, oracle)
