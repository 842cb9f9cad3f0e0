"""`qujat gc-blobs`: delete the blob files nothing refers to (files a process killed between
writing them and committing its transaction left), once they are older than a grace period.

A thin shell over `store.Store.collect_blobs` (store.gc): it opens the store through the
composition root, prints counts and bytes (or JSON) and exits 0; 2 on a bad argument or setting,
and when the database and the blob folder are not one archive's (`Store.check_blob_pairing`: a
cron job without DATABASE_URL would otherwise compare the archive with a new, empty database).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys

from qujat.settings import Settings

__all__ = ["register", "parse_duration"]

EXIT_INVALID = 2
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> dt.timedelta:
    """``90m``, ``24h``, ``2d``, ``1h30m``, ``3600s`` (a bare number is seconds)."""
    text = text.strip().lower()
    if re.fullmatch(r"[0-9]+", text):
        text += "s"
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (e.g. 24h, 90m, 2d, 1h30m)")
    try:
        return dt.timedelta(seconds=sum(float(n) * _UNIT[u] for n, u in parts))
    except OverflowError:
        raise ValueError(f"too long: {text!r}") from None


def cmd_gc_blobs(args) -> int:
    from qujat.runtime import open_runtime
    from qujat.service import Caller
    from store.gc import WrongDatabase, check_grace

    try:
        older_than = parse_duration(args.older_than)
    except ValueError as e:
        print(f"qujat gc-blobs: --older-than: {e}", file=sys.stderr)
        return EXIT_INVALID
    try:
        check_grace(older_than, name="--older-than")
    except ValueError as e:
        print(f"qujat gc-blobs: {e}", file=sys.stderr)
        return EXIT_INVALID
    settings = Settings.from_env()
    with open_runtime(settings, convert=False, store=True) as rt:
        try:
            rt.store.check_blob_pairing()
        except WrongDatabase as e:
            print(f"qujat gc-blobs: {e} Nothing was deleted.", file=sys.stderr)
            return EXIT_INVALID
        report = rt.store.collect_blobs(actor=Caller.command_line().actor,
                                        older_than=older_than, dry_run=args.dry_run)
    if args.json:
        print(json.dumps({**report.to_json(), "deleted_sha256": report.deleted_names}))
        return 0
    verb = "would delete" if args.dry_run else "deleted"
    print(f"blob files:      {report.blobs} ({_size(report.blob_bytes)}), "
          f"{report.referenced} referenced")
    print(f"unreferenced, used within {_span(older_than)} (kept): {report.young} "
          f"({_size(report.young_bytes)})")
    print(f"unreferenced, older (orphans): {report.orphans} ({_size(report.orphan_bytes)})")
    print(f"temporary files of killed writes, older: {report.temporary} "
          f"({_size(report.temporary_bytes)})")
    if args.dry_run:
        print(f"{verb}: {report.orphans + report.temporary} files "
              f"({_size(report.orphan_bytes + report.temporary_bytes)}); nothing deleted (--dry-run)")
    else:
        print(f"{verb}: {report.deleted} files ({_size(report.deleted_bytes)})"
              + (f"; {report.claimed} kept: reused while this ran" if report.claimed else ""))
    return 0


def _size(n: int) -> str:
    """``1094 bytes, 1.1 KiB``: exact, then readable."""
    if n < 1024:
        return f"{n} bytes"
    value, unit = float(n), "bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024:
            break
    return f"{n} bytes, {value:.1f} {unit}"


def _span(d: dt.timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


DESCRIPTION = (
    "List the blob files (PDF, DOCX) that no version, signing state or audit event names and "
    "that were last written or reused longer ago than --older-than (files left by a process "
    "killed before its transaction committed), and the temporary files of killed writes; print "
    "their counts and bytes and delete them unless --dry-run. A blob a live transaction is about "
    "to refer to is never deleted: it is younger than the grace period. Every deleted blob is "
    "named by a `blobs_collected` audit event (one per 1,000 deleted, and one at the end). "
    "Refused (status 2, nothing deleted) when the database names no blob while the folder holds "
    "some, or none of the folder's: run it with the service's DATABASE_URL and QUJAT_DATA_DIR.")


def register(sub) -> None:
    p = sub.add_parser("gc-blobs", description=DESCRIPTION,
                       help="delete blob files no version or signing state refers to")
    p.add_argument("--older-than", default="24h", metavar="DURATION",
                   help="grace period: only files unused for longer (default 24h; at least 10m; "
                        "e.g. 90m, 2d, 1h30m)")
    p.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    p.add_argument("--json", action="store_true",
                   help="the report as one JSON object (deleted_sha256: the blobs deleted since "
                        "the run's last audit event, at most 1,000; the audit trail names all)")
    p.set_defaults(func=cmd_gc_blobs)
