"""Benchmark of batch regeneration: throughput against raw warm-pool conversion, and peak memory.

    .venv/bin/python -m bench.bench_batch [n] [n_large]        # defaults 1000 10000

Throughput: ``qujat regenerate --workers 2`` over n records (the one-page land-right act, ru)
runs as its own process, as an archivist starts it (SQLite: a coordinator and two `qujat
batch-shard` worker processes with one LibreOffice each); its rate is the records that got their
new version per second between the first and the last one (from the batch items' times: the
workers' start is not counted). The anchor, measured in this process in the same run, right
before and right after the batch, is raw conversion of the same record's DOCX on a warm 2-worker
pool fed by 4 client threads (`bench.bench_docgen.e2e_vs_raw`, whose end-to-end figure — render
without signing or storing — is shown too). The ratio is printed against the floor (75 %) and
the goal (85 %).

Memory: the peak RSS (``VmHWM`` in /proc/<pid>/status) of the coordinator, of each worker and of
their LibreOffice processes, sampled every 0.2 s while the batch runs (VmHWM only grows: the last
sample of a process is its peak up to 0.2 s before it ended). For the full regeneration of n,
and against N for n and n_large records on a render-free path: a full render of 10,000 records
takes ~25 minutes on this machine, and the batch kinds are regenerate (renders) and extend_ltv
(~0.6 s per record: a TSA request and a rewritten PDF each), so the bench empties every
record's stored data and each item fails validation in the worker — read, parsed, written back
failed with its reason — which runs the coordinator's and the workers' per-item bookkeeping
(paging, item updates, progress) over all N without rendering. Goal: flat in N, at most 500 MB.

Seeding: one record is issued for real (render, sign, store); the others are copies of its row
and of its version 1 row with new ids and tokens, inserted with SQL by this benchmark (never by
the product), so that 10,000 records take seconds.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import MetaData, Table, insert, select, text

from bench.bench_convert import _cpu_seconds
from bench.bench_docgen import e2e_vs_raw
from bench.bench_http import _tree
from docgen.examples import example_request
from docgen.tokens import new_token
from qujat import service
from qujat.runtime import open_runtime
from qujat.settings import Settings

FLOOR, GOAL = 0.75, 0.85           # regeneration / raw warm-pool conversion throughput
RSS_GOAL_MB = 500
WORKERS, CLIENTS = 2, 4
ROOT = Path(__file__).resolve().parents[1]
_PAGE = 1000


def _request() -> dict:
    raw = example_request("land_right_act")
    raw["language"] = "ru"
    raw.pop("external_id", None)
    return raw


# -- seeding ---------------------------------------------------------------------------------------


def seed(store, template_id: uuid.UUID, n: int) -> list[uuid.UUID]:
    """``n`` copies of record ``template_id`` (its row and its version 1, which shares the blobs):
    new ids, tokens, no external_id, through the tables as the database describes them. Bench
    only: the product never writes records but through `Store.create_record_with_version`."""
    meta = MetaData()
    records, versions = (Table(name, meta, autoload_with=store.engine) for name in ("records", "versions"))
    with store.engine.begin() as conn:
        record = conn.execute(select(records).where(records.c.id == template_id)).mappings().one()
        version = conn.execute(select(versions).where(versions.c.record_id == template_id,
                                                      versions.c.number == 1)).mappings().one()
    ids = []
    for start in range(0, n, _PAGE):
        rows, vrows = [], []
        for _ in range(min(_PAGE, n - start)):
            token, rid = new_token(), uuid.uuid4()
            ids.append(rid)
            raw_id = _as_stored(record["id"], rid)     # values as the database keeps them
            rows.append({**record, "id": raw_id, "token": token, "token_key": token.lower(),
                         "external_id": None})
            vrows.append({**version, "record_id": raw_id})
        with store.engine.begin() as conn:
            conn.execute(insert(records), rows)
            conn.execute(insert(versions), vrows)
    return ids


def _as_stored(sample, value: uuid.UUID):
    """``value`` in the form the database gave ``sample`` in: a UUID (PostgreSQL), 32 hex
    digits (SQLAlchemy's Uuid on SQLite) or the dashed text."""
    if isinstance(sample, uuid.UUID):
        return value
    return value.hex if "-" not in str(sample) else str(value)


# -- memory ----------------------------------------------------------------------------------------


def _status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


@dataclass
class Peak:
    pid: int
    ppid: int
    name: str
    cmdline: str
    hwm_kb: int = 0

    @property
    def mb(self) -> float:
        return self.hwm_kb / 1024

    @property
    def office(self) -> bool:
        """A LibreOffice process (soffice.bin; not its 4 MB oosplash launcher)."""
        return self.name.startswith("soffice")


@dataclass
class TreeSampler:
    """Samples the VmHWM of a process and of everything below it every ``every`` seconds, and
    the CPU the tree has used so far (a process that ended counts with its last sample):
    ``cpu`` is [(time.time(), CPU seconds), …]."""

    root: int
    every: float = 0.2
    peaks: dict[int, Peak] = field(default_factory=dict)
    cpu: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.every):
                return

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds the tree used from ``start`` to ``end`` (time.time()), by the samples
        around them (a little more, never less)."""
        before = [c for t, c in self.cpu if t <= start] or [self.cpu[0][1]]
        after = [c for t, c in self.cpu if t >= end] or [self.cpu[-1][1]]
        return after[0] - before[-1]

    def sample(self) -> None:
        now = time.time()
        for pid in _tree(self.root):
            try:
                st = _status(pid)
                self._cpu[pid] = _cpu_seconds(pid)
                hwm = int(st.get("VmHWM", "0 kB").split()[0])
                peak = self.peaks.get(pid)
                if peak is None:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
                    peak = self.peaks[pid] = Peak(pid, int(st.get("PPid", "0")), st.get("Name", "?"), cmd)
                peak.hwm_kb = max(peak.hwm_kb, hwm)
            except (OSError, ValueError):
                continue             # ended between the listing and the read
        self.cpu.append((now, sum(self._cpu.values())))


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


# -- one batch, as an archivist runs it ----------------------------------------------------------


@dataclass
class BatchRun:
    """What one `qujat regenerate` run did and used."""

    n: int
    exit_code: int
    wall_s: float
    rate: float                          # records per second, first to last item
    cpu_per_record: float                # CPU seconds of the whole tree per record, same span
    counts: dict[str, int]
    coordinator_mb: float                # VmHWM of the coordinator (`qujat regenerate`)
    workers_mb: list[float]              # VmHWM of each worker process (`qujat batch-shard`)
    office_mb: list[float]               # VmHWM of each LibreOffice process (soffice.bin) below


@contextmanager
def _data_dir(prefix: str):
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def _settings(data: Path) -> Settings:
    return Settings(data_dir=data, pool_size=WORKERS, public_base_url="https://qujat.bench")


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUJAT_")}
    env.pop("DATABASE_URL", None)
    env.update(QUJAT_DATA_DIR=str(data), QUJAT_PUBLIC_BASE_URL="https://qujat.bench")
    return env


def regenerate(rt, data: Path, n: int) -> BatchRun:
    """``qujat regenerate --workers 2`` over every valid record of the store in ``data`` (its own
    process, its report in ``data``); its RSS sampled from /proc; its rate read from the store."""
    from qujat import batches

    out_path, err_path = data / "regenerate.out", data / "regenerate.err"
    t0 = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "qujat", "regenerate", "--workers", str(WORKERS),
                                 "--no-progress", "--report-dir", str(data / "reports")],
                                env=_env(data), cwd=ROOT, stdout=out, stderr=err)
        with TreeSampler(proc.pid) as sampler:
            code = proc.wait()
    wall = time.perf_counter() - t0
    if code not in (0, 3):              # 3: finished with failed records (expected in one run)
        raise RuntimeError(f"qujat regenerate exited {code}: {err_path.read_text('utf-8', 'replace')[-2000:]}")
    summary = json.loads(out_path.read_text("utf-8").strip().splitlines()[-1])
    times = sorted(i.updated_at for i in batches.items(rt, uuid.UUID(summary["batch"])))
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    cpu = sampler.cpu_between(times[0].timestamp(), times[-1].timestamp())
    counts = {k: summary[k] for k in ("total", "done", "failed", "skipped", "pending")}
    if counts["pending"] or counts["total"] != n:
        raise RuntimeError(f"the batch did not do all {n} records: {summary}")
    peaks = list(sampler.peaks.values())
    root = sampler.peaks.get(proc.pid)
    # the coordinator's children (not a worker's fork caught before it became LibreOffice)
    workers = [p for p in peaks if p.ppid == proc.pid and "batch-shard" in p.cmdline]
    office = [p for p in peaks if p.office]
    return BatchRun(n=n, exit_code=code, wall_s=wall, rate=(len(times) - 1) / span if span else 0.0,
                    cpu_per_record=cpu / max(1, len(times) - 1),
                    counts=counts, coordinator_mb=root.mb if root else 0.0,
                    workers_mb=[p.mb for p in workers], office_mb=[p.mb for p in office])


def _break_all(rt) -> None:
    """Every record's stored data emptied (bench only): each item then fails validation in the
    worker — read, parse, the failure written with its reason — with no rendering."""
    with rt.store.engine.begin() as conn:
        conn.execute(text("UPDATE records SET data = '{}'"))


def _raw_anchor(rt, raws: list[dict], rounds: int) -> tuple[float, float, float]:
    """On ``rt``'s pool: raw conversion docs/s, end-to-end (render, no signing or storing)
    docs/s, and raw conversion's CPU per document (LibreOffice's and this process's)."""
    m = e2e_vs_raw(rt.converter, rt.renderer, raws, rounds=rounds, clients=CLIENTS)
    cpu = statistics.median(m["raw"]["office_cpu"]) + statistics.median(m["raw"]["self_cpu"])
    return m["raw"]["docs"] / m["raw"]["wall"], m["e2e"]["docs"] / m["e2e"]["wall"], cpu


def _store_records(rt, n: int) -> None:
    one = service.issue(rt, _request(), caller=service.Caller.command_line())
    seed(rt.store, one.record.id, n - 1)


def _mem(r: BatchRun) -> str:
    workers = " and ".join(f"{mb:.0f}" for mb in r.workers_mb) or "-"
    return (f"coordinator {r.coordinator_mb:4.0f} MB, workers {workers} MB "
            f"(their LibreOffice processes at most {max(r.office_mb, default=0):.0f} MB each)")


def run(n: int = 1000, n_large: int = 10000) -> list[str]:
    lines = []
    raws = [_request()] * 16
    # -- throughput and memory of a full regeneration of n records -----------------------------
    with _data_dir("qujat-bench-batch-") as data, \
            open_runtime(_settings(data), convert=True, sign=True, store=True) as rt:
        _store_records(rt, n)
        raw_before, e2e_before, cpu_before = _raw_anchor(rt, raws, rounds=3)
        full = regenerate(rt, data, n)
        raw_after, e2e_after, cpu_after = _raw_anchor(rt, raws, rounds=3)
    raw_rate, raw_cpu = (raw_before + raw_after) / 2, (cpu_before + cpu_after) / 2
    ratio, cpu_ratio = full.rate / raw_rate, raw_cpu / full.cpu_per_record
    load = os.getloadavg()
    lines += [
        f"Batch regeneration of {n} records (one-page land-right act, ru): `qujat regenerate --workers "
        f"{WORKERS}` (SQLite; {WORKERS} worker processes, 1 LibreOffice each), against raw conversion "
        f"of the same DOCX on a warm {WORKERS}-worker pool fed by {CLIENTS} threads, measured right "
        f"before and right after",
        f"raw conversion                      {raw_rate:6.2f} docs/s (before {raw_before:.2f}, after "
        f"{raw_after:.2f}); CPU {raw_cpu * 1000:.0f} ms per document",
        f"  (end-to-end render, no signing or storing: {(e2e_before + e2e_after) / 2:.2f} docs/s)",
        f"regeneration (render, sign, store)  {full.rate:6.2f} records/s between the first and the last "
        f"record ({full.counts['done']} done, {full.counts['failed']} failed; the whole command "
        f"{full.wall_s:.0f} s with the workers' start); CPU {full.cpu_per_record * 1000:.0f} ms per "
        f"record (coordinator, workers, their LibreOffice)",
        f"regeneration / raw                  {ratio * 100:6.1f} %   floor {FLOOR * 100:.0f} % "
        f"{_met(ratio >= FLOOR)}, goal {GOAL * 100:.0f} % {_met(ratio >= GOAL)}",
        f"  the same ratio from CPU per document (less sensitive to other load): {cpu_ratio * 100:.1f} %   "
        f"floor {_met(cpu_ratio >= FLOOR)}, goal {_met(cpu_ratio >= GOAL)}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs (other processes share them)",
        f"peak RSS, full regeneration of {n}: {_mem(full)}",
    ]
    # -- memory in N: the render-free path over n and n_large records --------------------------
    lines.append(f"Peak RSS against N, render-free: every record's stored data fail validation "
                 f"(bench-made), so each item is read, parsed and written back failed with its "
                 f"reason, nothing rendered (a full render of {n_large} would take "
                 f"~{n_large / max(full.rate, 0.1) / 60:.1f} min here)")
    runs = {}
    for size in (n, n_large):
        with _data_dir("qujat-bench-batch-mem-") as data, \
                open_runtime(_settings(data), convert=True, sign=True, store=True) as rt:
            _store_records(rt, size)
            _break_all(rt)
            runs[size] = r = regenerate(rt, data, size)
        if r.counts["failed"] != size:
            raise RuntimeError(f"expected every record to fail validation: {r.counts}")
        lines.append(f"  N = {size:6d}: {_mem(r)}; {r.rate:.0f} records/s, {r.wall_s:.0f} s")
    small, large = runs[n], runs[n_large]
    worst = max([large.coordinator_mb, *large.workers_mb, full.coordinator_mb, *full.workers_mb])
    growth = max([large.coordinator_mb - small.coordinator_mb,
                  max(large.workers_mb, default=0) - max(small.workers_mb, default=0)])
    lines.append(f"  growth from {n} to {n_large}: {growth:+.0f} MB (largest process); "
                 f"largest coordinator or worker {worst:.0f} MB: goal <= {RSS_GOAL_MB} MB "
                 f"{_met(worst <= RSS_GOAL_MB)}")
    load = os.getloadavg()
    lines.append(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    return lines


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print("\n".join(run(*args)))
