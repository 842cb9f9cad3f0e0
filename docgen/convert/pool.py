"""ConverterPool: warm LibreOffice workers shared by many threads."""
from __future__ import annotations

import collections
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .errors import ConversionError, DocumentRefused, PoolBusyError, WorkerFailure
from .office import check_docx, fast_tmp_root
from .reaper import Reaper
from .stats import JobOutcome, PoolStats, Tally
from .worker import Worker, WorkerEvent

__all__ = ["ConverterPool", "default_pool_size"]

log = logging.getLogger(__name__)


def default_pool_size() -> int:
    """One worker per CPU this process may run on (its affinity mask, which containers and
    ``taskset`` narrow), else the machine's CPU count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class ConverterPool:
    """Thread-safe pool of warm LibreOffice workers converting DOCX bytes to PDF/A-2b bytes.

    ``convert()`` may be called from many threads; each job goes to a free worker, others wait
    in FIFO order up to ``queue_timeout`` seconds, then get :class:`PoolBusyError`.  Built and
    closed by the process's composition root (``with ConverterPool(...) as pool``).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        job_timeout: float = 60.0,
        max_jobs_per_worker: int = 200,
        soffice: str = "soffice",
        start_timeout: float = 60.0,
        queue_timeout: float = 30.0,
        prestart: bool = True,
        health_interval: float | None = 1.0,
    ):
        n = workers if workers is not None else default_pool_size()
        if n < 1:
            raise ValueError("workers must be >= 1")
        for name, value in (("job_timeout", job_timeout), ("start_timeout", start_timeout),
                            ("queue_timeout", queue_timeout)):
            if value is None or not 0 < value < math.inf:
                raise ValueError(f"{name} must be a number of seconds > 0, not {value!r}")
        if max_jobs_per_worker < 1:
            raise ValueError("max_jobs_per_worker must be >= 1")
        self.size = n
        self.job_timeout = float(job_timeout)
        self.max_jobs_per_worker = int(max_jobs_per_worker)
        self.start_timeout = float(start_timeout)
        self.queue_timeout = float(queue_timeout)
        self.soffice = soffice
        self._owner_pid = os.getpid()  # a forked child must not drive (or kill) our workers
        self._tally = Tally()
        self._base = Path(tempfile.mkdtemp(prefix="qujat-convert-"))
        self._jobs_root = Path(tempfile.mkdtemp(prefix="qujat-convert-jobs-", dir=fast_tmp_root()))
        self._reaper = Reaper()
        for d in (self._base, self._jobs_root):
            self._reaper.send("+p", d)
        self._workers = [
            Worker(i, soffice, self._base, self._jobs_root, self._reaper, self._tally.add)
            for i in range(n)
        ]
        self._cond = threading.Condition()
        self._idle: collections.deque[Worker] = collections.deque(self._workers)
        self._closed = False
        self._bg: set[threading.Thread] = set()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        if prestart:
            errors = self._each_worker(self._start_worker)
            if errors:
                self.close()
                raise ConversionError(f"LibreOffice workers failed to start: {errors[0]}")
        if health_interval:
            self._supervisor = threading.Thread(
                target=self._supervise, args=(float(health_interval),),
                name="qujat-convert-supervisor", daemon=True,
            )
            self._supervisor.start()

    # -- public ----------------------------------------------------------------------

    def convert(self, docx: bytes) -> bytes:
        """DOCX bytes -> PDF/A-2b bytes.  Raises :class:`ConversionError`, or its subclass
        :class:`PoolBusyError` when no worker is free within ``queue_timeout``."""
        if os.getpid() != self._owner_pid:
            raise ConversionError("ConverterPool used across fork(); create one per process")
        try:
            check_docx(docx)
        except ConversionError:
            self._tally.add(JobOutcome.INVALID)
            raise
        docx = bytes(docx)
        last: Exception | None = None
        for attempt in (1, 2):
            if attempt == 2:
                self._tally.add(JobOutcome.RETRIED)
            worker = self._acquire()
            replace = None
            try:
                if not worker.alive:
                    if worker.generation:
                        log.warning("converter worker %d found dead while idle; restarting it",
                                    worker.index)
                        self._tally.add(WorkerEvent.REPLACED)
                    try:
                        worker.start(self.start_timeout)
                    except WorkerFailure as exc:
                        last = exc
                        log.warning("converter worker %d failed to start: %s", worker.index, exc)
                        continue
                try:
                    pdf = worker.run(docx, self.job_timeout)
                except DocumentRefused as exc:
                    self._tally.add(JobOutcome.REJECTED)
                    raise ConversionError(str(exc)) from None
                except Exception as exc:  # died, hung, or unexpected (bridge, I/O): retry once
                    last, replace = exc, "failure"
                    if isinstance(exc, WorkerFailure) and exc.timed_out:
                        replace = "timeout"
                    self._tally.add(JobOutcome.TIMED_OUT if replace == "timeout"
                                    else JobOutcome.WORKER_FAILED)
                    log.warning("converter worker %d failed on attempt %d: %s", worker.index,
                                attempt, exc if isinstance(exc, WorkerFailure)
                                else f"unexpected {type(exc).__name__}")
                    continue
                self._tally.add(JobOutcome.DONE)
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

    def stats(self) -> PoolStats:
        """A frozen snapshot of the counters (jobs, retries, failures, timeouts, ...)."""
        return self._tally.snapshot()

    def worker_pids(self) -> list[int | None]:
        """PIDs of the running ``soffice.bin`` processes, one per slot (None: not running)."""
        return [w.office_pid if w.alive else None for w in self._workers]

    def worker_pgids(self) -> list[int | None]:
        """Process-group ids (= launcher pids) of the workers, one per slot."""
        return [w.proc.pid if w.proc is not None else None for w in self._workers]

    def all_pgids(self) -> list[int]:
        """Process groups of every process this pool has launched (all generations)."""
        return [g for w in self._workers for g in w.pgids]

    def all_pipe_files(self) -> list[str]:
        """LibreOffice named-pipe files of every process this pool has launched."""
        return [f for w in self._workers for f in w.pipe_files]

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
        if self._supervisor is not None:
            self._supervisor.join()
        self.wait_idle(self.job_timeout if timeout is None else timeout)
        for t in list(self._bg):
            t.join(self.start_timeout)
        self._each_worker(Worker.stop)
        shutil.rmtree(self._jobs_root, ignore_errors=True)
        shutil.rmtree(self._base, ignore_errors=True)
        self._reaper.close()
        log.info("converter pool closed (%s)", self.stats().as_dict())

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "ConverterPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------

    def _start_worker(self, w: Worker) -> None:
        w.start(self.start_timeout)

    def _each_worker(self, fn) -> list[str]:
        """Run ``fn(worker)`` for all workers in parallel (start-up, shutdown); error texts."""
        errors: list[str] = []

        def call(w: Worker) -> None:
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

    def _acquire(self) -> Worker:
        deadline = time.monotonic() + self.queue_timeout
        with self._cond:
            while not self._idle and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._tally.add(JobOutcome.BUSY)
                    raise PoolBusyError(
                        f"no converter worker free within {self.queue_timeout:g} s")
                self._cond.wait(left)
            if self._closed:
                raise ConversionError("converter pool is closed")
            return self._idle.popleft()

    def _release(self, worker: Worker) -> None:
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def _replace_async(self, worker: Worker, reason: str) -> None:
        """Restart ``worker`` in the background; it rejoins the idle set afterwards (still
        dead if the restart failed -- the next job then tries to start it itself)."""
        self._tally.add(WorkerEvent.RECYCLED if reason == "recycle" else WorkerEvent.REPLACED)

        def replace() -> None:
            try:
                if reason == "recycle":
                    worker.stop()
                else:
                    worker.kill()
                if not self._closed:
                    self._start_worker(worker)
            except WorkerFailure as exc:
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
