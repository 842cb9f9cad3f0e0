"""Batches in the store: a regeneration (or LTV extension) job over many records.

`BatchSteps` is mixed into `store.Store`; its methods use the Store's sessions, clock and blob
store. Schema: migration 0002 (`batches`, `batch_items`, `versions.batch_id`).

Exactly once, whatever crashes or retries happen above: `batch_add_version` is ONE transaction
that locks the record, flips the batch item ``pending → done`` (``UPDATE … WHERE
state='pending'``: a second attempt finds nothing to flip and writes nothing), inserts the new
version naming the batch (the unique index on (record_id, batch_id) refuses a second one), moves
the record's current version and writes the audit event. Blobs are written before, content
addressed: the loser of a race leaves nothing behind that a retry would not reuse.

Creating a batch is one transaction too: the batch row, one item per matching record (records are
read in pages by id, never all at once) and the ``batch_start`` audit event. At most one batch of
a spec runs (a partial unique index, migration 0004): of two creations of the same spec at once,
the second raises `BatchAlreadyRunning` naming the first, which its caller then resumes.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import Conflict, NotFound
from store.model import Action, NewVersion, Status, Version
from store.orm import BatchItemRow, BatchRow, RecordRow, SigningStateRow, VersionRow

__all__ = ["BatchSteps", "RecordFilter", "BatchInfo", "BatchItem", "Candidate", "BatchAlreadyRunning"]

PAGE = 500                       # records read (and items inserted) per round trip
_BATCHES, _ITEMS = BatchRow.__table__, BatchItemRow.__table__
_RECORDS, _VERSIONS = RecordRow.__table__, VersionRow.__table__


@dataclass(frozen=True)
class RecordFilter:
    """Which records a batch takes. Empty tuples mean "any"; ``created_from``/``created_to`` are
    a half-open UTC interval [from, to)."""

    types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    statuses: tuple[str, ...] = (Status.VALID.value,)
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None
    ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A record a filter matched, with what a finer (application-side) test needs."""

    id: uuid.UUID
    type: str
    language: str
    status: str
    templates: Mapping[str, Any]       # of its current version
    officials_signed: bool = False     # its officials signed it with their own EDS (signing state)


@dataclass(frozen=True)
class BatchInfo:
    id: uuid.UUID
    kind: str
    spec: dict[str, Any]
    spec_hash: str
    status: str
    actor: str
    retry_of: uuid.UUID | None
    total: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    counts: Mapping[str, int] = field(default_factory=dict)   # item state → how many


@dataclass(frozen=True)
class BatchItem:
    record_id: uuid.UUID
    state: str
    version: int | None
    error: str | None
    attempts: int
    updated_at: dt.datetime


class BatchAlreadyRunning(Conflict):
    """`batch_create` lost a race: another batch of the same spec is running (``running``)."""

    def __init__(self, running: "BatchInfo"):
        super().__init__(f"batch {running.id} of the same spec is running")
        self.running = running


# A candidate → None (take it, pending) or the reason it is skipped; False: not part of the batch.
Classify = Callable[[Candidate], "str | None | bool"]


class BatchSteps:
    """The batch operations of `store.Store` (each one transaction)."""

    # -- selection -------------------------------------------------------------------------

    def batch_candidates(self, where: RecordFilter, *, page: int = PAGE) -> Iterator[list[Candidate]]:
        """The records ``where`` matches, in pages of at most ``page``, by id (each page its own
        reading transaction: nothing holds the database while the caller works)."""
        after: Any = None
        while after is not _END:
            with self._read() as s:
                rows, after = _candidate_page(s, where, after, page)
            if rows:
                yield rows

    def batch_unknown_ids(self, ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
        """Those of ``ids`` that name no record (looked up a page at a time), in their order."""
        ids = list(dict.fromkeys(ids))
        known: set[uuid.UUID] = set()
        with self._read() as s:
            for i in range(0, len(ids), PAGE):
                known.update(s.scalars(select(_RECORDS.c.id).where(_RECORDS.c.id.in_(ids[i:i + PAGE]))))
        return [i for i in ids if i not in known]

    # -- creation --------------------------------------------------------------------------

    def batch_running(self, spec_hash: str) -> BatchInfo | None:
        """The unfinished batch made with this spec, if any (the newest)."""
        with self._read() as s:
            row = s.scalars(select(BatchRow).where(BatchRow.spec_hash == spec_hash,
                                                   BatchRow.status == "running")
                            .order_by(BatchRow.created_at.desc()).limit(1)).first()
            return None if row is None else _info(s, row)

    def batch_create(self, *, kind: str, spec: Mapping[str, Any], spec_hash: str, actor: str,
                     where: RecordFilter | None, classify: Classify,
                     retry_of: uuid.UUID | None = None, cancel_running: bool = False) -> BatchInfo:
        """A new batch with an item per record that ``where`` matches (or, with ``retry_of``,
        per failed item of that batch) and ``classify`` keeps, and its ``batch_start`` audit
        event — one transaction. ``cancel_running``: an unfinished batch of the same spec is
        cancelled in it (its pending items are left alone). `BatchAlreadyRunning` if another
        creation of the same spec committed first (the partial unique index on running batches
        refuses this one; nothing of it is written)."""
        for attempt in range(2):
            try:
                return self._batch_create(kind=kind, spec=spec, spec_hash=spec_hash, actor=actor,
                                          where=where, classify=classify, retry_of=retry_of,
                                          cancel_running=cancel_running)
            except IntegrityError:
                running = self.batch_running(spec_hash)
                if running is not None:
                    raise BatchAlreadyRunning(running) from None
                if attempt:            # not the running-batch index: a real error
                    raise
                # the winner finished (or was cancelled) meanwhile: once more
        raise AssertionError("unreachable")

    def _batch_create(self, *, kind: str, spec: Mapping[str, Any], spec_hash: str, actor: str,
                      where: RecordFilter | None, classify: Classify, retry_of: uuid.UUID | None,
                      cancel_running: bool) -> BatchInfo:
        counts = {"pending": 0, "skipped": 0}
        with self._write() as s:
            cancelled = []
            if cancel_running:
                # FOR UPDATE waits for the versions being written under the batch's FOR SHARE lock
                cancelled = list(s.scalars(select(BatchRow.id).where(
                    BatchRow.spec_hash == spec_hash, BatchRow.status == "running").with_for_update()))
            # the clock is read once those have committed: every version the old batch made is
            # then older than its cancellation (= the new batch's creation)
            now = self._clock()
            batch_id = _new_batch_id(now)
            if cancelled:
                s.execute(update(BatchRow).where(BatchRow.id.in_(cancelled))
                          .values(status="cancelled", finished_at=now))
            s.execute(insert(_BATCHES), {
                "id": batch_id, "kind": kind, "spec": dict(spec), "spec_hash": spec_hash,
                "status": "running", "actor": actor, "retry_of": retry_of, "total": 0,
                "created_at": now, "finished_at": None})
            after: Any = None
            while after is not _END:
                if retry_of is not None:
                    rows, after = _failed_page(s, retry_of, after, PAGE)
                else:
                    rows, after = _candidate_page(s, where, after, PAGE)
                values = []
                for c in rows:
                    verdict = classify(c)
                    if verdict is False:
                        continue
                    state = "pending" if verdict is None else "skipped"
                    counts[state] += 1
                    values.append({"batch_id": batch_id, "record_id": c.id, "state": state,
                                   "version": None, "error": None if verdict is None else str(verdict),
                                   "attempts": 0, "updated_at": now})
                if values:
                    s.execute(insert(_ITEMS), values)
            total = counts["pending"] + counts["skipped"]
            s.execute(update(_BATCHES).where(_BATCHES.c.id == batch_id).values(total=total))
            self._audit(s, now, actor, Action.BATCH_START, None, {
                "batch_id": str(batch_id), "kind": kind, "spec": dict(spec), "total": total,
                "skipped": counts["skipped"], "retry_of": str(retry_of) if retry_of else None,
                "cancelled": [str(c) for c in cancelled]})
        return self.batch_get(batch_id)

    def batch_resumed(self, batch_id: uuid.UUID, actor: str) -> BatchInfo:
        """Record (audit ``batch_resume``) that the same command ran again on this batch."""
        now = self._clock()
        with self._write() as s:
            row = s.get(BatchRow, batch_id)
            if row is None:
                raise NotFound(f"no batch {batch_id}")
            self._audit(s, now, actor, Action.BATCH_RESUME, None, {
                "batch_id": str(batch_id), "kind": row.kind, "status": row.status})
        return self.batch_get(batch_id)

    # -- reading ---------------------------------------------------------------------------

    def batch_get(self, batch_id: uuid.UUID) -> BatchInfo:
        with self._read() as s:
            row = s.get(BatchRow, batch_id)
            if row is None:
                raise NotFound(f"no batch {batch_id}")
            return _info(s, row)

    def batch_status(self, batch_id: uuid.UUID) -> str:
        """running | finished | cancelled (one indexed read, no counting: asked per page of items)."""
        with self._read() as s:
            status = s.scalar(select(_BATCHES.c.status).where(_BATCHES.c.id == batch_id))
        if status is None:
            raise NotFound(f"no batch {batch_id}")
        return status

    def batch_items(self, batch_id: uuid.UUID, *, states: Sequence[str] = (),
                    after: uuid.UUID | None = None, limit: int = PAGE) -> list[BatchItem]:
        """Up to ``limit`` items of a batch by record id after ``after`` (keyset paging)."""
        q = select(_ITEMS).where(_ITEMS.c.batch_id == batch_id)
        if states:
            q = q.where(_ITEMS.c.state.in_(list(states)))
        if after is not None:
            q = q.where(_ITEMS.c.record_id > after)
        q = q.order_by(_ITEMS.c.record_id).limit(limit)
        with self._read() as s:
            return [BatchItem(record_id=r.record_id, state=r.state, version=r.version,
                              error=r.error, attempts=r.attempts, updated_at=r.updated_at)
                    for r in s.execute(q)]

    def batch_pending(self, batch_id: uuid.UUID, *, after: uuid.UUID | None = None,
                      limit: int = PAGE) -> list[uuid.UUID]:
        return [i.record_id for i in self.batch_items(batch_id, states=("pending",), after=after,
                                                       limit=limit)]

    def batch_pending_of(self, batch_id: uuid.UUID, record_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Those of ``record_ids`` whose item in the batch is pending."""
        ids = list(record_ids)
        found: set[uuid.UUID] = set()
        with self._read() as s:
            for i in range(0, len(ids), PAGE):
                found.update(s.scalars(select(_ITEMS.c.record_id).where(
                    _ITEMS.c.batch_id == batch_id, _ITEMS.c.state == "pending",
                    _ITEMS.c.record_id.in_(ids[i:i + PAGE]))))
        return found

    def batch_versions(self, batch_id: uuid.UUID) -> list[tuple[uuid.UUID, int]]:
        """(record id, version number) of every version this batch made (tests, reports)."""
        with self._read() as s:
            return [(r.record_id, r.number) for r in s.execute(
                select(_VERSIONS.c.record_id, _VERSIONS.c.number)
                .where(_VERSIONS.c.batch_id == batch_id).order_by(_VERSIONS.c.record_id))]

    # -- one item --------------------------------------------------------------------------

    def batch_add_version(self, batch_id: uuid.UUID, record_id: uuid.UUID, content: NewVersion, *,
                          actor: str, action: Action = Action.REGENERATE,
                          allow_annulled: bool = False,
                          details: Mapping[str, Any] | None = None) -> Version | None:
        """The record's next version, made by this batch, in the transaction that marks its item
        done; None if the item is no longer pending (another worker won, or a retry after a crash
        that had committed). An annulled record (and ``allow_annulled`` false) marks the item
        skipped instead, and None."""
        from store import store as _store

        _store._text("actor", actor, 128)
        pdf_sha256, docx_sha256 = self.blobs.put_many((content.pdf, content.docx))
        try:
            with self._write() as s:
                # the batch row first (PostgreSQL: FOR SHARE; SQLite: writers are serial anyway):
                # a cancellation (--new) committed before this reads is seen, and one in progress
                # waits for this transaction, so a cancelled batch writes no version after it
                status = s.scalar(select(_BATCHES.c.status).where(_BATCHES.c.id == batch_id)
                                  .with_for_update(read=True))
                if status != "running":
                    return None
                # read the clock under that lock (as `_batch_create` does after its cancellation):
                # the version's time then orders it against a newer batch's cancellation, which
                # a time taken before waiting for the lock did not (it could be the later one)
                now = self._clock()
                row = self._locked(s, record_id)
                if row.status == Status.ANNULLED.value and not allow_annulled:
                    _set_item(s, batch_id, record_id, "skipped", now, error="annulled")
                    return None
                number = row.current_version + 1
                if not _set_item(s, batch_id, record_id, "done", now, version=number):
                    return None
                version = _store._version_row(record_id, number, content, pdf_sha256, docx_sha256, now)
                version.batch_id = batch_id
                s.add(version)
                row.current_version = number
                s.flush()
                self._audit(s, now, actor, action, record_id, {
                    "version": number, "pdf_sha256": pdf_sha256, "docx_sha256": docx_sha256,
                    "templates": _store._templates_json(content.templates), "status": row.status,
                    "batch_id": str(batch_id), **dict(details or {})})
                return _store._version(version)
        except IntegrityError:
            # the unique (record_id, batch_id) index: a concurrent attempt committed first
            return None

    def batch_item_started(self, batch_id: uuid.UUID, record_id: uuid.UUID, *, max_attempts: int) -> bool:
        """Count a start on a pending item before a worker renders it (its own transaction), so
        that a record whose processing kills its worker every time (out of memory, a crash in a
        library) does not stall the batch for ever: the start after ``max_attempts`` unfinished
        ones marks it failed instead. True: go on with it; False: it is not pending (done by
        another worker, the batch no longer running) or has just been marked failed."""
        now = self._clock()
        running = select(_BATCHES.c.id).where(_BATCHES.c.id == batch_id, _BATCHES.c.status == "running")
        mine = and_(_ITEMS.c.batch_id == batch_id, _ITEMS.c.record_id == record_id,
                    _ITEMS.c.state == "pending", _ITEMS.c.batch_id.in_(running))
        with self._write() as s:
            if s.execute(update(_ITEMS).where(mine).values(attempts=_ITEMS.c.attempts + 1,
                                                           updated_at=now)).rowcount != 1:
                return False
            attempts = s.scalar(select(_ITEMS.c.attempts).where(mine))
            if attempts <= max_attempts:
                return True
            s.execute(update(_ITEMS).where(mine).values(
                state="failed", updated_at=now,
                error=f"its worker stopped {attempts - 1} times while processing it (killed, or "
                      "crashed by it: e.g. out of memory); not tried again in this batch"))
            return False

    def batch_item_failed(self, batch_id: uuid.UUID, record_id: uuid.UUID, reason: str) -> bool:
        """Mark a pending item failed with ``reason``; False if it was not pending."""
        with self._write() as s:
            return _set_item(s, batch_id, record_id, "failed", self._clock(), error=reason[:10_000])

    def batch_item_skipped(self, batch_id: uuid.UUID, record_id: uuid.UUID, reason: str) -> bool:
        with self._write() as s:
            return _set_item(s, batch_id, record_id, "skipped", self._clock(), error=reason[:10_000])

    def batch_finish_if_done(self, batch_id: uuid.UUID, actor: str) -> bool:
        """Mark a running batch finished (with its ``batch_finish`` audit event) once no item is
        pending; True if this call did it."""
        now = self._clock()
        with self._write() as s:
            pending = s.scalar(select(func.count()).select_from(_ITEMS).where(
                _ITEMS.c.batch_id == batch_id, _ITEMS.c.state == "pending"))
            if pending:
                return False
            done = s.execute(update(_BATCHES).where(_BATCHES.c.id == batch_id,
                                                    _BATCHES.c.status == "running")
                             .values(status="finished", finished_at=now))
            if done.rowcount != 1:
                return False
            counts = _counts(s, batch_id)
            self._audit(s, now, actor, Action.BATCH_FINISH, None, {
                "batch_id": str(batch_id), "done": counts.get("done", 0),
                "failed": counts.get("failed", 0), "skipped": counts.get("skipped", 0)})
            return True


# -- internals -------------------------------------------------------------------------------


_END = object()                  # a paging cursor past the last page
# whether the record's officials sign it themselves (it has a signing state: store.signing)
_OFFICIALS = (exists().where(SigningStateRow.__table__.c.record_id == _RECORDS.c.id)
              .label("officials"))


def _candidate_page(s: Session, where: RecordFilter, after: uuid.UUID | None,
                    limit: int) -> tuple[list[Candidate], Any]:
    """One page of matching records after ``after`` and the cursor of the next page (`_END`)."""
    r, v = _RECORDS, _VERSIONS
    q = (select(r.c.id, r.c.type, r.c.language, r.c.status, v.c.templates, _OFFICIALS)
         .join(v, and_(v.c.record_id == r.c.id, v.c.number == r.c.current_version)))
    if where.types:
        q = q.where(r.c.type.in_(list(where.types)))
    if where.languages:
        q = q.where(r.c.language.in_(list(where.languages)))
    if where.statuses:
        q = q.where(r.c.status.in_(list(where.statuses)))
    if where.created_from is not None:
        q = q.where(r.c.created_at >= where.created_from)
    if where.created_to is not None:
        q = q.where(r.c.created_at < where.created_to)
    if where.ids:                # a slice of the id list per page, whatever matches of it
        ids = sorted(set(where.ids))
        if after is not None:
            ids = [i for i in ids if i > after]
        page = ids[:limit]
        if not page:
            return [], _END
        rows = _rows(s, q.where(r.c.id.in_(page)).order_by(r.c.id))
        return rows, (page[-1] if len(ids) > limit else _END)
    if after is not None:
        q = q.where(r.c.id > after)
    rows = _rows(s, q.order_by(r.c.id).limit(limit))
    return rows, (rows[-1].id if len(rows) == limit else _END)


def _rows(s: Session, q) -> list[Candidate]:
    return [Candidate(id=x.id, type=x.type, language=x.language, status=x.status,
                      templates=x.templates, officials_signed=bool(x.officials))
            for x in s.execute(q)]


def _failed_page(s: Session, batch_id: uuid.UUID, after: uuid.UUID | None,
                 limit: int) -> tuple[list[Candidate], Any]:
    r, v, i = _RECORDS, _VERSIONS, _ITEMS
    # a failed item that an earlier retry of the same batch has since done is not taken again
    later, retry = _ITEMS.alias("later"), _BATCHES.alias("retry")
    fixed = exists().where(later.c.record_id == r.c.id, later.c.state == "done",
                           later.c.batch_id == retry.c.id, retry.c.retry_of == batch_id)
    q = (select(r.c.id, r.c.type, r.c.language, r.c.status, v.c.templates, _OFFICIALS)
         .join(i, and_(i.c.record_id == r.c.id, i.c.batch_id == batch_id, i.c.state == "failed"))
         .join(v, and_(v.c.record_id == r.c.id, v.c.number == r.c.current_version))
         .where(~fixed))
    if after is not None:
        q = q.where(r.c.id > after)
    rows = _rows(s, q.order_by(r.c.id).limit(limit))
    return rows, (rows[-1].id if len(rows) == limit else _END)


def _set_item(s: Session, batch_id: uuid.UUID, record_id: uuid.UUID, state: str, now: dt.datetime,
              *, version: int | None = None, error: str | None = None) -> bool:
    """pending → ``state``; False if the item was not pending (or its batch is not running)."""
    running = select(_BATCHES.c.id).where(_BATCHES.c.id == batch_id, _BATCHES.c.status == "running")
    done = s.execute(update(_ITEMS)
                     .where(_ITEMS.c.batch_id == batch_id, _ITEMS.c.record_id == record_id,
                            _ITEMS.c.state == "pending", _ITEMS.c.batch_id.in_(running))
                     .values(state=state, version=version, error=error,
                             # a start counted it already (batch_item_started); else this is one
                             attempts=case((_ITEMS.c.attempts == 0, 1), else_=_ITEMS.c.attempts),
                             updated_at=now))
    return done.rowcount == 1


def _counts(s: Session, batch_id: uuid.UUID) -> dict[str, int]:
    return {state: n for state, n in s.execute(
        select(_ITEMS.c.state, func.count()).where(_ITEMS.c.batch_id == batch_id)
        .group_by(_ITEMS.c.state))}


def _info(s: Session, row: BatchRow) -> BatchInfo:
    return BatchInfo(id=row.id, kind=row.kind, spec=row.spec, spec_hash=row.spec_hash,
                     status=row.status, actor=row.actor, retry_of=row.retry_of, total=row.total,
                     created_at=row.created_at, finished_at=row.finished_at,
                     counts=_counts(s, row.id))


def _new_batch_id(now: dt.datetime) -> uuid.UUID:
    from store.store import _new_id

    return _new_id(now)
