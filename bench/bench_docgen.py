"""Benchmark of the document path, every figure with its anchor measured in the same run.

    .venv/bin/python -m bench.bench_docgen [n]

Key figure — end-to-end / raw: request → PDF/A-2b (parse + view + QR + fill + compose + convert)
on a warm 2-worker pool fed by 4 client threads, as a percentage of the throughput of the same
pool converting the already rendered DOCX of the same requests. The batch holds every document
type in kk, ru and kk+ru; rounds of the two kinds alternate so that load from other processes
on the machine hits both alike. On a machine whose cores are all busy the percentage is
roughly LibreOffice's CPU / (LibreOffice's CPU + everything else), so it is printed with where
the CPU went: LibreOffice's (from /proc) and this process's, per document.

Per type: this process's CPU to render one document (request → DOCX) and LibreOffice's CPU to
convert it, measured one at a time.

Then, on the one-page land-right act (ru):
fill      filling the template with a ready context (view model and images built once)
view      the view model, with the plot plan drawing
render    request → DOCX bytes (view, QR, fill, compose)
convert   DOCX → PDF/A-2b on a warm pool worker
e2e       request → PDF/A-2b (render + convert), warm pool
anchor    the same DOCX through one cold `soffice --headless --convert-to pdf` per document
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.bench_convert import _cpu_seconds, throughput
from docgen import qr
from docgen.convert import ConverterPool, convert_cold
from docgen.examples import example_request
from docgen.render import Renderer, fill
from docgen.request import parse_request
from docgen.views import build_view, footer_context

TYPES = ("land_right_act", "cadastral_information", "address_certificate", "cadastral_value_act",
         "motivated_refusal")
LANGUAGES = ("kk", "ru", "kk+ru")
E2E_GOAL = 0.85  # end-to-end throughput / raw conversion throughput
FILL_GOAL_S = 0.030
SPEEDUP_GOAL = 5.0
WORKERS_GOAL = 1.4


def _timed(fn, n: int, clock=time.perf_counter) -> list[float]:
    """Seconds per call by ``clock``: wall time, or time.process_time for the CPU of this process
    (all its threads; the pool's idle threads cost ~0)."""
    out = []
    for _ in range(n):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def _ms(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs) * 1000:7.1f} ms (min {min(xs) * 1000:.1f}, n={len(xs)})"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds a process has used (None when it is gone)."""
    try:
        return _cpu_seconds(pid)
    except OSError:
        return None


class _OfficeCpu:
    """CPU used by the pool's LibreOffice processes between start() and stop(); None when a worker
    was replaced in between (its CPU would be lost), so a round with a recycle is not counted."""

    def __init__(self, pool: ConverterPool):
        self.pool = pool

    def start(self) -> None:
        self.pids = list(self.pool.worker_pids())
        self.cpu0 = [_proc_cpu(p) if p else None for p in self.pids]

    def stop(self) -> float | None:
        if list(self.pool.worker_pids()) != self.pids or None in self.cpu0:
            return None
        now = [_proc_cpu(p) for p in self.pids]
        if None in now:
            return None
        return sum(b - a for a, b in zip(self.cpu0, now))


def _request(doc_type: str, language: str) -> dict:
    raw = example_request(doc_type)
    raw["language"] = language
    return raw


def e2e_vs_raw(pool: ConverterPool, renderer: Renderer, raws: list[dict], *, rounds: int = 10,
               clients: int = 4) -> dict:
    """Rounds of the pool converting ready DOCX (raw) and of request → PDF/A (e2e) over the same
    documents, alternating (raw first in even rounds, e2e first in odd ones), so that bursts of
    load from other processes fall on both kinds alike. A round pair in which the pool replaced a
    worker (recycled after its job quota: a LibreOffice start, seconds long) is left out of the
    figures, counted in ``skipped``. Returns per kind the wall time, documents, rates of each
    round, and CPU per document of this process and of LibreOffice."""
    docxs = [renderer.render_docx(parse_request(raw)).docx for raw in raws]
    office = _OfficeCpu(pool)

    def e2e(raw: dict) -> bytes:
        return renderer.render(parse_request(raw)).pdf

    kinds = {"raw": (pool.convert, docxs), "e2e": (e2e, raws)}
    out = {k: {"wall": 0.0, "docs": 0, "rate": [], "self_cpu": [], "office_cpu": []} for k in kinds}
    out["skipped"] = 0
    with ThreadPoolExecutor(clients) as ex:
        for fn, items in kinds.values():  # warm-up: every worker, every template and code path
            list(ex.map(fn, items))
        for i in range(rounds):
            measured = {}
            for kind in (("raw", "e2e") if i % 2 == 0 else ("e2e", "raw")):
                fn, items = kinds[kind]
                office.start()
                c0, t0 = time.process_time(), time.perf_counter()
                pdfs = list(ex.map(fn, items))
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                measured[kind] = (wall, cpu, office.stop())
                assert all(p.startswith(b"%PDF-") for p in pdfs)
            if any(office_cpu is None for _, _, office_cpu in measured.values()):
                out["skipped"] += 1
                continue
            for kind, (wall, cpu, office_cpu) in measured.items():
                n = len(kinds[kind][1])
                o = out[kind]
                o["wall"] += wall
                o["docs"] += n
                o["rate"].append(n / wall)
                o["self_cpu"].append(cpu / n)
                o["office_cpu"].append(office_cpu / n)
    return out


def per_type_cpu(pool: ConverterPool, renderer: Renderer, n: int) -> list[tuple[str, float, float]]:
    """(type/lang, render CPU of this process, LibreOffice CPU), seconds per document, one at a time."""
    rows = []
    for doc_type in TYPES:
        for language in ("ru", "kk+ru"):
            raw = _request(doc_type, language)
            render = _timed(lambda: renderer.render_docx(parse_request(raw)), n, time.process_time)
            docx = renderer.render_docx(parse_request(raw)).docx
            office = _OfficeCpu(pool)
            samples = []
            while len(samples) < 3:  # a recycled worker spoils a sample: take another
                office.start()
                for _ in range(n):
                    pool.convert(docx)
                used = office.stop()
                if used is not None:
                    samples.append(used / n)
            rows.append((f"{doc_type} {language}", statistics.median(render), statistics.median(samples)))
    return rows


def one_page_act():
    return parse_request(_request("land_right_act", "ru"))


def run(n: int = 30) -> tuple[list[str], bytes]:
    lines = []
    raws = [_request(t, lang) for t in TYPES for lang in LANGUAGES]
    request = one_page_act()
    with ConverterPool(2) as pool:
        renderer = Renderer(converter=pool)
        for raw in raws:  # templates read and compiled, fonts loaded, workers warm
            renderer.render(parse_request(raw))

        # --- the key figure ------------------------------------------------------------------
        m = e2e_vs_raw(pool, renderer, raws, rounds=max(6, n // 2))
        raw_rate, e2e_rate = (m[k]["docs"] / m[k]["wall"] for k in ("raw", "e2e"))
        ratio = e2e_rate / raw_rate
        pairs = sorted(e / r for e, r in zip(m["e2e"]["rate"], m["raw"]["rate"]))
        load = os.getloadavg()
        lines += [
            f"End-to-end vs raw conversion, 2 workers, 4 clients: {len(raws)} documents "
            f"({len(TYPES)} types x kk, ru, kk+ru) per round, {len(pairs)} alternating rounds of each"
            f" ({m['skipped']} more left out: a worker was recycled during them)",
            f"raw conversion of the rendered DOCX  {raw_rate:6.2f} docs/s   "
            f"(rounds {min(m['raw']['rate']):.2f}..{max(m['raw']['rate']):.2f})",
            f"request -> PDF/A-2b (end-to-end)     {e2e_rate:6.2f} docs/s   "
            f"(rounds {min(m['e2e']['rate']):.2f}..{max(m['e2e']['rate']):.2f})",
            f"end-to-end / raw                     {ratio * 100:6.1f} %   goal >= {E2E_GOAL * 100:.0f} %: "
            f"{_met(ratio >= E2E_GOAL)}   (round pairs: median {statistics.median(pairs) * 100:.1f} %, "
            f"{pairs[0] * 100:.0f}..{pairs[-1] * 100:.0f} %)",
        ]
        cpu = {}
        for kind in ("raw", "e2e"):
            office, mine = (statistics.median(m[kind][k]) for k in ("office_cpu", "self_cpu"))
            cpu[kind] = office + mine
            lines.append(f"  CPU per document, {kind:3}: LibreOffice {office * 1000:5.1f} ms, "
                         f"this process {mine * 1000:5.1f} ms")
        lines.append(f"  the same ratio from CPU per document (less sensitive to other load): "
                     f"{cpu['raw'] / cpu['e2e'] * 100:.1f} %")
        lines.append(f"  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
                     f"(other processes share the cores)")

        # --- per type, one document at a time --------------------------------------------------
        lines += ["", "CPU per document, one at a time: render (this process, request -> DOCX) "
                      "and conversion (LibreOffice)"]
        for name, render_cpu, office_cpu in per_type_cpu(pool, renderer, max(5, n // 4)):
            lines.append(f"  {name:30} render {render_cpu * 1000:5.1f} ms   LibreOffice {office_cpu * 1000:5.1f} ms"
                         f"   render share {render_cpu / (render_cpu + office_cpu) * 100:4.1f} %")

        # --- the one-page act ---------------------------------------------------------------------
        template = renderer.templates.get(request.type, "ru")
        view = build_view(request, "ru")
        url = qr.verification_url(renderer.base_url, qr.new_token())
        ctx = {**view.context, **footer_context(("ru",), url, "x")}
        qr_png = qr.qr_png(url)
        t_fill = _timed(lambda: fill(template, ctx, view.images, qr_png), n)
        t_view = _timed(lambda: build_view(request, "ru"), n)
        t_qr = _timed(lambda: qr.qr_png(qr.verification_url(renderer.base_url, qr.new_token())), n)
        t_render = _timed(lambda: renderer.render_docx(request), n)
        docx = renderer.render_docx(request).docx
        t_conv = _timed(lambda: pool.convert(docx), n)
        t_e2e = _timed(lambda: renderer.render(request), n)
    k = 5
    t_cold = _timed(lambda: convert_cold(docx), k)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as ex:  # two cold processes at a time: both cores busy, as the pool
        list(ex.map(lambda _: convert_cold(renderer.render_docx(request).docx), range(2 * k)))
    cold_rate = 2 * k / (time.perf_counter() - t0)
    fill50 = statistics.median(t_fill)
    e2e50 = statistics.median(t_e2e)
    cold_e2e50 = statistics.median(t_render) + statistics.median(t_cold)
    lines += [
        "",
        "Document path, one-page land-right act (ru)",
        f"fill (template + context)  {_ms(t_fill)}   goal <= {FILL_GOAL_S * 1000:.0f} ms: "
        f"{_met(fill50 <= FILL_GOAL_S)}",
        f"view (with the plot plan)  {_ms(t_view)}",
        f"QR code                    {_ms(t_qr)}",
        f"render to DOCX             {_ms(t_render)}",
        f"convert, warm pool         {_ms(t_conv)}",
        f"end-to-end, warm pool      {_ms(t_e2e)}",
        f"convert, cold soffice      {_ms(t_cold)}   (anchor)",
        f"end-to-end, cold soffice   p50 {cold_e2e50 * 1000:7.1f} ms (render + cold convert)",
        f"end-to-end speed-up        {cold_e2e50 / e2e50:7.1f}x   goal >= {SPEEDUP_GOAL:.0f}x: "
        f"{_met(cold_e2e50 / e2e50 >= SPEEDUP_GOAL)}",
        f"docs/s cold soffice (2 at a time, render + convert) {cold_rate:6.2f}; end-to-end warm pool "
        f"(all types, above) {e2e_rate:.2f}: {e2e_rate / cold_rate:.1f}x",
    ]
    rates = throughput(docx, batch=2 * n)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    lines += [
        f"pool throughput, act DOCX: 1 worker {one:6.2f} docs/s, 2 workers {two:6.2f} docs/s "
        f"(medians of {len(rates[1])} and {len(rates[2])} batches of {2 * n}): {two / one:.2f}x   "
        f"goal >= {WORKERS_GOAL}x: {_met(two / one >= WORKERS_GOAL)}",
    ]
    load = os.getloadavg()
    lines.append(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return lines, docx


if __name__ == "__main__":
    print("\n".join(run(int(sys.argv[1]) if len(sys.argv) > 1 else 30)[0]))
