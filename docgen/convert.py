"""DOCX -> PDF/A-2b through LibreOffice kept warm (direct UNO, no unoserver hop).

A :class:`ConverterPool` owns a few long-lived LibreOffice processes ("workers", one per core
by default).  Each worker is its own ``soffice`` process group with its own throw-away user
profile, listening on a private named pipe; our process talks to it over UNO.  A job writes the
DOCX to a temp file (``/dev/shm`` when available), loads it hidden with the Word 2007 import
filter, stores it with ``writer_pdf_Export`` and ``SelectPdfVersion=2`` (PDF/A-2b: XMP
``pdfaid:part=2``/``conformance=B``, every font embedded), closes the document.

Robustness rules:

* per-job timeout: a watchdog kills the worker's whole process group when a job runs longer
  than ``job_timeout``;
* a worker that died (UNO ``DisposedException`` / process gone) or hung is replaced in the
  background and the job is retried once, on another (or the fresh) worker; a second failure
  raises :class:`ConversionError`;
* a document LibreOffice cannot read is a :class:`ConversionError` at once (no retry: the
  worker is healthy, the input is not);
* workers are recycled (restarted) after ``max_jobs_per_worker`` jobs;
* workers are started at pool creation, in parallel (``prestart=True``, the default), so the
  first request does not pay the ~1 s LibreOffice start-up; with ``prestart=False`` a worker
  starts when a job first needs it;
* never one ``soffice`` per document -- except :func:`convert_cold`, which exists only as the
  benchmark anchor.

* each worker's temp profile, LibreOffice's own temp files (``TMPDIR`` points into the
  profile) and its ``/tmp/OSL_PIPE_*`` pipe files are removed when that process ends; ``close()``
  stops every worker (SIGTERM, then SIGKILL of the process group) and reaps it;
* a pool belongs to the process that created it (after ``fork()`` the child gets
  :class:`ConversionError` and ``close()`` there is a no-op).

Introspection for tests and health checks: ``worker_pids()`` (``soffice.bin`` pids),
``worker_pgids()``, ``all_pgids()``, ``all_pipe_files()``, ``profile_dirs()``, ``wait_idle()``
and the ``stats`` counter (jobs, retries, failures, timeouts, rejected, replaced, recycled).

Nothing of a document's content is logged; log records carry worker ids, pids and timings.
"""
from __future__ import annotations

import atexit
import collections
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

__all__ = [
    "ConversionError",
    "PoolBusyError",
    "ConverterPool",
    "convert_cold",
    "shared_pool",
    "PDF_FILTER_DATA",
]

log = logging.getLogger(__name__)

#: Export options given to ``writer_pdf_Export`` (``FilterData``).  ``SelectPdfVersion=2`` is
#: PDF/A-2b, which makes LibreOffice embed (subset) every font and write the ``pdfaid`` XMP.
PDF_FILTER_DATA: dict[str, object] = {
    "SelectPdfVersion": 2,
    "EmbedStandardFonts": True,
    "UseTaggedPDF": True,
    "ExportFormFields": False,
}

_IMPORT_FILTER = "MS Word 2007 XML"
_EXPORT_FILTER = "writer_pdf_Export"
_OFFICE_FLAGS = (
    "--headless",
    "--invisible",
    "--nologo",
    "--norestore",
    "--nodefault",
    "--nolockcheck",
    "--nofirststartwizard",
)


class ConversionError(RuntimeError):
    """A DOCX could not be converted to PDF/A (after the one retry, where a retry applies)."""


class PoolBusyError(ConversionError):
    """No worker became free within the pool's ``queue_timeout``."""


class _WorkerFailure(Exception):
    """The worker (not the document) failed: died, hung, or could not start."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class _DocumentFailure(Exception):
    """The worker is fine but LibreOffice refused the document."""


# --------------------------------------------------------------------------- helpers


def _check_docx(docx: bytes) -> None:
    """Cheap structural check before a worker is involved (LibreOffice would otherwise guess
    a format for garbage and possibly "convert" it as plain text)."""
    if not isinstance(docx, (bytes, bytearray, memoryview)):
        raise ConversionError(f"expected DOCX bytes, got {type(docx).__name__}")
    if not docx:
        raise ConversionError("empty input: not a DOCX")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(docx))) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ConversionError(f"input is not a DOCX (not a ZIP package: {exc})") from None
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise ConversionError("input is not a DOCX (no word/document.xml / [Content_Types].xml)")


def _fast_tmp_root() -> str:
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


def _proc_stat(pid: int) -> tuple[str, str, int, int] | None:
    """(comm, state, ppid, pgrp) of a live /proc entry, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    lpar, rpar = raw.find("("), raw.rfind(")")
    fields = raw[rpar + 2 :].split()
    return raw[lpar + 1 : rpar], fields[0], int(fields[1]), int(fields[2])


def _group_members(pgid: int) -> list[tuple[int, str, str]]:
    """(pid, comm, state) of every process in process group ``pgid`` (zombies included)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _proc_stat(int(entry))
        if st is not None and st[3] == pgid:
            out.append((int(entry), st[0], st[1]))
    return out


def _bound_unix_sockets(pid: int) -> list[str]:
    """Filesystem paths of the unix sockets process ``pid`` holds (LibreOffice's named pipes
    ``/tmp/OSL_PIPE_*`` stay behind when the process is killed; we unlink them ourselves)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open("/proc/net/unix") as fh:
            next(fh)
            rows = [line.split() for line in fh]
    except OSError:
        return []
    return sorted({r[7] for r in rows if len(r) >= 8 and r[6] in inodes and r[7].startswith("/")})


def _uno():
    try:
        import uno  # noqa: F401  (python3-uno, Debian package; venv has system site-packages)
    except ImportError as exc:  # pragma: no cover - depends on the host
        raise ConversionError(
            "python3-uno is not importable: install LibreOffice's UNO bridge "
            "(apt install python3-uno) and use a venv with --system-site-packages"
        ) from exc
    return uno


# --------------------------------------------------------------------------- reaper

# Runs in a small helper process per pool.  It holds the read end of a pipe from the pool's
# process; the pool registers each worker's process group and its temp paths.  When the pipe
# reaches EOF -- the pool closed, or its process died, even by SIGKILL -- the helper kills the
# groups still registered and removes the paths, so no LibreOffice outlives its owner.
_REAPER_SCRIPT = r"""
import os, shutil, signal, sys
groups, paths = set(), set()
for line in sys.stdin:
    op, _, arg = line.rstrip("\n").partition(" ")
    if op == "+g": groups.add(int(arg))
    elif op == "-g": groups.discard(int(arg))
    elif op == "+p": paths.add(arg)
    elif op == "-p": paths.discard(arg)
for g in groups:
    try: os.killpg(g, signal.SIGKILL)
    except OSError: pass
for p in sorted(paths, reverse=True):
    if os.path.isdir(p) and not os.path.islink(p): shutil.rmtree(p, ignore_errors=True)
    else:
        try: os.unlink(p)
        except OSError: pass
"""


class _Reaper:
    """Owner-death guard for the worker processes (see ``_REAPER_SCRIPT``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _REAPER_SCRIPT],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a signal to our process group must not reach it
            text=True,
        )

    def send(self, op: str, arg: object) -> None:
        with self._lock:
            try:
                self.proc.stdin.write(f"{op} {arg}\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):  # helper gone / closed: nothing more to guard
                pass

    def close(self) -> None:
        with self._lock:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- worker


class _Worker:
    """One LibreOffice process (group) plus our UNO connection to it.

    Not thread-safe by itself: the pool hands a worker to one job at a time; only the
    watchdog (``_on_timeout``) touches it concurrently, under ``_lock``.
    """

    def __init__(self, index: int, soffice: str, base: Path, jobs_root: Path,
                 reaper: _Reaper | None = None):
        self.index = index
        self.reaper = reaper
        self.soffice = soffice
        self.base = base  # parent of this worker's profile dirs
        self.jobdir = jobs_root / f"w{index}"
        self.jobdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.office_pid: int | None = None
        self.profile: Path | None = None
        self.pipe_name: str | None = None
        self.desktop = None
        self.jobs = 0  # jobs done by the current process
        self.generation = 0  # how many processes this slot has had
        # (pgid, office pid, pipe files) of every process this slot has had
        self.history: list[tuple[int, int | None, tuple[str, ...]]] = []
        self.sockets: list[str] = []  # named-pipe files to unlink once the process is gone
        self._lock = threading.Lock()
        self._running_job = 0  # token of the job in flight, 0 when idle
        self._job_seq = 0
        self._timed_out_job = 0
        self._props = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        if self.proc is None or self.desktop is None or self.proc.poll() is not None:
            return False
        if self.office_pid is not None:
            st = _proc_stat(self.office_pid)
            if st is None or st[1] in ("Z", "X"):
                return False
        return True

    def start(self, timeout: float) -> None:
        uno = _uno()
        from com.sun.star.beans import PropertyValue
        from com.sun.star.connection import NoConnectException

        self.kill()  # whatever was there before
        self.generation += 1
        self.jobs = 0
        self.profile = Path(tempfile.mkdtemp(prefix=f"w{self.index}-profile-", dir=self.base))
        (self.profile / "tmp").mkdir()
        self.pipe_name = f"qujat_{os.getpid()}_{self.index}_{uuid.uuid4().hex[:12]}"
        self.sockets = [f"/tmp/OSL_PIPE_{os.getuid()}_{self.pipe_name}"]
        cmd = [
            self.soffice,
            *_OFFICE_FLAGS,
            f"-env:UserInstallation={self.profile.as_uri()}",
            f"--accept=pipe,name={self.pipe_name};urp;StarOffice.ComponentContext",
        ]
        t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # own process group: killpg reaches soffice.bin
                close_fds=True,
                # LibreOffice's own temp files (lu*.tmp) go below the profile, removed with it
                env={**os.environ, "TMPDIR": str(self.profile / "tmp")},
            )
        except OSError as exc:
            self.proc = None
            raise _WorkerFailure(f"cannot run {self.soffice!r}: {exc}") from exc
        self._guard("+g", self.proc.pid)
        for path in self.sockets:
            self._guard("+p", path)

        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        url = f"uno:pipe,name={self.pipe_name};urp;StarOffice.ComponentContext"
        deadline = t0 + timeout
        while self.desktop is None:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.kill()
                raise _WorkerFailure(f"LibreOffice exited during start-up (code {code})")
            try:
                ctx = resolver.resolve(url)
                self.desktop = ctx.ServiceManager.createInstanceWithContext(
                    "com.sun.star.frame.Desktop", ctx
                )
            except Exception as exc:  # NoConnectException until the pipe is up; anything
                if time.monotonic() > deadline:  # else while it comes up: try again too
                    self.kill()
                    kind = "" if isinstance(exc, NoConnectException) else f" ({exc})"
                    raise _WorkerFailure(
                        f"LibreOffice did not accept a UNO connection within {timeout:.0f} s"
                        + kind
                    ) from None
                time.sleep(0.05)
        self.office_pid = self._find_office_pid()
        if self.office_pid:
            found = set(_bound_unix_sockets(self.office_pid)) - set(self.sockets)
            for path in found:
                self._guard("+p", path)
            self.sockets = sorted(set(self.sockets) | found)
        self.history.append((self.proc.pid, self.office_pid, tuple(self.sockets)))

        def pv(name, value):
            return PropertyValue(Name=name, Value=value)

        filter_data = uno.Any(
            "[]com.sun.star.beans.PropertyValue",
            tuple(pv(k, v) for k, v in PDF_FILTER_DATA.items()),
        )
        self._props = {
            "load": (
                pv("Hidden", True),
                pv("ReadOnly", True),
                pv("FilterName", _IMPORT_FILTER),
                pv("UpdateDocMode", 0),  # NO_UPDATE: no links fetched
                pv("MacroExecutionMode", 0),  # NEVER_EXECUTE
            ),
            "store": (
                pv("FilterName", _EXPORT_FILTER),
                pv("Overwrite", True),
                pv("FilterData", filter_data),
            ),
        }
        self._url = uno.systemPathToFileUrl
        log.info(
            "converter worker %d started (generation %d, pid %s, office pid %s) in %.2f s",
            self.index, self.generation, self.proc.pid, self.office_pid, time.monotonic() - t0,
        )

    def _guard(self, op: str, arg: object) -> None:
        if self.reaper is not None:
            self.reaper.send(op, arg)

    def _find_office_pid(self) -> int | None:
        if self.proc is None:
            return None
        for pid, comm, state in _group_members(self.proc.pid):
            if comm.startswith("soffice") and state not in ("Z", "X") and pid != self.proc.pid:
                return pid
        return self.proc.pid  # soffice.bin exec'ed directly

    def kill(self) -> None:
        """Hard stop: SIGKILL the office process, let its launcher reap it, then the group."""
        proc, self.proc, self.desktop = self.proc, None, None
        office, self.office_pid = self.office_pid, None
        if proc is not None:
            if office and office != proc.pid:
                try:
                    os.kill(office, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:  # oosplash reaps soffice.bin and exits by itself
                    proc.wait(1.0)
                except subprocess.TimeoutExpired:
                    pass
            self._kill_group(proc)
            self._guard("-g", proc.pid)  # reaped: the id may be reused by someone else now
        self._drop_profile()

    def stop(self, grace: float = 3.0) -> None:
        """Polite stop (recycling, close): SIGTERM to the office, SIGKILL after ``grace``."""
        proc = self.proc
        if proc is None:
            self._drop_profile()
            return
        office = self.office_pid or proc.pid
        try:
            os.kill(office, signal.SIGTERM)
            os.kill(office, signal.SIGCONT)  # a stopped process would never see the SIGTERM
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            log.warning("converter worker %d ignored SIGTERM; killing it", self.index)
        self.kill()

    @staticmethod
    def _kill_group(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            log.error("converter process %d did not die after SIGKILL", proc.pid)
        # stragglers of the group (e.g. helpers LibreOffice forked): SIGKILL again, wait briefly
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            live = [p for p, _c, s in _group_members(proc.pid) if s not in ("Z", "X")]
            if not live:
                break
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.02)

    def _drop_profile(self) -> None:
        """Remove what a (dead) process leaves behind: its profile and its pipe files."""
        profile, self.profile = self.profile, None
        if profile is not None:
            shutil.rmtree(profile, ignore_errors=True)
        sockets, self.sockets = self.sockets, []
        for path in sockets:
            try:
                os.unlink(path)
            except OSError:
                pass
            self._guard("-p", path)

    # -- jobs ------------------------------------------------------------------------

    def _on_timeout(self, token: int) -> None:
        with self._lock:
            if self._running_job != token:
                return  # finished meanwhile
            self._timed_out_job = token
            proc, office = self.proc, self.office_pid
        log.warning("converter worker %d: job exceeded its timeout; killing pid %s",
                    self.index, office)
        # only signal here; the job's own thread (unblocked by the disposed bridge) and the
        # pool's replacement path do the reaping.
        for pid in (office,):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def run(self, docx: bytes, timeout: float) -> bytes:
        from com.sun.star.lang import DisposedException
        from com.sun.star.uno import Exception as UnoException

        if not self.alive:
            raise _WorkerFailure("worker is not running")
        with self._lock:
            self._job_seq += 1
            token = self._running_job = self._job_seq
        src = self.jobdir / f"job{token}.docx"
        dst = self.jobdir / f"job{token}.pdf"
        timer = threading.Timer(timeout, self._on_timeout, (token,))
        timer.daemon = True
        t0 = time.monotonic()
        try:
            src.write_bytes(docx)
            timer.start()
            try:
                doc = self.desktop.loadComponentFromURL(
                    self._url(str(src)), "_blank", 0, self._props["load"]
                )
                if doc is None:
                    if self._timed_out_job == token or not self.alive:
                        raise self._classify(token, RuntimeError("no document"), dead=True)
                    raise _DocumentFailure("LibreOffice could not load the document")
                try:
                    doc.storeToURL(self._url(str(dst)), self._props["store"])
                finally:
                    try:
                        doc.close(True)
                    except DisposedException:
                        raise
                    except Exception:
                        try:
                            doc.dispose()
                        except Exception:
                            pass
            except DisposedException as exc:
                raise self._classify(token, exc, dead=True) from None
            except UnoException as exc:
                raise self._classify(token, exc, dead=False) from None
            finally:
                timer.cancel()
                with self._lock:
                    self._running_job = 0
            try:
                pdf = dst.read_bytes()
            except FileNotFoundError:
                raise _DocumentFailure("LibreOffice produced no PDF") from None
            if not pdf.startswith(b"%PDF-"):
                raise _DocumentFailure("LibreOffice output is not a PDF")
            self.jobs += 1
            log.debug("converter worker %d: job done in %.3f s (%d bytes in, %d out)",
                      self.index, time.monotonic() - t0, len(docx), len(pdf))
            return pdf
        finally:
            for p in (src, dst):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass

    def _classify(self, token: int, exc: Exception, *, dead: bool) -> Exception:
        if self._timed_out_job == token:
            return _WorkerFailure("job exceeded the timeout; worker killed", timed_out=True)
        if dead or not self.alive:
            return _WorkerFailure(f"LibreOffice worker died ({type(exc).__name__})")
        # LibreOffice is alive and answered with an error about this document.
        msg = getattr(exc, "Message", "") or str(exc)
        msg = msg.split(" at ./", 1)[0].strip()[:200]
        return _DocumentFailure(f"LibreOffice rejected the document: {type(exc).__name__} {msg}")


# --------------------------------------------------------------------------- pool


class ConverterPool:
    """Thread-safe pool of warm LibreOffice workers converting DOCX bytes to PDF/A-2b bytes.

    ``convert()`` may be called from many threads; each job goes to a free worker, others wait
    in FIFO order (up to ``queue_timeout`` seconds if given, then :class:`PoolBusyError`).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        job_timeout: float = 60.0,
        max_jobs_per_worker: int = 200,
        soffice: str = "soffice",
        start_timeout: float = 60.0,
        queue_timeout: float | None = None,
        prestart: bool = True,
        health_interval: float | None = 1.0,
    ):
        n = workers if workers is not None else (os.cpu_count() or 1)
        if n < 1:
            raise ValueError("workers must be >= 1")
        if job_timeout <= 0 or max_jobs_per_worker < 1:
            raise ValueError("job_timeout must be > 0 and max_jobs_per_worker >= 1")
        self.size = n
        self.job_timeout = float(job_timeout)
        self.max_jobs_per_worker = int(max_jobs_per_worker)
        self.start_timeout = float(start_timeout)
        self.queue_timeout = queue_timeout
        self.soffice = soffice
        self._owner_pid = os.getpid()  # a forked child must not drive (or kill) our workers
        self._base = Path(tempfile.mkdtemp(prefix="qujat-convert-"))
        self._jobs_root = Path(tempfile.mkdtemp(prefix="qujat-convert-jobs-", dir=_fast_tmp_root()))
        self._reaper = _Reaper()
        for d in (self._base, self._jobs_root):
            self._reaper.send("+p", d)
        self._workers = [
            _Worker(i, soffice, self._base, self._jobs_root, self._reaper) for i in range(n)
        ]
        self._cond = threading.Condition()
        self._idle: collections.deque[_Worker] = collections.deque()
        self._closed = False
        self._bg: set[threading.Thread] = set()
        self.stats = collections.Counter()  # jobs, retries, replaced, recycled, timeouts
        self._idle.extend(self._workers)
        self._stop = threading.Event()
        if prestart:
            errors = self._start_all()
            if errors:
                self.close()
                raise ConversionError(f"LibreOffice workers failed to start: {errors[0]}")
        self._supervisor = None
        if health_interval:
            self._supervisor = threading.Thread(
                target=self._supervise, args=(float(health_interval),),
                name="qujat-convert-supervisor", daemon=True,
            )
            self._supervisor.start()

    # -- public ----------------------------------------------------------------------

    def convert(self, docx: bytes) -> bytes:
        """DOCX bytes -> PDF/A-2b bytes.  Raises :class:`ConversionError`."""
        if os.getpid() != self._owner_pid:
            raise ConversionError("ConverterPool used across fork(); create one per process")
        _check_docx(docx)
        docx = bytes(docx)
        last: Exception | None = None
        for attempt in (1, 2):
            if attempt == 2:
                self._count("retries")
            worker = self._acquire()
            replace = None
            try:
                if not worker.alive:
                    if worker.generation:
                        log.warning("converter worker %d found dead while idle; restarting it",
                                    worker.index)
                        self._count("replaced")
                    try:
                        worker.start(self.start_timeout)
                    except _WorkerFailure as exc:
                        last = exc
                        log.warning("converter worker %d failed to start: %s", worker.index, exc)
                        continue
                try:
                    pdf = worker.run(docx, self.job_timeout)
                except _DocumentFailure as exc:
                    self._count("rejected")
                    raise ConversionError(str(exc)) from None
                except _WorkerFailure as exc:
                    last = exc
                    replace = "timeout" if exc.timed_out else "failure"
                    self._count("timeouts" if replace == "timeout" else "failures")
                    log.warning("converter worker %d failed on attempt %d: %s",
                                worker.index, attempt, exc)
                    continue
                except Exception as exc:  # unexpected (bridge, I/O): restart worker, retry once
                    last, replace = exc, "failure"
                    self._count("failures")
                    log.warning("converter worker %d: unexpected %s on attempt %d",
                                worker.index, type(exc).__name__, attempt)
                    continue
                self._count("jobs")
                if worker.jobs >= self.max_jobs_per_worker:
                    replace = "recycle"
                elif not worker.alive:  # e.g. the watchdog fired just as the job finished
                    replace = "failure"
                return pdf
            finally:
                if replace is None:
                    self._release(worker)
                else:
                    self._replace_async(worker, replace)
        raise ConversionError(f"conversion failed after one retry: {last}")

    def worker_pids(self) -> list[int | None]:
        """PIDs of the running ``soffice.bin`` processes, one per slot (None: not running)."""
        return [w.office_pid if w.alive else None for w in self._workers]

    def worker_pgids(self) -> list[int | None]:
        """Process-group ids (= launcher pids) of the workers, one per slot."""
        return [w.proc.pid if w.proc is not None else None for w in self._workers]

    def all_pgids(self) -> list[int]:
        """Process groups of every worker process this pool has started (all generations)."""
        return [h[0] for w in self._workers for h in w.history]

    def all_pipe_files(self) -> list[str]:
        """LibreOffice named-pipe files of every worker process this pool has started."""
        return [f for w in self._workers for h in w.history for f in h[2]]

    def profile_dirs(self) -> list[Path]:
        return [self._base, self._jobs_root]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every worker is back in the idle set (replacements finished)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._idle) < self.size:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Stop all workers, remove temp profiles.  Jobs still running after ``timeout``
        (default: ``job_timeout``) are aborted with :class:`ConversionError`."""
        if os.getpid() != self._owner_pid:
            return  # inherited through fork(): the workers belong to the parent process
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        if getattr(self, "_supervisor", None) is not None:
            self._supervisor.join()
        self.wait_idle(self.job_timeout if timeout is None else timeout)
        for t in list(self._bg):
            t.join(self.start_timeout)
        self._each_worker(_Worker.stop)
        shutil.rmtree(self._jobs_root, ignore_errors=True)
        shutil.rmtree(self._base, ignore_errors=True)
        self._reaper.close()
        log.info("converter pool closed (%s)", dict(self.stats))

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "ConverterPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------

    def _start_all(self) -> list[str]:
        return self._each_worker(self._start_worker)

    def _start_worker(self, w: _Worker) -> None:
        """Start ``w``; one more try if LibreOffice falls over while starting."""
        try:
            w.start(self.start_timeout)
        except _WorkerFailure as exc:
            log.warning("converter worker %d failed to start (%s); trying once more", w.index, exc)
            w.start(self.start_timeout)

    def _each_worker(self, fn) -> list[str]:
        """Run ``fn(worker)`` for all workers in parallel (start-up, shutdown); error texts."""
        errors: list[str] = []

        def call(w: _Worker) -> None:
            try:
                fn(w)
            except Exception as exc:
                log.warning("converter worker %d: %s", w.index, exc)
                errors.append(str(exc))

        threads = [threading.Thread(target=call, args=(w,), daemon=True) for w in self._workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return errors

    def _supervise(self, interval: float) -> None:
        """Replace idle workers whose LibreOffice died (crash, OOM kill, someone's kill -9)
        without waiting for the next job to trip over them."""
        while not self._stop.wait(interval):
            with self._cond:
                dead = [w for w in self._idle if w.generation and w.proc is not None
                        and not w.alive]
                for w in dead:
                    self._idle.remove(w)
            for w in dead:
                log.warning("converter worker %d found dead while idle", w.index)
                self._replace_async(w, "failure")

    def _count(self, key: str) -> None:
        with self._cond:
            self.stats[key] += 1

    def _acquire(self) -> _Worker:
        deadline = None if self.queue_timeout is None else time.monotonic() + self.queue_timeout
        with self._cond:
            while not self._idle and not self._closed:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PoolBusyError(f"no converter worker free within {self.queue_timeout} s")
                self._cond.wait(left)
            if self._closed:
                raise ConversionError("converter pool is closed")
            return self._idle.popleft()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def _replace_async(self, worker: _Worker, reason: str) -> None:
        """Restart ``worker`` in the background; it rejoins the idle set afterwards (still
        dead if the restart failed -- the next job then tries to start it itself)."""
        self._count("recycled" if reason == "recycle" else "replaced")

        def replace() -> None:
            try:
                if reason == "recycle":
                    worker.stop()
                else:
                    worker.kill()
                if not self._closed:
                    self._start_worker(worker)
            except _WorkerFailure as exc:
                log.warning("converter worker %d restart failed: %s", worker.index, exc)
            except Exception:  # pragma: no cover
                log.exception("converter worker %d restart failed", worker.index)
            finally:
                self._bg.discard(threading.current_thread())
                self._release(worker)

        log.info("converter worker %d: %s; restarting it", worker.index, reason)
        t = threading.Thread(target=replace, name=f"qujat-convert-restart-{worker.index}",
                             daemon=True)
        self._bg.add(t)
        t.start()


# --------------------------------------------------------------------------- cold anchor


def convert_cold(docx: bytes, soffice: str = "soffice", timeout: float = 120.0) -> bytes:
    """One fresh ``soffice --headless --convert-to pdf`` per call (own temp profile), PDF/A-2b.

    Benchmark anchor only -- the product path uses :class:`ConverterPool`.
    """
    _check_docx(docx)
    opts = ",".join(
        f'"{k}":{{"type":"{"boolean" if isinstance(v, bool) else "long"}",'
        f'"value":"{str(v).lower() if isinstance(v, bool) else v}"}}'
        for k, v in PDF_FILTER_DATA.items()
    )
    with tempfile.TemporaryDirectory(prefix="qujat-cold-") as tmp:
        tmpd = Path(tmp)
        src = tmpd / "in.docx"
        src.write_bytes(bytes(docx))
        cmd = [
            soffice,
            *_OFFICE_FLAGS,
            f"-env:UserInstallation={(tmpd / 'profile').as_uri()}",
            "--convert-to",
            f"pdf:{_EXPORT_FILTER}:{{{opts}}}",
            "--outdir",
            str(tmpd / "out"),
            str(src),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True,
                                env={**os.environ, "TMPDIR": tmp})
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ConversionError(f"cold soffice conversion exceeded {timeout} s") from None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers, if any
            except (ProcessLookupError, PermissionError):
                pass
        out = tmpd / "out" / "in.pdf"
        if proc.returncode != 0 or not out.exists():
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            raise ConversionError(f"cold soffice conversion failed (code {proc.returncode}) {tail}")
        return out.read_bytes()


# --------------------------------------------------------------------------- shared pool

_shared: ConverterPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ConverterPool:
    """The process-wide pool, started on first use (one worker per core), closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed or _shared._owner_pid != os.getpid():
            _shared = ConverterPool()
            atexit.register(_shared.close)
        return _shared
