"""Benchmark: issuing over HTTP through the real server against raw warm-pool conversion.

    .venv/bin/python -m bench.bench_http [rounds]

`qujat serve` runs as its own process (uvicorn on loopback, 2 LibreOffice workers, the dev PKI's
key, SQLite in a temporary data directory). 4 client threads POST the one-page land-right act
(ru; no external_id, so every request is a new record: render, QR, convert, sign B-B, store) and
measure documents per second and latency. In the same run, in this process, a 2-worker
`ConverterPool` converts the very DOCX the server made (downloaded from /documents/{id}/docx)
with 4 client threads: the raw throughput. Rounds of each kind alternate (raw first in even
rounds, HTTP first in odd ones) so that load from other processes falls on both alike. Also
shown: the same ratio from CPU per document (the server process and its LibreOffice workers
against this process and the raw pool's workers), which other load moves less.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2

from bench._child import ROOT, Child
from bench.bench_convert import _cpu_seconds
from docgen.convert import ConverterPool
from docgen.examples import example_request

FLOOR, GOAL = 0.75, 0.85           # spec §8: HTTP issuance / raw warm-LibreOffice throughput
CLIENTS, WORKERS = 4, 2


def _request() -> dict:
    raw = example_request("land_right_act")
    raw["language"] = "ru"
    raw.pop("external_id", None)
    return raw


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(root: int) -> list[int]:
    """``root`` and every process descending from it (the server's LibreOffice workers)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found


def _tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += _cpu_seconds(pid)
        except (OSError, ValueError):
            pass                     # a process that ended is counted by neither side
    return total


class Server:
    """`qujat serve` in a process of its own on a free loopback port, with a fresh data
    directory and an API key."""

    def __init__(self, data: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("QUJAT_")},
                    "QUJAT_DATA_DIR": str(data), "QUJAT_POOL_SIZE": str(WORKERS),
                    "QUJAT_PUBLIC_BASE_URL": "https://qujat.bench"}
        self.env.pop("DATABASE_URL", None)
        made = subprocess.run([sys.executable, "-m", "qujat", "keys", "create", "--scope", "documents:issue",
                               "--scope", "documents:read", "--name", "bench"],
                              env=self.env, cwd=ROOT, capture_output=True, text=True, check=True)
        self.key = made.stdout.splitlines()[-1]
        self._child = Child([sys.executable, "-m", "qujat", "serve", "--port", str(self.port),
                             "--log-level", "warning"], log=data / "serve.log", ready=self._healthy,
                            what="qujat serve", timeout=180, env=self.env, poll=0.2)
        self.proc = self._child.proc

    def _healthy(self) -> bool:
        try:
            return httpx2.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx2.TransportError:
            return False

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=120)

    def close(self) -> None:
        self._child.close()


def _issue(client: httpx2.Client, raw: dict) -> float:
    t0 = time.perf_counter()
    r = client.post("/documents", json=raw)
    took = time.perf_counter() - t0
    if r.status_code != 201:
        raise RuntimeError(f"POST /documents answered {r.status_code}: {r.text[:300]}")
    return took


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def run(rounds: int = 8, batch: int = 16) -> list[str]:
    raw = _request()
    with tempfile.TemporaryDirectory(prefix="qujat-bench-http-") as tmp:
        server = Server(Path(tmp) / "data")
        local = threading.local()
        clients: list[httpx2.Client] = []

        def client() -> httpx2.Client:
            if not hasattr(local, "c"):
                local.c = server.client()
                clients.append(local.c)
            return local.c

        try:
            with server.client() as c:
                doc = c.post("/documents", json=raw).json()
                docx = c.get(doc["links"]["docx"]).content
            with ConverterPool(WORKERS) as pool, ThreadPoolExecutor(CLIENTS) as ex:
                raw_workers = pool.worker_pids()
                server_tree = _tree(server.proc.pid)
                # warm-up: both pools' workers, the server's templates, keys, store, connections
                list(ex.map(lambda _: _issue(client(), raw), range(2 * CLIENTS)))
                list(ex.map(pool.convert, [docx] * (2 * CLIENTS)))
                single = [_issue(client(), raw) for _ in range(max(5, batch // 2))]  # one at a time
                single_raw = [_timed(pool.convert, docx) for _ in range(max(5, batch // 2))]

                kinds = {
                    "raw": (lambda _: pool.convert(docx), lambda: _tree_cpu(raw_workers) + time.process_time()),
                    "http": (lambda _: _issue(client(), raw), lambda: _tree_cpu(server_tree)),
                }
                wall = {k: 0.0 for k in kinds}
                cpu = {k: 0.0 for k in kinds}
                rates: dict[str, list[float]] = {k: [] for k in kinds}
                latencies: list[float] = []
                for i in range(rounds):
                    for kind in (("raw", "http") if i % 2 == 0 else ("http", "raw")):
                        fn, cpu_now = kinds[kind]
                        c0, t0 = cpu_now(), time.perf_counter()
                        results = list(ex.map(fn, range(batch)))
                        took = time.perf_counter() - t0
                        cpu[kind] += cpu_now() - c0
                        wall[kind] += took
                        rates[kind].append(batch / took)
                        if kind == "http":
                            latencies.extend(results)
                stats = pool.stats()
        finally:
            for c in clients:
                c.close()
            server.close()
    if stats.failures or stats.timeouts or stats.retries:
        raise RuntimeError(f"the raw pool lost attempts while measuring: {stats}")
    docs = rounds * batch
    raw_rate, http_rate = docs / wall["raw"], docs / wall["http"]
    ratio = http_rate / raw_rate
    pairs = sorted(h / r for h, r in zip(rates["http"], rates["raw"]))
    cpu_ratio = cpu["raw"] / cpu["http"]
    verdict = "met" if ratio >= GOAL else ("floor met, goal not" if ratio >= FLOOR else "NOT MET")
    load = os.getloadavg()
    return [
        f"HTTP issuance through `qujat serve` (uvicorn, loopback), {WORKERS} LibreOffice workers, "
        f"{CLIENTS} clients: one-page land-right act (ru), new record each (render, QR, PDF/A, sign B-B, "
        f"store); {rounds} alternating rounds of {batch} against raw conversion of the same DOCX",
        f"latency p50, one request at a time      {statistics.median(single) * 1000:7.1f} ms   "
        f"(min {min(single) * 1000:.1f}, n={len(single)}; its raw conversion alone "
        f"{statistics.median(single_raw) * 1000:.1f} ms)",
        f"latency p50 under {CLIENTS} clients           {statistics.median(latencies) * 1000:7.1f} ms   "
        f"(p90 {statistics.quantiles(latencies, n=10)[-1] * 1000:.1f}, n={len(latencies)})",
        f"HTTP issuance                           {http_rate:7.2f} docs/s   "
        f"(rounds {min(rates['http']):.2f}..{max(rates['http']):.2f})",
        f"raw warm-pool conversion, same DOCX     {raw_rate:7.2f} docs/s   "
        f"(rounds {min(rates['raw']):.2f}..{max(rates['raw']):.2f})",
        f"HTTP / raw                              {ratio * 100:7.1f} %   floor {FLOOR * 100:.0f} %, goal "
        f"{GOAL * 100:.0f} %: {verdict}   (round pairs: median {statistics.median(pairs) * 100:.1f} %, "
        f"{pairs[0] * 100:.0f}..{pairs[-1] * 100:.0f} %)",
        f"  from CPU per document (server + its LibreOffice vs raw pool + this process): "
        f"{cpu_ratio * 100:.1f} %  ({cpu['http'] / docs * 1000:.0f} vs {cpu['raw'] / docs * 1000:.0f} ms)",
        f"  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
        f"(other processes share the cores)",
    ]


if __name__ == "__main__":
    print("\n".join(run(int(sys.argv[1]) if len(sys.argv) > 1 else 8)))
