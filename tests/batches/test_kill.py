"""kill -9 of a worker, then of the coordinator, in the middle of a batch; the same command run
again resumes the batch, and every record ends with exactly one new version (real processes, on
SQLite with local workers and on PostgreSQL with procrastinate workers)."""
from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from qujat.batches import BatchSpec
from store import Action
from tests.batches.conftest import ARCHIVE_SIZE, processes_with, wait_for

pytestmark = pytest.mark.slow


def _worker_pid(store, batch_id, made) -> int:
    """The pid of a live worker that made one of the batch's versions (the audit names it)."""
    for rid, _ in reversed(made):
        (event,) = [e for e in store.audit(rid) if e.action is Action.REGENERATE]
        pid = int(event.details["worker"].rsplit(":", 1)[1])
        try:
            os.kill(pid, 0)
            return pid
        except ProcessLookupError:
            continue
    raise AssertionError("no live worker found")


def test_kill_a_worker_and_the_coordinator_then_resume(archive, processes, tmp_path):
    # half the archive (two of its four kinds): enough to kill in the middle, quicker to finish
    args = ("regenerate", "--type", "land_right_act", "--type", "address_certificate", "--workers", "2",
            "--no-progress", "--report-dir", str(tmp_path))
    spec = BatchSpec(types=("address_certificate", "land_right_act"))
    size = ARCHIVE_SIZE // 2
    first = archive.qujat(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(first)
    with archive.store() as store:
        batch = wait_for(lambda: store.batch_running(spec.spec_hash), 60, "the batch")

        def made():
            return store.batch_versions(batch.id)

        wait_for(lambda: len(made()) >= 10, 120, "10 new versions")
        victim = _worker_pid(store, batch.id, made())
        os.kill(victim, signal.SIGKILL)
        at_kill = len(made())
        wait_for(lambda: len(made()) >= at_kill + 25, 120, "progress after a worker was killed")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        interrupted = len(made())
        assert interrupted < size, "the batch was over before the coordinator was killed"
        # its workers notice and stop on their own (after the record or job in hand)
        orphans = (("batch-shard", str(batch.id)) if archive.database_url.startswith("sqlite")
                   else ("worker", "--parent", str(first.pid)))
        wait_for(lambda: not processes_with(*orphans), 60, "the orphaned workers to stop")

        again = archive.qujat(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        processes.append(again)
        out, err = again.communicate(timeout=240)
        assert again.returncode == 0, err.decode()
        assert f"batch {batch.id} resumed" in err.decode()
        summary = json.loads(out.decode().strip().splitlines()[-1])
        assert (summary["batch"], summary["done"], summary["failed"], summary["pending"]) == \
            (str(batch.id), size, 0, 0)

        versions = made()
        assert len(versions) == size == len({rid for rid, _ in versions})   # none lost, none twice
        for rid, number in versions:
            assert number == 2 and [v.number for v in store.versions(rid)] == [1, 2]
        assert store.batch_get(batch.id).status == "finished"
        workers = {e.details["worker"] for rid, _ in versions for e in store.audit(rid)
                   if e.action is Action.REGENERATE}
        assert victim in {int(w.rsplit(":", 1)[1]) for w in workers}
        assert len(workers) >= 4          # the first two, a replacement or the resumed run's
