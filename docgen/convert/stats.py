"""Counting what the pool does: job outcomes, worker events, and their frozen snapshot."""
from __future__ import annotations

import collections
import enum
import threading
from dataclasses import asdict, dataclass

from .worker import WorkerEvent

__all__ = ["JobOutcome", "PoolStats", "Tally"]


class JobOutcome(enum.Enum):
    """What happened to a ``convert()`` call, or to one attempt of it."""

    DONE = "done"  # a PDF was returned
    INVALID = "invalid"  # not a DOCX: refused before any worker saw it
    REJECTED = "rejected"  # LibreOffice could not read the document (worker fine, no retry)
    WORKER_FAILED = "worker_failed"  # an attempt's worker died or failed; it is replaced
    TIMED_OUT = "timed_out"  # an attempt ran past ``job_timeout``; its worker was killed
    RETRIED = "retried"  # a second attempt followed a worker failure or timeout
    BUSY = "busy"  # no worker became free within ``queue_timeout`` (PoolBusyError)


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of a pool's counters since it was created."""

    jobs: int = 0  # documents converted
    invalid: int = 0  # inputs that were not a DOCX
    rejected: int = 0  # documents LibreOffice refused
    failures: int = 0  # attempts lost to a worker that died or failed
    timeouts: int = 0  # attempts killed by the watchdog
    retries: int = 0  # second attempts
    busy_rejections: int = 0  # calls refused with PoolBusyError
    replaced: int = 0  # workers restarted after a failure, a timeout or death while idle
    recycled: int = 0  # workers restarted after max_jobs_per_worker jobs
    start_retries: int = 0  # worker starts that went on after an error (see Worker.start)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_FIELDS = {
    JobOutcome.DONE: "jobs",
    JobOutcome.INVALID: "invalid",
    JobOutcome.REJECTED: "rejected",
    JobOutcome.WORKER_FAILED: "failures",
    JobOutcome.TIMED_OUT: "timeouts",
    JobOutcome.RETRIED: "retries",
    JobOutcome.BUSY: "busy_rejections",
    WorkerEvent.REPLACED: "replaced",
    WorkerEvent.RECYCLED: "recycled",
    WorkerEvent.START_RETRY: "start_retries",
}


class Tally:
    """Thread-safe counter of :class:`JobOutcome` and :class:`WorkerEvent` values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter = collections.Counter()

    def add(self, what: JobOutcome | WorkerEvent) -> None:
        with self._lock:
            self._counts[what] += 1

    def snapshot(self) -> PoolStats:
        with self._lock:
            return PoolStats(**{field: self._counts[key] for key, field in _FIELDS.items()})
