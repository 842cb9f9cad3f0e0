"""One LibreOffice process (group) plus our UNO connection to it: start, jobs, watchdog, stop."""
from __future__ import annotations

import enum
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import DocumentRefused, WorkerFailure
from .office import (EXPORT_FILTER, IMPORT_FILTER, OFFICE_FLAGS, PDF_FILTER_DATA,
                     RESTART_EXIT_CODE, WARMUP_DOCX, LocalUno, local_uno)
from .procfs import bound_unix_sockets, group_members, proc_stat
from .reaper import Reaper

__all__ = ["Worker", "WorkerEvent", "MAX_LAUNCHES", "WARMUP_TIMEOUT"]

log = logging.getLogger(__name__)

#: At most this many ``soffice`` launches per start (restarts after exit code 81 included):
#: a binary that keeps exiting fails the start in about a second, not at its deadline.
MAX_LAUNCHES = 5

#: The warm-up conversion holds the process's first-use lock: a hung office must not block the
#: other workers' starts for longer than this (the conversion itself takes well under 1 s).
WARMUP_TIMEOUT = 20.0


class WorkerEvent(enum.Enum):
    """What happened to a worker slot (counted by the pool, next to the job outcomes)."""

    START_RETRY = "start_retry"  # a start went on after an error (process exit, UNO not ready)
    REPLACED = "replaced"  # restarted after it died, hung or failed
    RECYCLED = "recycled"  # restarted after ``max_jobs_per_worker`` jobs


def _backoff(first: float, cap: float) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


def _describe(exc: BaseException) -> str:
    """Exception type and message without LibreOffice's source location."""
    msg = getattr(exc, "Message", "") or str(exc)
    msg = msg.split(" at ./", 1)[0].strip()[:200]
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class _OutOfTime(Exception):
    """The start deadline passed while connecting."""


class _Exited(Exception):
    """The office process ended while we were connecting to it."""

    def __init__(self, code: int):
        super().__init__(f"LibreOffice exited during start-up (code {code})")
        self.code = code


class Worker:
    """A slot for one LibreOffice process; :meth:`start` (re)fills it.

    Not thread-safe by itself: the pool hands a worker to one job at a time; only the
    watchdog (``_on_timeout``) touches it concurrently, under ``_lock``.
    """

    def __init__(self, index: int, soffice: str, base: Path, jobs_root: Path,
                 reaper: Reaper | None = None,
                 on_event: Callable[[WorkerEvent], None] | None = None):
        self.index = index
        self.soffice = soffice
        self.base = base  # parent of this worker's profile dirs
        self.reaper = reaper
        self._on_event = on_event or (lambda event: None)
        self.jobdir = jobs_root / f"w{index}"
        self.jobdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.office_pid: int | None = None
        self.profile: Path | None = None
        self.pipe_name: str | None = None
        self.desktop = None
        self.jobs = 0  # jobs done by the current process
        self.generation = 0  # how many starts this slot has had
        self.pgids: list[int] = []  # process group of every process this slot has launched
        self.pipe_files: list[str] = []  # named-pipe files of all of them
        self.sockets: list[str] = []  # pipe files to unlink once the current process is gone
        self._lock = threading.Lock()
        self._running_job = 0  # token of the job in flight, 0 when idle
        self._job_seq = 0
        self._timed_out_job = 0
        self._uno: LocalUno | None = None
        self._props: dict[str, tuple] = {}

    # -- state -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        if self.proc is None or self.desktop is None or self.proc.poll() is not None:
            return False
        if self.office_pid is not None:
            st = proc_stat(self.office_pid)
            if st is None or st[1] in ("Z", "X"):
                return False
        return True

    # -- start -----------------------------------------------------------------------

    def start(self, timeout: float) -> None:
        """(Re)start this slot's LibreOffice and connect to it, within ``timeout`` seconds.

        Inside that deadline the start goes on after errors, with exponential back-off:
        a process that exits with code 81 (first start with a new profile) is relaunched on
        the profile it has just made; one that exits otherwise, or dies during the warm-up, is
        relaunched on a fresh profile (at most :data:`MAX_LAUNCHES` launches); UNO errors while
        the office comes up are retried on the same process.  Each cause is logged and counted
        as a :attr:`WorkerEvent.START_RETRY`.  Raises :class:`WorkerFailure` with the last cause.
        """
        self._uno = local_uno()
        self.kill()  # whatever was there before
        self.generation += 1
        t0 = time.monotonic()
        deadline = t0 + timeout
        delays = _backoff(0.1, 2.0)
        fresh, launches = True, 0
        while True:
            if fresh:
                self._new_profile()
            launches += 1
            self._launch()
            try:
                self._connect(deadline, timeout)
                self._warm_up(deadline)
                break
            except _Exited as exc:
                cause, fresh = str(exc), exc.code != RESTART_EXIT_CODE
                self._reap(keep_profile=not fresh)
            except _OutOfTime as exc:
                self.kill()
                raise WorkerFailure(str(exc)) from None
            except WorkerFailure as exc:  # died or hung during the warm-up
                cause, fresh = str(exc), True
                self.kill()
            except DocumentRefused as exc:  # the office cannot even convert the warm-up text
                self.kill()
                raise WorkerFailure(f"LibreOffice cannot convert a minimal document: {exc}") from None
            if launches >= MAX_LAUNCHES:
                self.kill()
                raise WorkerFailure(f"{cause}; gave up after {launches} launches")
            delay = 0.0 if not fresh else next(delays)
            if time.monotonic() + delay >= deadline:
                self.kill()
                raise WorkerFailure(f"{cause}; no time left to start LibreOffice within "
                                    f"{timeout:.0f} s")
            self._on_event(WorkerEvent.START_RETRY)
            log.warning("converter worker %d: %s; relaunching it%s", self.index, cause,
                        " on the profile it has just created" if not fresh
                        else f" on a fresh profile in {delay:.1f} s")
            time.sleep(delay)
        self.jobs = 0
        log.info("converter worker %d started (generation %d, launches %d, pid %s, office pid "
                 "%s) in %.2f s", self.index, self.generation, launches, self.proc.pid,
                 self.office_pid, time.monotonic() - t0)

    def _new_profile(self) -> None:
        self._drop_profile()
        self.profile = Path(tempfile.mkdtemp(prefix=f"w{self.index}-profile-", dir=self.base))
        (self.profile / "tmp").mkdir()
        self.pipe_name = f"qujat_{os.getpid()}_{self.index}_{uuid.uuid4().hex[:12]}"
        self.sockets = [f"/tmp/OSL_PIPE_{os.getuid()}_{self.pipe_name}"]

    def _launch(self) -> None:
        cmd = [
            self.soffice,
            *OFFICE_FLAGS,
            f"-env:UserInstallation={self.profile.as_uri()}",
            f"--accept=pipe,name={self.pipe_name};urp;StarOffice.ComponentContext",
        ]
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
            self._drop_profile()
            raise WorkerFailure(f"cannot run {self.soffice!r}: {exc}") from exc
        self.pgids.append(self.proc.pid)
        self._guard("+g", self.proc.pid)
        for path in self.sockets:
            self._guard("+p", path)
            if path not in self.pipe_files:
                self.pipe_files.append(path)

    def _connect(self, deadline: float, timeout: float) -> None:
        """Connect to the launched office.  Until it listens, ``resolve`` raises
        ``NoConnectException``: polled with back-off.  Any other error while it comes up
        (its service manager not ready yet, the bridge disposed) is logged and retried."""
        local = self._uno
        resolver = local.resolver()
        url = f"uno:pipe,name={self.pipe_name};urp;StarOffice.ComponentContext"
        polls = _backoff(0.02, 0.5)
        retries = _backoff(0.1, 1.0)
        cause = "no UNO connection"
        while True:
            code = self.proc.poll()
            if code is not None:
                raise _Exited(code)
            try:
                with local.lock:
                    ctx = resolver.resolve(url)
                    desktop = ctx.ServiceManager.createInstanceWithContext(
                        "com.sun.star.frame.Desktop", ctx)
                if desktop is None:
                    raise RuntimeError("the office has no Desktop yet")
                self.desktop = desktop
                break
            except local.NoConnectException:
                delay = next(polls)  # not listening yet: the normal wait
            except Exception as exc:
                if self.proc.poll() is not None:
                    continue  # it ended meanwhile: reported at the top of the loop
                cause, delay = _describe(exc), next(retries)
                self._on_event(WorkerEvent.START_RETRY)
                log.warning("converter worker %d: LibreOffice not ready (%s); retrying in "
                            "%.1f s", self.index, cause, delay)
            if time.monotonic() + delay >= deadline:
                raise _OutOfTime(f"LibreOffice did not accept a UNO connection within "
                                 f"{timeout:.0f} s ({cause})")
            time.sleep(delay)
        self.office_pid = self._find_office_pid()
        if self.office_pid:
            found = set(bound_unix_sockets(self.office_pid)) - set(self.sockets)
            for path in sorted(found):
                self._guard("+p", path)
                self.pipe_files.append(path)
            self.sockets = sorted(set(self.sockets) | found)
        self._props = {
            "load": local.props(
                Hidden=True,
                ReadOnly=True,
                FilterName=IMPORT_FILTER,
                UpdateDocMode=0,  # NO_UPDATE: no links fetched
                MacroExecutionMode=0,  # NEVER_EXECUTE
            ),
            "store": local.props(FilterName=EXPORT_FILTER, Overwrite=True,
                                 FilterData=PDF_FILTER_DATA),
        }

    def _warm_up(self, deadline: float) -> None:
        """Convert :data:`WARMUP_DOCX` once, under the first-use lock (see ``LocalUno``); the
        first real job then finds Writer and the PDF export loaded."""
        with self._uno.lock:
            self.run(WARMUP_DOCX, min(max(deadline - time.monotonic(), 1.0), WARMUP_TIMEOUT))

    def _guard(self, op: str, arg: object) -> None:
        if self.reaper is not None:
            self.reaper.send(op, arg)

    def _find_office_pid(self) -> int | None:
        if self.proc is None:
            return None
        for pid, comm, state in group_members(self.proc.pid):
            if comm.startswith("soffice") and state not in ("Z", "X") and pid != self.proc.pid:
                return pid
        return self.proc.pid  # soffice.bin run directly

    # -- stop ------------------------------------------------------------------------

    def kill(self) -> None:
        """Hard stop: SIGKILL the office process, let its launcher reap it, then the group."""
        office = self.office_pid
        if self.proc is not None and office and office != self.proc.pid:
            try:
                os.kill(office, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:  # oosplash reaps soffice.bin and exits by itself
                self.proc.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
        self._reap(keep_profile=False)

    def _reap(self, *, keep_profile: bool) -> None:
        """Kill and reap what is left of the current process group; drop the profile unless
        it is kept for a relaunch."""
        proc, self.proc, self.desktop, self.office_pid = self.proc, None, None, None
        if proc is not None:
            self._kill_group(proc)
            self._guard("-g", proc.pid)  # reaped: the id may be reused by someone else now
        if not keep_profile:
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
            live = [p for p, _c, s in group_members(proc.pid) if s not in ("Z", "X")]
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
        if office:
            try:
                os.kill(office, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def run(self, docx: bytes, timeout: float) -> bytes:
        """Convert one document.  Raises :class:`WorkerFailure` (the worker died or hung; the
        watchdog kills it after ``timeout`` s) or :class:`DocumentRefused`."""
        local = self._uno
        if not self.alive:
            raise WorkerFailure("worker is not running")
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
                    local.file_url(str(src)), "_blank", 0, self._props["load"]
                )
                if doc is None:
                    if self._timed_out_job == token or not self.alive:
                        raise self._classify(token, RuntimeError("no document"), dead=True)
                    raise DocumentRefused("LibreOffice could not load the document")
                try:
                    doc.storeToURL(local.file_url(str(dst)), self._props["store"])
                finally:
                    try:
                        doc.close(True)
                    except local.DisposedException:
                        raise
                    except Exception:
                        try:
                            doc.dispose()
                        except Exception:
                            pass
            except local.DisposedException as exc:
                raise self._classify(token, exc, dead=True) from None
            except local.UnoException as exc:
                raise self._classify(token, exc, dead=False) from None
            finally:
                timer.cancel()
                with self._lock:
                    self._running_job = 0
            try:
                pdf = dst.read_bytes()
            except FileNotFoundError:
                raise DocumentRefused("LibreOffice produced no PDF") from None
            if not pdf.startswith(b"%PDF-"):
                raise DocumentRefused("LibreOffice output is not a PDF")
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
            return WorkerFailure("job exceeded the timeout; worker killed", timed_out=True)
        if dead or not self.alive:
            return WorkerFailure(f"LibreOffice worker died ({type(exc).__name__})")
        # LibreOffice is alive and answered with an error about this document.
        return DocumentRefused(f"LibreOffice rejected the document: {_describe(exc)}")
