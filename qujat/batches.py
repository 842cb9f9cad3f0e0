"""Batch regeneration (and LTV extension) of archived records: the application layer.

A batch is a set of records chosen by filters (`BatchSpec`), one item per record in the store;
each item ends ``done`` (exactly one new version, made by this batch), ``failed`` (with the
reason: e.g. the stored data no longer validate) or ``skipped`` (annulled). The store makes
"exactly once" a database fact (`store.batches`): the version insert and the item's
``pending → done`` are one transaction, and a unique index refuses a second version of a record
for one batch. Everything here may therefore crash, be killed or run twice at any point.
At most one batch of a spec runs (a partial unique index): a coordinator that loses the race to
create it resumes the winner's. The batch records its creator's QUJAT_PUBLIC_BASE_URL in its
stored spec and every worker renders the QR with it (the QR on paper copies never changes,
whatever a worker is configured with). Each start of an item is counted: a record whose
processing kills its worker `ITEM_ATTEMPTS` times is reported failed instead of stalling the
batch. A record that fails because the process is shutting down stays pending.

    spec = BatchSpec.from_json({"types": ["land_right_act"], "below_current_template": True})
    batch, resumed = start(rt, spec, caller=Caller.command_line())   # or the unfinished one
    run(rt, batch.id, workers=2)                                     # blocks until finished

Executors (`run`): SQLite has no job engine: the coordinator starts N local worker processes
(``qujat batch-shard``), each with its own runtime (a LibreOffice pool of one), each taking the
pending items whose record id falls in its shard (id mod N); a worker that dies is started again
for its shard, and one that outlives its coordinator stops after its current record. PostgreSQL:
procrastinate (`qujat.jobs`) — one job per chunk of pending items, ``qujat worker`` processes
(started by `run` on this machine, or anywhere else), stalled jobs of killed workers retried
through procrastinate's stalled-job API.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from docgen.errors import FieldProblem, RequestInvalid
from docgen.model import DocumentType
from qujat import service
from qujat.runtime import Runtime
from store import Action, NewVersion, NotFound, Record, Status
from store.batches import BatchAlreadyRunning, BatchInfo, Candidate, RecordFilter

__all__ = ["BatchKind", "BatchSpec", "BatchProgress", "DryRun", "ItemReport", "plan", "start",
           "retry_failed", "process", "submit", "run", "progress", "items", "worker_name",
           "is_postgresql", "closing", "FAILURES_SHOWN"]

log = logging.getLogger(__name__)

LANGUAGES = ("kk", "ru", "kk+ru")
#: Why a record its officials signed themselves is skipped by a regeneration (an LTV extension
#: adds no signature and takes it).
OFFICIALS_SIGNED = ("signed by its officials with their own EDS: a new version needs their "
                    "signatures (issue it again with signers)")
# a record awaiting a signature is signed through its signing workflow, never re-signed here
STATUSES = tuple(s.value for s in Status if s is not Status.AWAITING_SIGNATURE)
FAILURES_SHOWN = 100            # failures a progress report lists (the item report has all)
SAMPLE = 10                     # record ids a dry run shows
UNKNOWN_SHOWN = 20              # unknown record ids an invalid batch names
CHUNK = 8                       # records per `process` call (a job on PostgreSQL)
RESTARTS = 3                    # times a local worker of one shard is started again
ITEM_ATTEMPTS = 3               # unfinished starts of a record (its worker died) before it fails
POLL_S = 0.5


class BatchKind(str, enum.Enum):
    REGENERATE = "regenerate"          # render with the current templates, sign again
    EXTEND_LTV = "extend_ltv"          # extend the current version to B-LTA, no re-rendering


_SPEC_KEYS = ("kind", "types", "languages", "statuses", "issued_from", "issued_to",
              "below_current_template", "ids", "include_annulled")


@dataclass(frozen=True)
class BatchSpec:
    """Which records a batch takes and what it does to them, normalised (sorted, unique), so that
    the same command twice gives the same spec (and `spec_hash`)."""

    kind: BatchKind = BatchKind.REGENERATE
    types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("valid",)
    issued_from: dt.date | None = None        # Kazakhstan's dates (QUJAT_TIMEZONE), inclusive
    issued_to: dt.date | None = None
    below_current_template: bool = False
    ids: tuple[uuid.UUID, ...] = ()
    include_annulled: bool = False

    def to_json(self) -> dict:
        return {"kind": self.kind.value, "types": list(self.types), "languages": list(self.languages),
                "statuses": list(self.statuses),
                "issued_from": self.issued_from.isoformat() if self.issued_from else None,
                "issued_to": self.issued_to.isoformat() if self.issued_to else None,
                "below_current_template": self.below_current_template,
                "ids": [str(i) for i in self.ids], "include_annulled": self.include_annulled}

    @property
    def spec_hash(self) -> str:
        return _sha256_json(self.to_json())

    @classmethod
    def from_json(cls, raw: Mapping) -> "BatchSpec":
        """A spec from JSON values; `RequestInvalid` naming every bad field."""
        if not isinstance(raw, Mapping):
            raise RequestInvalid([FieldProblem("", "a JSON object")])
        problems: list[FieldProblem] = []
        for key in raw:
            if key not in _SPEC_KEYS:
                problems.append(FieldProblem(str(key), "unknown field"))
        kind = BatchKind.REGENERATE
        if raw.get("kind") is not None:
            try:
                kind = BatchKind(raw["kind"])
            except ValueError:
                problems.append(FieldProblem("kind", f"one of {', '.join(k.value for k in BatchKind)}"))
        types = _choices(raw, "types", tuple(t.value for t in DocumentType), problems)
        languages = _choices(raw, "languages", LANGUAGES, problems)
        statuses = _choices(raw, "statuses", STATUSES, problems) if "statuses" in raw else ("valid",)
        if "statuses" in raw and not statuses and not any(p.path.startswith("statuses") for p in problems):
            problems.append(FieldProblem("statuses", "at least one status"))
        dates = {k: _date(raw, k, problems) for k in ("issued_from", "issued_to")}
        if dates["issued_from"] and dates["issued_to"] and dates["issued_from"] > dates["issued_to"]:
            problems.append(FieldProblem("issued_to", "before issued_from"))
        flags = {k: _flag(raw, k, problems) for k in ("below_current_template", "include_annulled")}
        ids = _ids(raw, problems)
        if problems:
            raise RequestInvalid(problems)
        include_annulled = flags["include_annulled"] or "annulled" in statuses
        statuses = tuple(s for s in statuses if s != "annulled") or ("valid",)
        return cls(kind=kind, types=types, languages=languages, statuses=statuses,
                   issued_from=dates["issued_from"], issued_to=dates["issued_to"],
                   below_current_template=flags["below_current_template"], ids=ids,
                   include_annulled=include_annulled)


@dataclass(frozen=True)
class DryRun:
    """What a batch with this spec would take now: ``matching`` records to do, ``skipped``
    annulled ones (listed but left alone), a ``sample`` of the ids to do."""

    spec: BatchSpec
    matching: int
    skipped: int
    sample: tuple[uuid.UUID, ...]

    def to_json(self) -> dict:
        return {"spec": self.spec.to_json(), "matching": self.matching, "skipped_annulled": self.skipped,
                "sample": [str(i) for i in self.sample]}


@dataclass(frozen=True)
class BatchProgress:
    """What `qujat regenerate`, GET /batches/{id} and the report show."""

    id: uuid.UUID
    kind: BatchKind
    status: str                      # running | finished | cancelled
    spec: BatchSpec
    total: int
    done: int
    failed: int
    skipped: int
    pending: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    retry_of: uuid.UUID | None
    failures: tuple[tuple[uuid.UUID, str], ...]   # (record id, reason), up to FAILURES_SHOWN

    def to_json(self) -> dict:
        return {"id": str(self.id), "kind": self.kind.value, "status": self.status,
                "spec": self.spec.to_json(), "total": self.total, "done": self.done,
                "failed": self.failed, "skipped": self.skipped, "pending": self.pending,
                "created_at": self.created_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "retry_of": str(self.retry_of) if self.retry_of else None,
                "failures": [{"record_id": str(r), "reason": why} for r, why in self.failures]}


@dataclass(frozen=True)
class ItemReport:
    """One record of a batch, for the JSON/CSV report."""

    record_id: uuid.UUID
    state: str                       # pending | done | failed | skipped
    version: int | None              # the version this batch made
    reason: str | None               # why it failed or was skipped
    attempts: int
    updated_at: dt.datetime

    CSV_HEADER = ("record_id", "state", "version", "reason", "attempts", "updated_at")

    def to_json(self) -> dict:
        return {"record_id": str(self.record_id), "state": self.state, "version": self.version,
                "reason": self.reason, "attempts": self.attempts, "updated_at": self.updated_at.isoformat()}

    def csv_row(self) -> tuple:
        return tuple("" if v is None else v for v in self.to_json().values())


# -- choosing and starting -------------------------------------------------------------------


def plan(rt: Runtime, spec: BatchSpec) -> DryRun:
    """Count what `start` would take (and show a sample), without writing anything;
    `RequestInvalid` for what `start` would refuse (an id that names no record …)."""
    _check_can_run(rt, spec)
    store, classify = _store(rt), _classifier(rt, spec)
    matching = skipped = 0
    sample: list[uuid.UUID] = []
    for page in store.batch_candidates(_filter(rt, spec)):
        for c in page:
            verdict = classify(c)
            if verdict is None:
                matching += 1
                if len(sample) < SAMPLE:
                    sample.append(c.id)
            elif verdict is not False:
                skipped += 1
    return DryRun(spec=spec, matching=matching, skipped=skipped, sample=tuple(sample))


def start(rt: Runtime, spec: BatchSpec, *, caller: service.Caller,
          new: bool = False) -> tuple[BatchProgress, bool]:
    """The unfinished batch of the same spec (resumed: True; audit ``batch_resume``), or a new
    one (one transaction: the batch, its items, audit ``batch_start``). ``new``: always a new
    batch; an unfinished one of the same spec is cancelled. `RequestInvalid` if an explicit id
    names no record, or an LTV extension has no TSA configured."""
    store = _store(rt)
    _check_can_run(rt, spec)
    if not new:
        running = store.batch_running(spec.spec_hash)
        if running is not None:
            return _progress(store.batch_resumed(running.id, caller.actor), store), True
    try:
        info = store.batch_create(kind=spec.kind.value, spec=_stored(spec, _base_url(rt)),
                                  spec_hash=spec.spec_hash, actor=caller.actor, where=_filter(rt, spec),
                                  classify=_classifier(rt, spec), cancel_running=new)
    except BatchAlreadyRunning as e:   # another coordinator created it a moment before: resume it
        return _progress(store.batch_resumed(e.running.id, caller.actor), store), True
    log.info("batch %s started by %s: %d records", info.id, caller.actor, info.total)
    return _progress(info, store), False


def retry_failed(rt: Runtime, batch_id: uuid.UUID, *, caller: service.Caller) -> BatchProgress:
    """A new batch over the failed items of ``batch_id`` (``retry_of`` names it); the
    unfinished retry of the same batch if there is one."""
    store = _store(rt)
    original = store.batch_get(batch_id)
    spec, base_url = _loaded(original.spec)
    spec_hash = _sha256_json({"retry_of": str(batch_id), **spec.to_json()})
    running = store.batch_running(spec_hash)
    if running is not None:
        return _progress(store.batch_resumed(running.id, caller.actor), store)
    classify = _classifier(rt, dataclasses.replace(spec, below_current_template=False))
    try:
        info = store.batch_create(kind=original.kind, spec=_stored(spec, base_url or _base_url(rt)),
                                  spec_hash=spec_hash,
                                  actor=caller.actor, where=None, classify=classify, retry_of=batch_id)
    except BatchAlreadyRunning as e:
        return _progress(store.batch_resumed(e.running.id, caller.actor), store)
    return _progress(info, store)


# -- doing -----------------------------------------------------------------------------------


def process(rt: Runtime, batch_id: uuid.UUID, record_ids: Iterable[uuid.UUID], *, worker: str,
            stop: Callable[[], bool] | None = None) -> None:
    """Do the pending items among ``record_ids``: each gets exactly one new version (or is
    marked failed with the reason, or skipped); items not pending are left alone. Safe in many
    processes at once and after any crash. ``stop``: asked before each record (a worker whose
    coordinator died stops early; its records stay pending)."""
    store = _store(rt)
    info = store.batch_get(batch_id)
    if info.status != "running":
        return
    spec, base_url = _loaded(info.spec)
    if base_url is None:             # a batch made before batches recorded it: this process's
        base_url = _base_url(rt)
    elif base_url != _base_url(rt):
        log.warning("batch %s: its QR codes name %s (recorded by the batch), not this process's "
                    "QUJAT_PUBLIC_BASE_URL %s", batch_id, base_url, _base_url(rt))
    actor = f"batch:{batch_id}:{worker}"[:128]
    wanted = set(record_ids)
    for rid in sorted(store.batch_pending_of(batch_id, wanted)):
        if (stop is not None and stop()) or closing(rt):
            return
        # counting the start refuses an item of a batch no longer running, so the batch's
        # status is read only then, not once per record
        if not store.batch_item_started(batch_id, rid, max_attempts=ITEM_ATTEMPTS):
            if store.batch_status(batch_id) != "running":
                return                 # cancelled by a newer batch (--new): render nothing more
            continue                   # done meanwhile, or it killed its workers too often
        try:
            record = store.get(rid)
            if record.status is Status.ANNULLED and not spec.include_annulled:
                store.batch_item_skipped(batch_id, rid, "annulled")
                continue
            if spec.kind is BatchKind.EXTEND_LTV:
                content, action = _extended(rt, record), Action.EXTEND_LTV
            else:
                content, action = _regenerated(rt, record, base_url), Action.REGENERATE
            store.batch_add_version(batch_id, rid, content, actor=actor, action=action,
                                    allow_annulled=spec.include_annulled,
                                    details={"worker": worker})
        except RequestInvalid as e:
            store.batch_item_failed(batch_id, rid, "the stored data no longer validate: " + str(e))
        except Exception as e:  # noqa: BLE001 - one bad record never stops the batch
            if (stop is not None and stop()) or closing(rt):
                # not the record's fault: the process is shutting down beneath it (e.g. "converter
                # pool is closed"); the item stays pending for a resumed run
                log.info("batch %s: record %s left pending, the runtime is closing (%s: %s)",
                         batch_id, rid, type(e).__name__, e)
                return
            log.warning("batch %s: record %s failed", batch_id, rid, exc_info=True)
            store.batch_item_failed(batch_id, rid, f"{type(e).__name__}: {e}")
    store.batch_finish_if_done(batch_id, actor)


def submit(rt: Runtime, batch_id: uuid.UUID, *,
           stop: threading.Event | None = None) -> threading.Thread | None:
    """Have the batch done without waiting: PostgreSQL → its jobs are deferred to the
    procrastinate queue (`qujat worker` processes do them; None); SQLite → a background thread
    of this process does them with the runtime's converter pool (the thread is returned). The
    thread stops after its current record once ``stop`` is set or the runtime is closing: set
    ``stop`` and join the thread before the runtime closes. A record whose processing fails
    because the runtime closed beneath it stays pending (never failed); the same spec started
    again resumes it."""
    if is_postgresql(rt):
        from qujat import jobs

        jobs.defer_pending(rt.settings.effective_database_url, _store(rt), batch_id)
        return None
    halt = stop.is_set if stop is not None else (lambda: False)

    def drain() -> None:
        try:
            _drain(rt, batch_id, f"{worker_name()}:thread", stop=lambda: halt() or closing(rt))
        except Exception:  # noqa: BLE001 - the batch stays running; starting it again resumes it
            if not (halt() or closing(rt)):
                log.exception("batch %s: its thread stopped", batch_id)

    thread = threading.Thread(target=drain, name=f"batch-{batch_id}", daemon=True)
    thread.start()
    return thread


def closing(rt: Runtime) -> bool:
    """Whether the runtime is closing (or closed): its converter pool or a signing key is closed.
    A failure then is the process's shutdown, not the record's."""
    if rt.converter is not None and rt.converter.closed:
        return True
    return any(getattr(signer, "closed", False) is True for signer in rt.signers.values())


def run(rt: Runtime, batch_id: uuid.UUID, *, workers: int,
        on_progress: Callable[[BatchProgress], None] | None = None) -> BatchProgress:
    """The coordinator: have the batch done and block until no item is pending (or the workers
    gave up); the batch's progress at the end. ``workers`` processes on this machine (0: this
    process does the work itself on SQLite; on PostgreSQL only workers started elsewhere)."""
    store = _store(rt)
    report = on_progress or (lambda p: None)
    if store.batch_get(batch_id).status == "running":
        if is_postgresql(rt):
            from qujat import jobs

            jobs.coordinate(rt, batch_id, workers=workers, on_progress=lambda: report(progress(rt, batch_id)))
        elif workers <= 0:
            _drain(rt, batch_id, worker_name(), on_chunk=lambda: report(progress(rt, batch_id)))
        else:
            _run_local(rt, batch_id, workers, lambda: report(progress(rt, batch_id)))
        store.batch_finish_if_done(batch_id, f"batch:{batch_id}:{worker_name()}"[:128])
    final = progress(rt, batch_id)
    report(final)
    return final


def progress(rt: Runtime, batch_id: uuid.UUID) -> BatchProgress:
    """The batch's state now; `store.NotFound` for an unknown id."""
    store = _store(rt)
    return _progress(store.batch_get(_batch_id(batch_id)), store)


def items(rt: Runtime, batch_id: uuid.UUID) -> Iterator[ItemReport]:
    """Every item of the batch by record id, read page by page."""
    store, after = _store(rt), None
    store.batch_get(_batch_id(batch_id))
    while True:
        page = store.batch_items(_batch_id(batch_id), after=after)
        if not page:
            return
        for i in page:
            yield ItemReport(record_id=i.record_id, state=i.state, version=i.version,
                             reason=i.error, attempts=i.attempts, updated_at=i.updated_at)
        after = page[-1].record_id


def worker_name() -> str:
    """This process as the audit trail names it: host and pid."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def is_postgresql(rt: Runtime) -> bool:
    return rt.settings.effective_database_url.split(":", 1)[0].split("+")[0] in ("postgresql", "postgres")


def shard_worker(rt: Runtime, batch_id: uuid.UUID, shard: int, shards: int, *,
                 parent: int | None = None) -> None:
    """One local worker of `run` on SQLite: the pending items whose record id is ``shard``
    modulo ``shards``, in chunks; stops early once its parent (the coordinator) is gone."""
    stop = (lambda: os.getppid() != parent) if parent else None
    _drain(rt, batch_id, worker_name(), shard=(shard, shards), stop=stop,
           threads=rt.converter.size + 1 if rt.converter is not None else 1)


# -- internals -------------------------------------------------------------------------------


def _store(rt: Runtime):
    if rt.store is None:
        raise RuntimeError("this runtime has no records store (open_runtime(store=True))")
    return rt.store


def _batch_id(value) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("no batch with this id") from None


def _sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def _choices(raw: Mapping, key: str, allowed: tuple[str, ...], problems: list) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        problems.append(FieldProblem(key, "a list"))
        return ()
    for i, v in enumerate(value):
        if v not in allowed:
            problems.append(FieldProblem(f"{key}.{i}", f"one of {', '.join(allowed)}"))
    return tuple(sorted(set(v for v in value if v in allowed)))


def _date(raw: Mapping, key: str, problems: list) -> dt.date | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        problems.append(FieldProblem(key, "a date YYYY-MM-DD"))
        return None


def _flag(raw: Mapping, key: str, problems: list) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        problems.append(FieldProblem(key, "true or false"))
        return False
    return value


def _ids(raw: Mapping, problems: list) -> tuple[uuid.UUID, ...]:
    value = raw.get("ids")
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        problems.append(FieldProblem("ids", "a list of record ids"))
        return ()
    ids = set()
    for i, v in enumerate(value):
        try:
            ids.add(v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)))
        except ValueError:
            problems.append(FieldProblem(f"ids.{i}", "not a record id (UUID)"))
    return tuple(sorted(ids))


def _filter(rt: Runtime, spec: BatchSpec) -> RecordFilter:
    zone = ZoneInfo(rt.settings.timezone)

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)

    return RecordFilter(
        types=spec.types, languages=spec.languages,
        statuses=tuple(sorted(set(spec.statuses) | {Status.ANNULLED.value})),
        created_from=midnight(spec.issued_from) if spec.issued_from else None,
        created_to=midnight(spec.issued_to + dt.timedelta(days=1)) if spec.issued_to else None,
        ids=spec.ids)


def _version_key(version: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in str(version).split("."))


def _classifier(rt: Runtime, spec: BatchSpec) -> Callable[[Candidate], str | None | bool]:
    """None: the record is done by the batch; a text: listed as skipped for that reason;
    False: not part of the batch (its templates are current)."""
    current: dict[tuple[str, str], tuple] = {}

    def below_current(c: Candidate) -> bool:
        for lang, ref in (c.templates or {}).items():
            key = (c.type, lang)
            if key not in current:
                current[key] = _version_key(rt.templates.get(c.type, lang).version)
            if _version_key(ref.get("version", "")) < current[key]:
                return True
        return False

    def classify(c: Candidate):
        if spec.below_current_template and not below_current(c):
            return False
        if c.status == Status.ANNULLED.value and not spec.include_annulled:
            return "annulled"
        if c.officials_signed and spec.kind is BatchKind.REGENERATE:
            # the server's keys never stand in for an official's own signature
            return OFFICIALS_SIGNED
        return None

    return classify


def _check_can_run(rt: Runtime, spec: BatchSpec) -> None:
    problems = []
    if spec.kind is BatchKind.EXTEND_LTV and not rt.settings.tsa_url:
        problems.append(FieldProblem("kind", "an LTV extension needs a timestamp service (QUJAT_TSA_URL)"))
    if spec.ids:
        # one problem on "ids" naming the unknown ids: the spec's ids are sorted and unique, so a
        # position in them is not the position in what the caller sent
        unknown = _store(rt).batch_unknown_ids(spec.ids)
        if unknown:
            shown = ", ".join(str(i) for i in unknown[:UNKNOWN_SHOWN])
            more = f" and {len(unknown) - UNKNOWN_SHOWN} more" if len(unknown) > UNKNOWN_SHOWN else ""
            problems.append(FieldProblem("ids", f"no record with the id {shown}{more}"))
    if problems:
        raise RequestInvalid(problems)


#: The stored spec's key for the public base URL a batch's QR codes name: the creating process's
#: QUJAT_PUBLIC_BASE_URL, a fact of the batch (not of its spec_hash, nor of the worker doing it).
BASE_URL_KEY = "public_base_url"


def _base_url(rt: Runtime) -> str:
    return rt.settings.public_base_url.rstrip("/")


def _stored(spec: BatchSpec, base_url: str) -> dict:
    """What the store keeps as the batch's spec: the filters and the public base URL."""
    return {**spec.to_json(), BASE_URL_KEY: base_url}


def _loaded(stored: Mapping) -> tuple[BatchSpec, str | None]:
    """The filters and the public base URL of a stored spec (None: a batch made before batches
    recorded it)."""
    filters = {k: v for k, v in stored.items() if k != BASE_URL_KEY}
    return BatchSpec.from_json(filters), stored.get(BASE_URL_KEY)


def _progress(info: BatchInfo, store) -> BatchProgress:
    c = info.counts
    failures: tuple = ()
    if c.get("failed"):
        failures = tuple((i.record_id, i.error or "")
                         for i in store.batch_items(info.id, states=("failed",), limit=FAILURES_SHOWN))
    return BatchProgress(id=info.id, kind=BatchKind(info.kind), status=info.status,
                         spec=_loaded(info.spec)[0], total=info.total,
                         done=c.get("done", 0), failed=c.get("failed", 0),
                         skipped=c.get("skipped", 0), pending=c.get("pending", 0),
                         created_at=info.created_at, finished_at=info.finished_at,
                         retry_of=info.retry_of, failures=failures)


def _regenerated(rt: Runtime, record: Record, base_url: str) -> NewVersion:
    """The record rendered again from its stored data with the current templates, with its own
    token and the batch's public base URL (the QR on paper copies keeps working, whatever this
    worker's QUJAT_PUBLIC_BASE_URL), signed again by the server-side keys."""
    request = rt.parse({"type": record.type, "language": record.language,
                        "external_id": record.external_id, "data": record.data})
    rendered = rt.renderer.render(request, token=record.token, base_url=base_url)
    pdf, signatures = service.sign_server_side(rt, record.type, rendered.pdf)
    return NewVersion(pdf=pdf, docx=rendered.docx, templates=service.template_refs(rendered),
                      signatures=signatures)


def _extended(rt: Runtime, record: Record) -> NewVersion:
    """The current version extended to B-LTA (same DOCX, same templates and signatures)."""
    from signing.ltv import extend_to_blta
    from signing.sign import timestamper_for

    store = _store(rt)
    (current,) = [v for v in store.versions(record.id) if v.number == record.current_version]
    pdf = extend_to_blta(store.blobs.get(current.pdf_sha256),
                         timestamper=rt.timestamper or timestamper_for(rt.settings.tsa_url),
                         trust_roots=rt.trust_anchors, policy=rt.fetch_policy)
    return NewVersion(pdf=pdf, docx=store.blobs.get(current.docx_sha256),
                      templates=dict(current.templates), signatures=current.signatures)


def _drain(rt: Runtime, batch_id: uuid.UUID, worker: str, *, shard: tuple[int, int] | None = None,
           stop: Callable[[], bool] | None = None, on_chunk: Callable[[], None] | None = None,
           threads: int = 1) -> None:
    """Do the batch's pending items (of one shard), a page of ids at a time, in chunks.
    ``threads`` > 1: as many chunks at once (one thread signs and stores while another's
    document is in LibreOffice, so that the converter pool is never idle)."""
    store, after = _store(rt), None

    def one(chunk: list[uuid.UUID]) -> None:
        if stop is not None and stop():
            return
        process(rt, batch_id, chunk, worker=worker, stop=stop)
        if on_chunk is not None:
            on_chunk()

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="batch") as pool:
        while not (stop is not None and stop()):
            if store.batch_status(batch_id) != "running":
                return                 # finished, or cancelled by a newer batch (--new)
            page = store.batch_pending(batch_id, after=after)
            if not page:
                return
            after = page[-1]
            mine = [r for r in page if shard is None or r.int % shard[1] == shard[0]]
            chunks = [mine[i:i + CHUNK] for i in range(0, len(mine), CHUNK)]
            if threads <= 1:
                for chunk in chunks:
                    one(chunk)
            else:
                for done in pool.map(one, chunks):    # re-raises a chunk's unexpected error
                    del done


def _run_local(rt: Runtime, batch_id: uuid.UUID, workers: int, tick: Callable[[], None]) -> None:
    """SQLite: ``workers`` processes `qujat batch-shard`, one per shard, each started again
    (up to RESTARTS times) if it dies before its shard is done."""
    procs: dict[int, subprocess.Popen] = {}
    restarts = dict.fromkeys(range(workers), 0)

    def spawn(k: int) -> subprocess.Popen:
        env = dict(os.environ, QUJAT_POOL_SIZE="1", DATABASE_URL=rt.settings.effective_database_url,
                   QUJAT_DATA_DIR=str(rt.settings.data_dir))
        return subprocess.Popen([sys.executable, "-m", "qujat", "batch-shard", str(batch_id),
                                 str(k), str(workers), "--parent", str(os.getpid())], env=env)

    try:
        procs = {k: spawn(k) for k in range(workers)}
        while procs:
            time.sleep(POLL_S)
            tick()
            for k, p in list(procs.items()):
                code = p.poll()
                if code is None:
                    continue
                del procs[k]
                if code != 0 and restarts[k] < RESTARTS:
                    log.warning("batch %s: local worker %d (pid %d) exited with %s; starting it again",
                                batch_id, k, p.pid, code)
                    restarts[k] += 1
                    procs[k] = spawn(k)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
