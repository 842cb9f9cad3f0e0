"""Batches on PostgreSQL: the procrastinate app, its one task, the worker and the coordinator.

procrastinate keeps its queue in the same PostgreSQL database as the records (its own tables,
applied once by `ensure_schema` under an advisory lock); there is no broker and no scheduler of
ours. A job is one chunk of a batch's pending items (`qujat.batches.process`: exactly once per
item whatever happens to the job). Workers send a heartbeat every `HEARTBEAT_S`; the jobs of a
worker that stopped beating (killed) for QUJAT_BATCH_STALLED_AFTER seconds (default 8) are put
back in the queue with
procrastinate's own `JobManager.get_stalled_jobs` / `retry_job`, by the coordinator and by every
worker (so a batch submitted over HTTP finishes without a coordinator too).

    qujat worker                      # on any machine that reaches the database and the blobs
    qujat regenerate --workers 2 …    # creates or resumes the batch, defers its jobs, waits
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable

import procrastinate
import procrastinate.schema
import psycopg

from qujat import batches
from qujat.runtime import Runtime
from qujat.settings import Settings

__all__ = ["TASK", "QUEUE", "build_app", "ensure_schema", "defer_pending", "coordinate",
           "run_worker", "retry_stalled", "conninfo"]

log = logging.getLogger(__name__)

TASK = "qujat.batch_chunk"
QUEUE = "batches"
HEARTBEAT_S = 2.0                 # a worker's heartbeat interval
# no heartbeat for this long: the worker is dead, its jobs stalled (QUJAT_BATCH_STALLED_AFTER's default)
STALLED_AFTER_S = Settings.batch_stalled_after
MAX_ATTEMPTS = 5                  # a job that raises (database away …) is retried this often
REDEFER_ROUNDS = 3                # pending items with no job left are queued again this often
_SCHEMA_LOCK = 0x71756A6174 + 1   # advisory lock key while applying procrastinate's schema


def conninfo(database_url: str) -> str:
    """The libpq URL of a DATABASE_URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    from store.db import normalise_url

    return normalise_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(database_url: str) -> None:
    """procrastinate's tables and functions in the database, applied once (several processes
    starting at once wait on an advisory lock; the second finds them there)."""
    with psycopg.connect(conninfo(database_url)) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is None:
            conn.execute(procrastinate.schema.SchemaManager.get_schema())


def build_app(database_url: str, *, runtime: Runtime | None = None, worker: str | None = None,
              pool_size: int = 2) -> procrastinate.App:
    """The app on this database. Only a worker passes ``runtime`` (its task renders with it);
    a coordinator's app only defers and inspects jobs."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), min_size=1, max_size=pool_size))

    @app.task(name=TASK, queue=QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, wait=1))
    def batch_chunk(batch_id: str, record_ids: list[str]) -> None:
        if runtime is None:
            raise RuntimeError("batch jobs run in `qujat worker` processes")
        batches.process(runtime, uuid.UUID(batch_id), [uuid.UUID(r) for r in record_ids],
                        worker=worker or batches.worker_name())

    return app


def defer_pending(database_url: str, store, batch_id: uuid.UUID, *,
                  app: procrastinate.App | None = None) -> int:
    """Queue a job per chunk of the batch's pending items that no queued or running job of the
    batch holds already (so that a coordinator started again does not queue them twice);
    how many jobs were queued."""
    ensure_schema(database_url)
    own = app is None
    if own:
        app = build_app(database_url).open()
    try:
        covered: set[str] = set()
        for job in app.job_manager.list_jobs(task=TASK):
            if job.status in ("todo", "doing") and job.task_kwargs.get("batch_id") == str(batch_id):
                covered.update(job.task_kwargs.get("record_ids", ()))
        task, queued, after = app.tasks[TASK], 0, None
        while True:
            page = store.batch_pending(batch_id, after=after)
            if not page:
                return queued
            after = page[-1]
            todo = [str(r) for r in page if str(r) not in covered]
            chunks = [{"batch_id": str(batch_id), "record_ids": todo[i:i + batches.CHUNK]}
                      for i in range(0, len(todo), batches.CHUNK)]
            if chunks:
                task.batch_defer(*chunks)
                queued += len(chunks)
    finally:
        if own:
            app.close()


async def _retry_stalled(database_url: str, stalled_after: float) -> int:
    app = build_app(database_url, pool_size=1)
    retried = 0
    async with app.open_async():
        for job in await app.job_manager.get_stalled_jobs(task_name=TASK,
                                                          seconds_since_heartbeat=stalled_after):
            try:
                await app.job_manager.retry_job(job)
                retried += 1
            except Exception:  # noqa: BLE001 - another process retried it first
                log.debug("stalled job %s: not retried", job.id, exc_info=True)
    return retried


def retry_stalled(database_url: str, stalled_after: float = STALLED_AFTER_S) -> int:
    """Put the jobs of workers silent for ``stalled_after`` seconds (dead) back in the queue
    (procrastinate's stalled-job API)."""
    n = asyncio.run(_retry_stalled(database_url, stalled_after))
    if n:
        log.warning("%d stalled batch job(s) of dead workers queued again", n)
    return n


def coordinate(rt: Runtime, batch_id: uuid.UUID, *, workers: int,
               on_progress: Callable[[], None]) -> None:
    """Queue the batch's jobs, start ``workers`` `qujat worker` processes here (they stop with
    this process), and wait until no item is pending, retrying stalled jobs meanwhile."""
    url, store = rt.settings.effective_database_url, rt.store
    stalled_after = rt.settings.batch_stalled_after
    ensure_schema(url)
    procs = [_spawn_worker(rt) for _ in range(max(0, workers))]
    app = build_app(url).open()
    try:
        defer_pending(url, store, batch_id, app=app)
        rounds, last_check = 0, time.monotonic()
        restarts = 0
        while _unfinished(store, batch_id):
            time.sleep(batches.POLL_S)
            on_progress()
            for k, p in enumerate(procs):      # a worker of ours that died is started again
                if p.poll() not in (None, 0) and restarts < batches.RESTARTS * len(procs):
                    log.warning("batch %s: worker (pid %d) exited with %s; starting it again",
                                batch_id, p.pid, p.returncode)
                    restarts += 1
                    procs[k] = _spawn_worker(rt)
            if time.monotonic() - last_check < 2 * HEARTBEAT_S:
                continue
            last_check = time.monotonic()
            retry_stalled(url, stalled_after)
            live = [j for j in app.job_manager.list_jobs(task=TASK) if j.status in ("todo", "doing")
                    and j.task_kwargs.get("batch_id") == str(batch_id)]
            if not live:
                if rounds >= REDEFER_ROUNDS:
                    log.error("batch %s: items stay pending after %d rounds; giving up", batch_id, rounds)
                    return
                rounds += 1
                defer_pending(url, store, batch_id, app=app)
    finally:
        app.close()
        _stop(procs)


def _unfinished(store, batch_id: uuid.UUID) -> bool:
    """Items pending in a running batch (a batch cancelled by a newer one is not waited for:
    its jobs do nothing more)."""
    info = store.batch_get(batch_id)
    return info.status == "running" and info.counts.get("pending", 0) > 0


def _spawn_worker(rt: Runtime) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=rt.settings.effective_database_url,
               QUJAT_DATA_DIR=str(rt.settings.data_dir), QUJAT_POOL_SIZE="1")
    return subprocess.Popen([sys.executable, "-m", "qujat", "worker", "--parent", str(os.getpid())],
                            env=env)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_worker(rt: Runtime, *, name: str | None = None, concurrency: int = 1,
               parent: int | None = None) -> None:
    """Run a procrastinate worker on the batches queue with this runtime until SIGTERM/SIGINT
    (or, with ``parent``, until that process is gone)."""
    url, stalled_after = rt.settings.effective_database_url, rt.settings.batch_stalled_after
    ensure_schema(url)
    name = name or batches.worker_name()
    stopping = threading.Event()

    def watch() -> None:
        last = 0.0
        while not stopping.wait(1.0):
            if parent is not None and os.getppid() != parent:
                log.warning("worker %s: its coordinator %d is gone; stopping", name, parent)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            if time.monotonic() - last < stalled_after / 2:
                continue
            last = time.monotonic()
            try:
                retry_stalled(url, stalled_after)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.warning("worker %s: could not look for stalled jobs", name, exc_info=True)

    app = build_app(url, runtime=rt, worker=name, pool_size=concurrency + 2)
    watcher = threading.Thread(target=watch, name="stalled-jobs", daemon=True)
    watcher.start()
    try:
        app.run_worker(queues=[QUEUE], name=name, concurrency=concurrency,
                       update_heartbeat_interval=HEARTBEAT_S, stalled_worker_timeout=stalled_after,
                       delete_jobs="successful", fetch_job_polling_interval=1.0)
    finally:
        stopping.set()
