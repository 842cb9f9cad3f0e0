"""Benchmark: DOCX -> PDF/A-2b, warm LibreOffice pool (direct UNO) vs cold soffice per document.

    .venv/bin/python bench/bench_convert.py [file.docx] [n]

Reports conversion p50 with a warm 1-worker pool, p50 of one cold ``soffice --headless
--convert-to pdf`` per document (fewer runs: each costs a LibreOffice start), their ratio, and
pool throughput (docs/s) with 1 and with 2 workers over the same batch, fed by 4 client threads.
Every pool's ``stats()`` must show no worker failure, timeout or retry: a figure measured across
a worker restart would not be the pool's throughput.
"""
from __future__ import annotations

import io
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from docgen.convert import ConverterPool, convert_cold, default_pool_size


def sample_docx() -> bytes:
    """A one-page bilingual (kk/ru) act with a heading, a few lines and a small table."""
    import docx

    d = docx.Document()
    d.add_heading("Жер учаскесіне акт / Акт на земельный участок", 1)
    d.add_paragraph("Қазақстан Республикасы әғқңөұүһі — Республика Казахстан")
    for i in range(4):
        d.add_paragraph(f"{i + 1}. Кадастрлық нөмірі 01-234-056-{i:03d}; "
                        f"кадастровый номер 01-234-056-{i:03d}; ауданы 0,{i + 1}5 га.")
    table = d.add_table(rows=6, cols=4)
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            cell.text = ["Нүкте / Точка", "X", "Y", "Ұзындық / Длина"][c] if r == 0 else f"{r}.{c}"
    d.add_paragraph("Қолы / Подпись ____________")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _p50(xs: list[float]) -> float:
    return statistics.median(xs)


def _batch_rate(pool: ConverterPool, ex: ThreadPoolExecutor, docx: bytes, batch: int) -> float:
    t0 = time.perf_counter()
    out = list(ex.map(pool.convert, [docx] * batch))
    dt = time.perf_counter() - t0
    assert all(p.startswith(b"%PDF-") for p in out)
    return batch / dt


def _assert_clean_run(pool: ConverterPool) -> None:
    stats = pool.stats()
    if stats.failures or stats.timeouts or stats.retries or stats.busy_rejections:
        raise RuntimeError(f"{pool.size}-worker pool lost attempts during the benchmark: {stats}")


def throughput(docx: bytes, batch: int, rounds: int = 3, clients: int = 4) -> dict[int, list[float]]:
    """Pool throughput in documents per second, one figure per batch round, by pool size:

        {1: [r1, r2, ...], 2: [r1, r2, ...]}   # len == rounds; floats, docs/s

    key 1 is a 1-worker pool, key 2 a 2-worker pool, each converting ``batch`` copies of
    ``docx`` fed by ``clients`` threads per round.  Rounds alternate between the two pools so
    that background load on the machine hits both alike; take ``statistics.median(rates[2])``
    (or ``max``) of each list, never unpack the dict.  Raises ``RuntimeError`` if a pool lost an
    attempt (worker failure, timeout, retry, queue overflow) while measuring."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    with ConverterPool(1) as one, ConverterPool(2) as two, ThreadPoolExecutor(clients) as ex:
        for pool in (one, two):  # warm-up: every worker converts a few times
            list(ex.map(pool.convert, [docx] * (3 * pool.size)))
        for _ in range(rounds):
            for pool in (one, two):
                rates[pool.size].append(_batch_rate(pool, ex, docx, batch))
        for pool in (one, two):
            _assert_clean_run(pool)
    return rates


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(docx: bytes | None = None, n: int = 20) -> list[str]:
    docx = docx if docx is not None else sample_docx()
    lines = [f"DOCX -> PDF/A-2b, input {len(docx)} bytes"]

    with ConverterPool(1) as pool:
        for _ in range(3):
            pool.convert(docx)  # warm-up
        office = pool.worker_pids()[0]
        cpu0 = _cpu_seconds(office)
        warm = []
        for _ in range(n):
            t0 = time.perf_counter()
            pool.convert(docx)
            warm.append(time.perf_counter() - t0)
        office_cpu = (_cpu_seconds(office) - cpu0) / n
        _assert_clean_run(pool)
    cold = []
    for _ in range(max(1, min(5, n))):
        t0 = time.perf_counter()
        convert_cold(docx)
        cold.append(time.perf_counter() - t0)
    w50, c50 = _p50(warm), _p50(cold)
    lines.append(f"warm pool (1 worker)  p50 {w50 * 1000:7.1f} ms  "
                 f"(min {min(warm) * 1000:.1f}, max {max(warm) * 1000:.1f}, n={len(warm)})")
    lines.append(f"cold soffice per doc  p50 {c50 * 1000:7.1f} ms  "
                 f"(min {min(cold) * 1000:.1f}, max {max(cold) * 1000:.1f}, n={len(cold)})")
    lines.append(f"cold / warm p50 ratio {c50 / w50:7.1f}x")
    lines.append(f"LibreOffice CPU per warm conversion {office_cpu * 1000:.0f} ms "
                 f"(load-independent; wall p50 minus this is queueing/IPC/other load)")

    batch = max(2 * n, 10)
    rates = throughput(docx, batch)
    med = {k: statistics.median(v) for k, v in rates.items()}
    best = {k: max(v) for k, v in rates.items()}
    lines.append(f"throughput 1 worker   {med[1]:7.2f} docs/s median, {best[1]:.2f} best "
                 f"({len(rates[1])} batches of {batch}, 4 client threads)")
    lines.append(f"throughput 2 workers  {med[2]:7.2f} docs/s median, {best[2]:.2f} best")
    lines.append(f"2 / 1 worker ratio    {med[2] / med[1]:7.2f}x median, "
                 f"{best[2] / best[1]:.2f}x best  (target >= 1.4x)")
    load = os.getloadavg()
    lines.append(f"machine: {os.cpu_count()} CPUs ({default_pool_size()} usable by this process, "
                 f"the default pool size), load average {load[0]:.2f} {load[1]:.2f} "
                 f"{load[2]:.2f} at the end (other processes share the cores)")
    return lines


if __name__ == "__main__":
    data = open(sys.argv[1], "rb").read() if len(sys.argv) > 1 else None
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print("\n".join(run(data, count)))
