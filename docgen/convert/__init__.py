"""DOCX -> PDF/A-2b through LibreOffice kept warm (direct UNO, no unoserver hop).

A :class:`ConverterPool` owns a few long-lived LibreOffice processes ("workers", one per CPU
this process may use by default, :func:`default_pool_size`).  Each worker is its own
``soffice`` process group with its own throw-away user profile, listening on a private named
pipe; our process talks to it over UNO.  A job writes the DOCX to a temp file (``/dev/shm``
when available), loads it hidden with the Word 2007 import filter, stores it with
``writer_pdf_Export`` and ``SelectPdfVersion=2`` (PDF/A-2b: XMP ``pdfaid:part=2`` /
``conformance=B``, every font embedded), closes the document.

The pool is built and closed by the process's composition root; there is no module-level pool.

Robustness rules:

* start: workers start at pool creation, in parallel (``prestart=True``, the default).  Inside
  ``start_timeout`` a start goes on after errors, with exponential back-off and the cause
  logged: ``soffice.bin`` exiting with code 81 after making a new profile is relaunched on it;
  other exits are relaunched on a fresh profile; UNO errors while the office comes up are
  retried.  Each worker then converts a tiny document once (warm-up) -- all of this under a
  process-wide lock, because pyuno's first calls are not thread-safe (see ``office.LocalUno``);
* bounded queue: a job waits at most ``queue_timeout`` (30 s by default) for a free worker,
  then :class:`PoolBusyError` (a :class:`ConversionError`; a web server answers 503);
* per-job timeout: a watchdog kills the worker's whole process group when a job runs longer
  than ``job_timeout``;
* a worker that died (UNO ``DisposedException`` / process gone) or hung is replaced in the
  background and the job is retried once, on another (or the fresh) worker; a second failure
  raises :class:`ConversionError`; a supervisor thread replaces idle workers that died;
* a document LibreOffice cannot read is a :class:`ConversionError` at once (no retry: the
  worker is healthy, the input is not);
* workers are recycled (restarted) after ``max_jobs_per_worker`` jobs;
* each worker's temp profile, LibreOffice's own temp files (``TMPDIR`` points into the
  profile) and its ``/tmp/OSL_PIPE_*`` pipe files are removed when that process ends;
  ``close()`` stops every worker (SIGTERM, then SIGKILL of the process group) and reaps it; a
  helper process per pool does the same if the owning process dies, even by SIGKILL;
* a pool belongs to the process that created it (after ``fork()`` the child gets
  :class:`ConversionError` and ``close()`` there is a no-op);
* never one ``soffice`` per document -- except :func:`convert_cold`, the benchmark anchor.

``pool.stats()`` returns a frozen :class:`PoolStats` (counts of :class:`JobOutcome` values and
worker events).  Introspection for tests and health checks: ``worker_pids()`` (``soffice.bin``
pids), ``worker_pgids()``, ``all_pgids()``, ``all_pipe_files()``, ``profile_dirs()``,
``wait_idle()``.  Nothing of a document's content is logged; log records carry worker ids, pids
and timings.

Modules: ``errors`` (exceptions), ``office`` (LibreOffice settings, input check, pyuno's local
side), ``procfs`` (/proc helpers), ``reaper`` (owner-death helper), ``worker`` (one LibreOffice
process), ``stats`` (outcomes and snapshot), ``pool`` (:class:`ConverterPool`), ``cold``
(:func:`convert_cold`).
"""
from __future__ import annotations

from .cold import convert_cold
from .errors import ConversionError, PoolBusyError
from .office import PDF_FILTER_DATA
from .pool import ConverterPool, default_pool_size
from .stats import JobOutcome, PoolStats

__all__ = [
    "ConversionError",
    "PoolBusyError",
    "ConverterPool",
    "convert_cold",
    "default_pool_size",
    "JobOutcome",
    "PoolStats",
    "PDF_FILTER_DATA",
]
