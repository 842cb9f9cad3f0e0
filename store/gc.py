"""Collecting orphan blobs: files of the blob store that nothing refers to.

A write puts its files into the blob store before its transaction (store.store's docstring), so a
process killed in between (an issuance, a batch attempt, a signature being accepted) leaves blobs
that no row names. `collect` finds and deletes them:

- referenced is every hash a row names: versions' PDF and DOCX, signing states' prepared PDF and
  DOCX, and the hashes audit events name (`AUDIT_KEYS`: e.g. the prepared PDF an official was
  shown at an earlier step stays, as evidence of what was signed);
- a blob is deleted only if nothing refers to it AND its last use (written, or claimed by a put
  that found it there: store.blobs) is older than the grace period, so that a blob a live
  transaction is about to refer to is never touched;
- the times and the cut-off are the file system's clock (a file server's on a shared mount),
  never a machine's own, which may be off by more than the grace period;
- temporary files of killed writes older than the grace period go too;
- every deleted blob is named by a ``blobs_collected`` audit event (one per 1,000 deleted);
- a dry run changes nothing in the blob folder (no rename, no probe file);
- `check_pairing` refuses a database and a blob folder that are not one archive's (`qujat
  gc-blobs` runs it first).

The references are read as one sorted stream and merged with the blob files, which the blob
store lists in the same order: memory does not grow with the archive.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select, union
from sqlalchemy.engine import Connection

from store.blobs import BlobStore
from store.errors import StoreError
from store.orm import AuditRow, SigningStateRow, VersionRow

__all__ = ["GcReport", "collect", "check_grace", "check_pairing", "WrongDatabase", "referenced_hashes",
           "AUDIT_KEYS", "MIN_GRACE", "DEFAULT_GRACE"]

AUDIT_KEYS = ("pdf_sha256", "docx_sha256", "prepared_pdf_sha256", "signed_pdf_sha256")
DEFAULT_GRACE = dt.timedelta(hours=24)
MIN_GRACE = dt.timedelta(minutes=10)     # longer than any write's put-to-commit
LISTED = 1000                            # deleted hashes named in the audit event, at most


@dataclass
class GcReport:
    """What a collection found and did (counts and bytes)."""

    dry_run: bool
    older_than: dt.timedelta
    blobs: int = 0                       # blob files seen
    blob_bytes: int = 0
    referenced: int = 0                  # of them, named by a row
    young: int = 0                       # unreferenced but used within the grace period: kept
    young_bytes: int = 0
    orphans: int = 0                     # unreferenced and older than the grace period
    orphan_bytes: int = 0
    temporary: int = 0                   # temporary files of killed writes, older than the grace
    temporary_bytes: int = 0
    deleted: int = 0                     # files deleted (orphans and temporary files)
    deleted_bytes: int = 0
    claimed: int = 0                     # orphans a put claimed while we looked: kept
    deleted_names: list[str] = field(default_factory=list)   # blob hashes (see `collect`)

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "deleted_names"}
        out["older_than"] = self.older_than.total_seconds()
        return out


def referenced_hashes(conn: Connection) -> Iterator[str]:
    """Every blob hash a row names, each once, in ascending byte order."""
    v, s, a = VersionRow.__table__, SigningStateRow.__table__, AuditRow.__table__
    parts = [select(v.c.pdf_sha256.label("h")), select(v.c.docx_sha256),
             select(s.c.pdf_sha256), select(s.c.docx_sha256)]
    for key in AUDIT_KEYS:
        value = a.c.details[key].as_string()
        parts.append(select(value).where(value.is_not(None)))
    u = union(*parts).subquery()
    order = u.c.h.collate("C") if conn.dialect.name == "postgresql" else u.c.h
    rows = conn.execution_options(stream_results=True, yield_per=2000).execute(
        select(u.c.h).where(u.c.h.is_not(None)).order_by(order))
    for (h,) in rows:
        yield h


class WrongDatabase(StoreError):
    """The database and the blob folder are not one archive's: a collection would delete blobs
    another database names."""


PAIRING_SAMPLE = 20


def check_pairing(conn: Connection, blobs: BlobStore) -> None:
    """`WrongDatabase` unless ``conn``'s database and ``blobs`` are one archive's: the database
    names no blob while the folder holds blobs (a process started without DATABASE_URL opened
    a new, empty SQLite database), or none of the first `PAIRING_SAMPLE` blobs its versions and
    signing states name is in the folder (another archive's database). A collection that
    compares the wrong pair deletes every blob older than its grace period."""
    v, s = VersionRow.__table__, SigningStateRow.__table__
    named = [h for table in (v, s)
             for (h,) in conn.execute(select(table.c.pdf_sha256).limit(PAIRING_SAMPLE)) if h]
    if not named:
        if any(not f.temporary for f in blobs.scan(restore=False)):
            raise WrongDatabase("the database names no blob, yet the blob folder holds blob files: "
                                "is this the archive's database (DATABASE_URL)?")
        return
    if not any(blobs.exists(h) for h in named):
        raise WrongDatabase(f"none of the {len(named)} blobs the database names first is in the "
                            "blob folder: are the database (DATABASE_URL) and the data folder "
                            "(QUJAT_DATA_DIR) one archive's?")


def check_grace(older_than: dt.timedelta, *, name: str = "older_than") -> None:
    """ValueError (``name``: how the caller calls the grace period) if it is below `MIN_GRACE`."""
    if older_than < MIN_GRACE:
        raise ValueError(f"{name}: at least {MIN_GRACE.total_seconds() / 60:g}m (a write's files "
                         "must outlive its transaction)")


def collect(conn: Connection, blobs: BlobStore, report: GcReport, *,
            audit: Callable[[GcReport], None] | None = None) -> GcReport:
    """Find (and unless ``report.dry_run`` delete) the blobs nothing refers to, unused for
    longer than ``report.older_than``, counting into ``report`` as it goes (what was deleted
    before an error is in it); ``conn`` is a reading connection. The file times are the file
    system's, so the cut-off is too (`BlobStore.clock_ns`: on a shared mount, the file server's
    clock, whatever this machine's says).
    ``audit``: called with the report each time ``LISTED`` blobs were deleted (their hashes
    in ``report.deleted_names``, emptied after the call), so that every deleted blob is named
    by some audit event, also in a long run killed part-way; without it only the first
    ``LISTED`` are named."""
    check_grace(report.older_than)
    # a dry run writes no probe file: it counts by this machine's clock
    now_ns = time.time_ns() if report.dry_run else blobs.clock_ns()
    cutoff = now_ns - int(report.older_than.total_seconds() * 1e9)
    refs = referenced_hashes(conn)
    ref, previous = next(refs, None), ""
    # a dry run changes nothing, not even a killed collection's taken-out blob put back
    for blob in (blobs.scan(restore=False) if report.dry_run else blobs.scan()):
        if blob.temporary:
            if blob.last_used_ns < cutoff:
                report.temporary += 1
                report.temporary_bytes += blob.size
                _delete(blobs, blob.name, cutoff, report, audit)
            continue
        report.blobs += 1
        report.blob_bytes += blob.size
        while ref is not None and ref < blob.name:
            previous, ref = ref, next(refs, None)
            if ref is not None and ref <= previous:
                raise StoreError("the database did not list the blob hashes in byte order; "
                                 "nothing more is deleted")
        if ref == blob.name:
            report.referenced += 1
        elif blob.last_used_ns >= cutoff:
            report.young += 1
            report.young_bytes += blob.size
        else:
            report.orphans += 1
            report.orphan_bytes += blob.size
            _delete(blobs, blob.name, cutoff, report, audit)
    return report


def _delete(blobs: BlobStore, name: str, cutoff: int, report: GcReport,
            audit: Callable[[GcReport], None] | None) -> None:
    if report.dry_run:
        return
    freed = blobs.remove_unused(name, unused_since_ns=cutoff)
    if freed is None:
        report.claimed += 1
        return
    report.deleted += 1
    report.deleted_bytes += freed
    if "/" not in name and len(report.deleted_names) < LISTED:      # a blob, not a temporary file
        report.deleted_names.append(name)
        if audit is not None and len(report.deleted_names) == LISTED:
            audit(report)
            report.deleted_names.clear()
