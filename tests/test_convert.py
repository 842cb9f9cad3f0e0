"""docgen.convert: warm LibreOffice pool -> PDF/A-2b (real LibreOffice, no mocks)."""
from __future__ import annotations

import io
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import docx as python_docx
import pytest

from docgen import convert as conv
from docgen.convert import ConversionError, ConverterPool, PoolBusyError

# LibreOffice and poppler are installed by `make deps`: their absence fails the tests, never skips them.
assert shutil.which("soffice") and shutil.which("pdffonts"), "LibreOffice and poppler-utils are required (make deps)"

KK = "Қазақстан Республикасы әғқңөұүһі"
RU = "Акт на земельный участок, Республика Казахстан"
KK_LETTERS = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"


def make_docx(paragraphs: int = 0) -> bytes:
    d = python_docx.Document()
    d.add_heading(KK, 1)
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


DOCX = make_docx()


def pdf_tool(tool: str, pdf: bytes, tmp_path, *args: str) -> str:
    path = tmp_path / f"{tool}-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([tool, *args, str(path)] + (["-"] if tool == "pdftotext" else []),
                         capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


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
    text = pdf_tool("pdftotext", pdf, tmp_path, "-enc", "UTF-8")
    assert KK in text
    assert RU in text
    for ch in KK_LETTERS:
        assert ch in text, ch


def pgid_members(pgid: int) -> list[tuple[int, str, str]]:
    return conv._group_members(pgid)


def assert_clean_after_close(pool: ConverterPool) -> None:
    """After close(): nothing left of any worker generation, no zombie children, no temp dirs."""
    pgids = pool.all_pgids()
    assert pgids
    for pgid in pgids:
        live = [m for m in pgid_members(pgid) if m[2] not in ("Z", "X")]
        assert not live, f"processes left in worker group {pgid}: {live}"
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = conv._proc_stat(int(entry))
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


def test_concurrent_four_threads_two_workers(pool, tmp_path):
    docs = [make_docx(paragraphs=i) for i in range(8)]
    with ThreadPoolExecutor(4) as ex:
        pdfs = list(ex.map(pool.convert, docs))
    assert len(pdfs) == 8
    for pdf in pdfs:
        assert pdf.startswith(b"%PDF-")
    assert_pdfa2b(pdfs[-1], tmp_path)
    # distinct inputs give distinct outputs (no mix-up between concurrent jobs)
    assert len({len(p) for p in pdfs}) > 1


@pytest.mark.parametrize(
    "bad",
    [b"", b"definitely not a docx", b"PK\x03\x04broken zip"],
    ids=["empty", "text", "broken-zip"],
)
def test_invalid_bytes_raise_and_pool_stays_usable(pool, bad):
    with pytest.raises(ConversionError):
        pool.convert(bad)
    assert pool.convert(DOCX).startswith(b"%PDF-")


def test_docx_shaped_garbage_is_rejected_by_libreoffice(pool):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<<< not xml")
    pids = pool.worker_pids()
    with pytest.raises(ConversionError, match="LibreOffice"):
        pool.convert(buf.getvalue())
    assert pool.worker_pids() == pids  # a bad document does not cost a worker
    assert pool.convert(DOCX).startswith(b"%PDF-")


def test_logs_carry_no_document_content(pool, caplog):
    with caplog.at_level(logging.DEBUG, logger="docgen.convert"):
        pool.convert(DOCX)
        with pytest.raises(ConversionError):
            pool.convert(b"not a docx " + KK.encode())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Қазақ" not in text and "Республик" not in text


@pytest.mark.slow
def test_killed_worker_mid_batch_loses_no_document(tmp_path):
    docs = [make_docx(paragraphs=40 + i) for i in range(10)]
    with ConverterPool(2, job_timeout=60) as p:
        before = p.worker_pids()
        assert all(before)
        done = []
        killed = threading.Event()

        def job(d):
            pdf = p.convert(d)
            done.append(pdf)
            if len(done) == 2 and not killed.is_set():
                killed.set()
                os.kill(before[0], signal.SIGKILL)  # kill -9 a LibreOffice mid-batch
            return pdf

        with ThreadPoolExecutor(4) as ex:
            pdfs = list(ex.map(job, docs))
        assert killed.is_set()
        assert len(pdfs) == 10 and all(x.startswith(b"%PDF-") for x in pdfs)
        assert p.wait_idle(60)
        after = p.worker_pids()
        assert before[0] not in after
        assert all(after) and set(after) - set(before), (before, after)
        assert p.stats["jobs"] == 10
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
        assert p.stats["replaced"] == 1
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
        assert p.stats["recycled"] == 1
        assert p.convert(DOCX).startswith(b"%PDF-")
        assert p.worker_pids()[0] == second


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
        assert p.stats["timeouts"] == 1 and p.stats["retries"] == 1
        assert p.worker_pids()[0] != hung
        assert conv._proc_stat(hung) is None or conv._proc_stat(hung)[1] == "Z"
    assert_clean_after_close(p)


@pytest.mark.slow
def test_timeout_on_both_attempts_raises_clearly():
    with ConverterPool(1, job_timeout=0.02) as p:  # no conversion fits in 20 ms
        with pytest.raises(ConversionError, match="after one retry.*timeout"):
            p.convert(make_docx(paragraphs=200))
        assert p.stats["timeouts"] == 2
    assert_clean_after_close(p)


@pytest.mark.slow
def test_queue_timeout_and_closed_pool():
    big = make_docx(paragraphs=300)
    p = ConverterPool(1, queue_timeout=0.05)
    try:
        t = threading.Thread(target=p.convert, args=(big,))
        t.start()
        time.sleep(0.2)  # the only worker is busy with the big document
        with pytest.raises(PoolBusyError):
            p.convert(DOCX)
        t.join()
    finally:
        p.close()
    assert_clean_after_close(p)
    with pytest.raises(ConversionError, match="closed"):
        p.convert(DOCX)


@pytest.mark.slow
def test_convert_cold_is_pdfa2b_too(tmp_path):
    pdf = conv.convert_cold(DOCX)
    assert_pdfa2b(pdf, tmp_path)


@pytest.mark.slow
def test_shared_pool_is_one_lazy_pool():
    p = conv.shared_pool()
    try:
        assert conv.shared_pool() is p
        assert p.size == (os.cpu_count() or 1)
        assert p.convert(DOCX).startswith(b"%PDF-")
    finally:
        p.close()
    assert_clean_after_close(p)
    assert conv.shared_pool() is not p  # a closed shared pool is replaced on next use
    conv.shared_pool().close()


def test_bad_soffice_binary_fails_fast():
    with pytest.raises(ConversionError, match="failed to start"):
        ConverterPool(1, soffice="/nonexistent/soffice")


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
    import json
    import sys

    script = (
        "import json, os, signal\n"
        "from docgen.convert import ConverterPool\n"
        "p = ConverterPool(2)\n"
        "print(json.dumps({'pgids': p.worker_pgids(), 'dirs': [str(d) for d in p.profile_dirs()],"
        " 'pipes': p.all_pipe_files()}), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert out.returncode == -signal.SIGKILL
    info = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert all(info["pgids"]) and info["pipes"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        live = [m for g in info["pgids"] for m in pgid_members(g) if m[2] not in ("Z", "X")]
        left = [p for p in info["dirs"] + info["pipes"] if os.path.exists(p)]
        if not live and not left:
            break
        time.sleep(0.1)
    assert not live, f"orphaned LibreOffice processes: {live}"
    assert not left, f"temp files left: {left}"
