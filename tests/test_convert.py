"""docgen.convert: warm LibreOffice pool -> PDF/A-2b (real LibreOffice, no mocks)."""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docx as python_docx
import pytest

from docgen.convert import (ConversionError, ConverterPool, PoolBusyError, PoolStats, convert_cold,
                            default_pool_size)
from docgen.convert.procfs import group_members, proc_stat
from docgen.errors import DocgenError

# LibreOffice and poppler are installed by `make deps`: their absence fails the tests, never skips them.
assert shutil.which("soffice") and shutil.which("pdffonts") and shutil.which("pdftotext"), \
    "LibreOffice and poppler-utils are required (make deps)"

ROOT = Path(__file__).resolve().parents[1]
KK = "Қазақстан Республикасы әғқңөұүһі"
RU = "Акт на земельный участок, Республика Казахстан"
KK_LETTERS = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
# soffice.bin without the oosplash launcher: on a brand-new profile it exits with code 81
SOFFICE_BIN = Path(os.path.realpath(shutil.which("soffice"))).with_name("soffice.bin")


def make_docx(paragraphs: int = 0, marker: str | None = None) -> bytes:
    d = python_docx.Document()
    d.add_heading(KK, 1)
    if marker:
        d.add_paragraph(marker)
    d.add_paragraph(f"{KK_LETTERS} — жер учаскесіне акт")
    d.add_paragraph(RU)
    table = d.add_table(rows=2, cols=2)
    for row in table.rows:
        for cell in row.cells:
            cell.text = "Қостанай облысы / Костанайская область"
    for i in range(paragraphs):
        d.add_paragraph(f"{i}. {KK} — {RU}. " * 6)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def new_marker() -> str:
    """A text no other document of the run contains (letters and digits only: pdftotext keeps
    it on one line)."""
    return f"QUJATMARK{uuid.uuid4().hex.upper()}"


DOCX = make_docx()


def pdf_tool(tool: str, pdf: bytes, tmp_path, *args: str) -> str:
    path = tmp_path / f"{tool}-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([tool, *args, str(path)] + (["-"] if tool == "pdftotext" else []),
                         capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


def pdf_text(pdf: bytes, tmp_path) -> str:
    return pdf_tool("pdftotext", pdf, tmp_path, "-enc", "UTF-8")


def assert_is_document(pdf: bytes, marker: str, tmp_path, others: list[str] = ()) -> None:
    """The PDF is the conversion of the DOCX carrying ``marker``, not of any other."""
    text = pdf_text(pdf, tmp_path)
    assert marker in text, f"{marker} not in the PDF text: {text[:300]!r}"
    assert not [m for m in others if m != marker and m in text], "another document's text"


def assert_pdfa2b(pdf: bytes, tmp_path) -> None:
    assert pdf.startswith(b"%PDF-")
    meta = pdf_tool("pdfinfo", pdf, tmp_path, "-meta")
    assert re.search(r"pdfaid:part(>|=\")2", meta), meta
    assert re.search(r"pdfaid:conformance(>|=\")B", meta), meta
    fonts = pdf_tool("pdffonts", pdf, tmp_path).splitlines()
    rows = fonts[2:]
    assert rows, "no fonts listed"
    emb_col = fonts[0].index(" emb ") + 1  # column positions from the header line
    for row in rows:
        assert row[emb_col:emb_col + 3] == "yes", f"font not embedded: {row}"
    text = pdf_text(pdf, tmp_path)
    assert KK in text
    assert RU in text
    for ch in KK_LETTERS:
        assert ch in text, ch


def assert_clean_after_close(pool: ConverterPool) -> None:
    """After close(): nothing left of any worker generation, no zombie children, no temp dirs."""
    pgids = pool.all_pgids()
    assert pgids
    for pgid in pgids:
        live = [m for m in group_members(pgid) if m[2] not in ("Z", "X")]
        assert not live, f"processes left in worker group {pgid}: {live}"
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st and st[2] == me:
                assert st[1] != "Z", f"zombie child {entry} ({st[0]})"
                assert st[3] not in pgids, f"worker process still our child: {entry} {st}"
    for d in pool.profile_dirs():
        assert not d.exists(), f"temp dir left: {d}"
    pipes = pool.all_pipe_files()
    assert any("SingleOfficeIPC" in f for f in pipes)
    assert not [f for f in pipes if os.path.exists(f)], "named-pipe files left in /tmp"
    assert pool.worker_pids() == [None] * pool.size


@pytest.fixture(scope="module")
def pool():
    p = ConverterPool(2, job_timeout=60)
    yield p
    p.close()
    assert_clean_after_close(p)


def test_pdfa2b_fonts_embedded_kazakh_text(pool, tmp_path):
    pdf = pool.convert(DOCX)
    assert_pdfa2b(pdf, tmp_path)


def test_concurrent_four_threads_two_workers_no_mix_up(pool, tmp_path):
    markers = [new_marker() for _ in range(8)]
    docs = [make_docx(paragraphs=i, marker=m) for i, m in enumerate(markers)]
    before = pool.stats()
    with ThreadPoolExecutor(4) as ex:
        pdfs = list(ex.map(pool.convert, docs))
    assert len(pdfs) == 8
    for pdf, marker in zip(pdfs, markers):  # each output is its own input's text, no other's
        assert_is_document(pdf, marker, tmp_path, markers)
    assert_pdfa2b(pdfs[-1], tmp_path)
    after = pool.stats()
    assert after.jobs - before.jobs == 8
    assert (after.failures, after.retries) == (before.failures, before.retries)


def test_stats_is_a_frozen_snapshot(pool):
    snap = pool.stats()
    assert isinstance(snap, PoolStats)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.jobs = 0
    jobs = snap.jobs
    pool.convert(DOCX)
    assert pool.stats().jobs == jobs + 1
    assert snap.jobs == jobs  # a snapshot, not a live view


@pytest.mark.parametrize(
    "bad",
    [b"", b"definitely not a docx", b"PK\x03\x04broken zip"],
    ids=["empty", "text", "broken-zip"],
)
def test_invalid_bytes_raise_and_pool_stays_usable(pool, bad):
    before = pool.stats()
    with pytest.raises(ConversionError):
        pool.convert(bad)
    assert pool.stats().invalid == before.invalid + 1
    assert pool.convert(DOCX).startswith(b"%PDF-")


def test_docx_shaped_garbage_is_rejected_by_libreoffice(pool):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<<< not xml")
    pids = pool.worker_pids()
    before = pool.stats()
    with pytest.raises(ConversionError, match="LibreOffice"):
        pool.convert(buf.getvalue())
    after = pool.stats()
    assert after.rejected == before.rejected + 1 and after.retries == before.retries
    assert pool.worker_pids() == pids  # a bad document does not cost a worker
    assert pool.convert(DOCX).startswith(b"%PDF-")


def test_logs_carry_no_document_content(pool, caplog):
    with caplog.at_level(logging.DEBUG, logger="docgen.convert"):
        pool.convert(DOCX)
        with pytest.raises(ConversionError):
            pool.convert(b"not a docx " + KK.encode())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Қазақ" not in text and "Республик" not in text


def test_errors_belong_to_docgen():
    assert issubclass(ConversionError, DocgenError)
    assert issubclass(PoolBusyError, ConversionError)


def test_default_size_is_the_cpus_this_process_may_use():
    assert default_pool_size() == len(os.sched_getaffinity(0))
    p = ConverterPool(prestart=False, health_interval=None)  # starts no LibreOffice
    try:
        assert p.size == default_pool_size()
        assert p.queue_timeout == 30.0  # the wait for a free worker is bounded by default
        assert p.worker_pids() == [None] * p.size and p.all_pgids() == []
    finally:
        p.close()
    assert not [d for d in p.profile_dirs() if d.exists()]


@pytest.mark.parametrize("kwargs", [
    {"queue_timeout": None}, {"queue_timeout": 0}, {"queue_timeout": -1},
    {"queue_timeout": float("inf")}, {"job_timeout": 0}, {"start_timeout": None}, {"workers": 0},
], ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_unbounded_or_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        ConverterPool(**{"workers": 1, **kwargs})


@pytest.mark.slow
def test_killed_worker_mid_batch_loses_no_document(tmp_path):
    markers = [new_marker() for _ in range(10)]
    docs = [make_docx(paragraphs=40 + i, marker=m) for i, m in enumerate(markers)]
    with ConverterPool(2, job_timeout=60) as p:
        before = p.worker_pids()
        assert all(before)
        done = []
        killed, lock = threading.Event(), threading.Lock()

        def job(d):
            pdf = p.convert(d)
            with lock:     # two jobs ending together must not both kill (nor both skip) it
                done.append(pdf)
                kill = len(done) >= 2 and not killed.is_set()
                if kill:
                    killed.set()
            if kill:
                os.kill(before[0], signal.SIGKILL)  # kill -9 a LibreOffice mid-batch
            return pdf

        with ThreadPoolExecutor(4) as ex:
            pdfs = list(ex.map(job, docs))
        assert killed.is_set()
        assert len(pdfs) == 10
        for pdf, marker in zip(pdfs, markers):
            assert_is_document(pdf, marker, tmp_path, markers)
        assert p.wait_idle(60)
        after = p.worker_pids()
        assert before[0] not in after
        assert all(after) and set(after) - set(before), (before, after)
        stats = p.stats()
        assert stats.jobs == 10 and stats.replaced >= 1
        assert_pdfa2b(pdfs[-1], tmp_path)
    assert_clean_after_close(p)


@pytest.mark.slow
def test_worker_killed_while_idle_is_replaced_without_traffic():
    with ConverterPool(1, health_interval=0.2) as p:
        old = p.worker_pids()[0]
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new = p.worker_pids()[0]
            if new and new != old:
                break
            time.sleep(0.1)
        assert new and new != old
        assert p.stats().replaced == 1
        assert p.convert(DOCX).startswith(b"%PDF-")
    assert_clean_after_close(p)


@pytest.mark.slow
def test_recycled_after_n_jobs():
    with ConverterPool(1, max_jobs_per_worker=3) as p:
        first = p.worker_pids()[0]
        for _ in range(3):
            p.convert(DOCX)
        assert p.wait_idle(60)
        second = p.worker_pids()[0]
        assert second and second != first
        assert p.stats().recycled == 1
        assert p.convert(DOCX).startswith(b"%PDF-")
        assert p.worker_pids()[0] == second
    assert_clean_after_close(p)


@pytest.mark.slow
def test_hung_worker_is_killed_and_job_retried(tmp_path):
    with ConverterPool(1, job_timeout=3) as p:
        hung = p.worker_pids()[0]
        os.kill(hung, signal.SIGSTOP)  # simulate a LibreOffice that hangs
        t0 = time.monotonic()
        pdf = p.convert(DOCX)
        elapsed = time.monotonic() - t0
        assert_pdfa2b(pdf, tmp_path)
        assert 3 <= elapsed < 30
        stats = p.stats()
        assert (stats.timeouts, stats.retries, stats.jobs) == (1, 1, 1)
        assert p.worker_pids()[0] != hung
        assert proc_stat(hung) is None or proc_stat(hung)[1] == "Z"
    assert_clean_after_close(p)


@pytest.mark.slow
def test_timeout_on_both_attempts_raises_clearly():
    with ConverterPool(1, job_timeout=0.02) as p:  # no conversion fits in 20 ms
        with pytest.raises(ConversionError, match="after one retry.*timeout"):
            p.convert(make_docx(paragraphs=200))
        stats = p.stats()
        assert (stats.timeouts, stats.retries, stats.jobs) == (2, 1, 0)
    assert_clean_after_close(p)


@pytest.mark.slow
def test_queue_timeout_and_closed_pool():
    big = make_docx(paragraphs=300)
    p = ConverterPool(1, queue_timeout=0.05)
    try:
        t = threading.Thread(target=p.convert, args=(big,))
        t.start()
        deadline = time.monotonic() + 30  # until the only worker is busy with the big document
        while p.wait_idle(0):             # (a fixed 0.2 s assumed the thread ran by then)
            assert time.monotonic() < deadline, "the big document never took the worker"
            time.sleep(0.01)
        with pytest.raises(PoolBusyError) as busy:
            p.convert(DOCX)
        assert isinstance(busy.value, DocgenError)
        t.join()
        stats = p.stats()
        assert (stats.busy_rejections, stats.jobs) == (1, 1)
    finally:
        p.close()
    assert_clean_after_close(p)
    with pytest.raises(ConversionError, match="closed"):
        p.convert(DOCX)


@pytest.mark.slow
def test_convert_cold_is_pdfa2b_too(tmp_path):
    pdf = convert_cold(DOCX)
    assert_pdfa2b(pdf, tmp_path)


def test_bad_soffice_binary_fails_fast():
    t0 = time.monotonic()
    with pytest.raises(ConversionError, match="failed to start"):
        ConverterPool(1, soffice="/nonexistent/soffice")
    assert time.monotonic() - t0 < 5


def test_office_that_keeps_exiting_fails_the_start_fast_with_its_exit_code():
    t0 = time.monotonic()
    with pytest.raises(ConversionError, match=r"failed to start: .*code 1\b.*5 launches"):
        ConverterPool(1, soffice=shutil.which("false"), start_timeout=60)
    assert time.monotonic() - t0 < 10  # back-off 0.1+0.2+0.4+0.8 s, not the 60 s deadline


@pytest.mark.slow
def test_pool_started_right_after_its_profile_is_created(tmp_path, caplog):
    """soffice.bin run directly (no oosplash launcher to relaunch it): on its brand-new profile
    it exits with code 81 once the profile exists; the worker relaunches it on that profile."""
    assert SOFFICE_BIN.is_file(), SOFFICE_BIN
    marker = new_marker()
    with caplog.at_level(logging.INFO, logger="docgen.convert"):
        with ConverterPool(1, soffice=str(SOFFICE_BIN)) as p:
            assert p.stats().start_retries >= 1
            assert len(p.all_pgids()) >= 2  # the process that made the profile, then the worker
            assert_is_document(p.convert(make_docx(marker=marker)), marker, tmp_path)
        assert_clean_after_close(p)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "code 81" in logs and "relaunching it on the profile it has just created" in logs


_CONCURRENT_POOLS = textwrap.dedent("""
    import json, sys, threading
    from pathlib import Path
    from docgen.convert import ConverterPool

    out, docs = Path(sys.argv[1]), sys.argv[2:]
    barrier = threading.Barrier(len(docs))
    result = {}

    def run(i):
        barrier.wait()  # all pools start at the same moment, in a process new to pyuno
        try:
            with ConverterPool(2 if i == 0 else 1, health_interval=None) as p:
                (out / f"{i}.pdf").write_bytes(p.convert(Path(docs[i]).read_bytes()))
                result[i] = {"stats": p.stats().as_dict()}
        except Exception as exc:
            result[i] = {"error": f"{type(exc).__name__}: {exc}"}

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(docs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(result))
""")


@pytest.mark.slow
def test_pools_started_concurrently_in_a_fresh_process_each_convert(tmp_path):
    """Three pools (four LibreOffice workers) start at once in a process that has not used UNO
    yet -- the situation of the first pool of a test run or a server -- then each converts its
    own document, concurrently, without losing an attempt."""
    markers = [new_marker() for _ in range(3)]
    paths = []
    for i, m in enumerate(markers):
        paths.append(tmp_path / f"in{i}.docx")
        paths[-1].write_bytes(make_docx(marker=m))
    proc = subprocess.run([sys.executable, "-c", _CONCURRENT_POOLS, str(tmp_path), *map(str, paths)],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [r.get("error") for r in result.values()] == [None] * 3, result
    for i, marker in enumerate(markers):
        assert_is_document((tmp_path / f"{i}.pdf").read_bytes(), marker, tmp_path, markers)
        stats = result[str(i)]["stats"]
        assert stats["jobs"] == 1 and stats["failures"] == 0 and stats["retries"] == 0, stats


def test_pool_is_not_usable_across_fork(pool):
    pid = os.fork()
    if pid == 0:  # child: must refuse to drive the parent's workers, and close() is a no-op
        code = 1
        try:
            try:
                pool.convert(DOCX)
            except ConversionError:
                pool.close()
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not pool.closed
    assert pool.convert(DOCX).startswith(b"%PDF-")


@pytest.mark.slow
def test_owner_killed_by_sigkill_leaves_no_libreoffice_behind():
    script = (
        "import json, os, signal\n"
        "from docgen.convert import ConverterPool\n"
        "p = ConverterPool(2)\n"
        "print(json.dumps({'pgids': p.worker_pgids(), 'dirs': [str(d) for d in p.profile_dirs()],"
        " 'pipes': p.all_pipe_files()}), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, cwd=ROOT)
    assert out.returncode == -signal.SIGKILL
    info = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert all(info["pgids"]) and info["pipes"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        live = [m for g in info["pgids"] for m in group_members(g) if m[2] not in ("Z", "X")]
        left = [p for p in info["dirs"] + info["pipes"] if os.path.exists(p)]
        if not live and not left:
            break
        time.sleep(0.1)
    assert not live, f"orphaned LibreOffice processes: {live}"
    assert not left, f"temp files left: {left}"
