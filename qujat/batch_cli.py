"""`qujat regenerate`, `qujat worker` and `qujat batch-shard`: batch regeneration from the shell.

`regenerate` chooses records by filters, creates the batch (or resumes the unfinished batch of
the same filters), has it done by ``--workers`` processes with a progress bar, and writes the
report (``batch-<id>.json`` and ``.csv``: every record with done / failed / skipped and why).
`worker` runs a procrastinate worker for PostgreSQL deployments (any machine that reaches the
database and the blob folder). `batch-shard` is the local worker `regenerate` starts on SQLite.

Exit codes of `regenerate`: 0 the batch finished without failures (or a dry run), 3 it finished
with failed records (listed in the report; ``--retry-failed BATCH`` retries them), 1 records are
still pending (the workers gave up: run the same command again to resume), 2 bad arguments.
"""
from __future__ import annotations

import csv
import json
import sys
import uuid
from pathlib import Path

from qujat.settings import Settings

__all__ = ["register"]

EXIT_FAILURES, EXIT_UNFINISHED, EXIT_INVALID = 3, 1, 2


class _BadIdsFile(ValueError):
    """Lines of --ids-file that are not record ids (FILE:LINE: text)."""


def _ids_file(path: str) -> list[str]:
    """The record ids of an ids file: one per line; blank lines, ``#`` comments, a byte-order
    mark and CRLF line ends are fine; any other line that is not a UUID is named with its line
    number (the batch's own check would name a position among the sorted unique ids)."""
    ids, bad = [], []
    for n, line in enumerate(Path(path).read_text("utf-8-sig").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            ids.append(str(uuid.UUID(text)))
        except ValueError:
            bad.append(f"{path}:{n}: not a record id (UUID): {text[:60]!r}")
    if bad:
        raise _BadIdsFile("\n".join(bad[:20] + ([f"… and {len(bad) - 20} more"] if len(bad) > 20 else [])))
    return ids


def _spec_json(args) -> dict:
    ids = list(args.id or [])
    if args.ids_file:
        ids += _ids_file(args.ids_file)
    raw = {"kind": "extend_ltv" if args.extend_ltv else "regenerate",
           "types": args.type or None, "languages": args.language or None,
           "issued_from": args.issued_from, "issued_to": args.issued_to,
           "below_current_template": args.below_current_template, "ids": ids or None,
           "include_annulled": args.include_annulled}
    if args.status:
        raw["statuses"] = args.status
    return {k: v for k, v in raw.items() if v is not None}


def _invalid(e) -> int:
    print(f"qujat regenerate: invalid batch ({len(e.problems)} problem(s)):", file=sys.stderr)
    for p in e.problems:
        print(f"  {p}", file=sys.stderr)
    return EXIT_INVALID


def cmd_regenerate(args) -> int:
    from docgen.errors import RequestInvalid
    from qujat import batches
    from qujat.runtime import open_runtime
    from qujat.service import Caller
    from store import NotFound

    settings = Settings.from_env()
    if args.workers < 0:
        print("qujat regenerate: --workers must be 0 or more", file=sys.stderr)
        return EXIT_INVALID
    try:
        spec = batches.BatchSpec.from_json(_spec_json(args))
        retry_of = uuid.UUID(args.retry_failed) if args.retry_failed else None
    except RequestInvalid as e:
        return _invalid(e)
    except OSError as e:
        print(f"qujat regenerate: cannot read --ids-file: {e.strerror}", file=sys.stderr)
        return EXIT_INVALID
    except UnicodeDecodeError:
        print("qujat regenerate: --ids-file is not UTF-8 text", file=sys.stderr)
        return EXIT_INVALID
    except _BadIdsFile as e:
        print(f"qujat regenerate: invalid --ids-file:\n{e}", file=sys.stderr)
        return EXIT_INVALID
    except ValueError:
        print("qujat regenerate: --retry-failed takes a batch id (UUID)", file=sys.stderr)
        return EXIT_INVALID
    local = args.workers == 0 and not args.dry_run
    # the coordinator renders only when it works alone on SQLite
    in_process = local and not settings.effective_database_url.startswith("postgres")
    with open_runtime(settings, convert=in_process, sign=in_process or spec.kind.value == "extend_ltv",
                      store=True) as rt:
        if args.dry_run:
            try:
                print(json.dumps(batches.plan(rt, spec).to_json(), ensure_ascii=False, indent=2))
            except RequestInvalid as e:
                return _invalid(e)
            return 0
        caller = Caller.command_line()
        try:
            if retry_of is not None:
                batch, resumed = batches.retry_failed(rt, retry_of, caller=caller), False
            else:
                batch, resumed = batches.start(rt, spec, caller=caller, new=args.new)
        except RequestInvalid as e:
            return _invalid(e)
        except NotFound as e:
            print(f"qujat regenerate: {e}", file=sys.stderr)
            return EXIT_INVALID
        print(f"batch {batch.id} {'resumed' if resumed else 'started'}: {batch.total} record(s), "
              f"{batch.pending} to do", file=sys.stderr, flush=True)
        final = _run_with_progress(rt, batch, args)
        json_path, csv_path = _write_report(rt, final, Path(args.report_dir))
    print(json.dumps({"batch": str(final.id), "status": final.status, "total": final.total,
                      "done": final.done, "failed": final.failed, "skipped": final.skipped,
                      "pending": final.pending, "report_json": str(json_path),
                      "report_csv": str(csv_path)}, ensure_ascii=False))
    if final.status == "cancelled":
        print(f"qujat regenerate: batch {final.id} was cancelled (a newer batch of the same filters, "
              f"--new, took over); {final.pending} of its record(s) were left to that batch",
              file=sys.stderr)
    if final.pending:
        return EXIT_UNFINISHED
    return EXIT_FAILURES if final.failed else 0


def _run_with_progress(rt, batch, args):
    from qujat import batches

    if args.no_progress or not sys.stderr.isatty():
        return batches.run(rt, batch.id, workers=args.workers)
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} rec/s"), TextColumn("failed {task.fields[failed]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"batch {str(batch.id)[:8]}", total=batch.total,
                            completed=batch.total - batch.pending, rate="–", failed=batch.failed)

        def update(p) -> None:
            speed = bar.tasks[0].speed
            bar.update(task, completed=p.total - p.pending, failed=p.failed,
                       rate=f"{speed:.1f}" if speed else "–")

        return batches.run(rt, batch.id, workers=args.workers, on_progress=update)


def _write_report(rt, final, out: Path) -> tuple[Path, Path]:
    """batch-<id>.json (the batch and every item) and batch-<id>.csv (the items), streamed."""
    from qujat import batches

    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / f"batch-{final.id}.json", out / f"batch-{final.id}.csv"
    with json_path.open("w", encoding="utf-8") as j, csv_path.open("w", encoding="utf-8", newline="") as c:
        writer = csv.writer(c)
        writer.writerow(batches.ItemReport.CSV_HEADER)
        head = json.dumps(final.to_json(), ensure_ascii=False)
        j.write(head[:-1] + ', "items": [')
        for n, item in enumerate(batches.items(rt, final.id)):
            j.write(("," if n else "") + "\n  " + json.dumps(item.to_json(), ensure_ascii=False))
            writer.writerow(item.csv_row())
        j.write("\n]}\n")
    return json_path, csv_path


def cmd_worker(args) -> int:
    from qujat import jobs
    from qujat.runtime import open_runtime

    settings = Settings.from_env()
    if not settings.effective_database_url.startswith("postgres"):
        print("qujat worker: batch workers need DATABASE_URL=postgresql://… (on SQLite, "
              "`qujat regenerate --workers N` starts its own workers)", file=sys.stderr)
        return EXIT_INVALID
    with open_runtime(settings, convert=True, sign=True, store=True) as rt:
        # one job more than LibreOffice workers: one signs and stores while the others convert
        jobs.run_worker(rt, name=args.name, concurrency=args.concurrency or settings.pool_size + 1,
                        parent=args.parent)
    return 0


def cmd_batch_shard(args) -> int:
    from qujat import batches
    from qujat.runtime import open_runtime

    settings = Settings.from_env()
    with open_runtime(settings, convert=True, sign=True, store=True) as rt:
        batches.shard_worker(rt, uuid.UUID(args.batch), args.shard, args.shards, parent=args.parent)
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "regenerate", help="regenerate (or extend to B-LTA) archived records in a resumable batch",
        description="Choose records by filters and give each exactly one new version: rendered "
                    "with the current templates and signed again (same token, old versions kept), "
                    "or, with --extend-ltv, its current version extended to B-LTA. The same "
                    "command again resumes the unfinished batch of the same filters. Report: "
                    "batch-<id>.json and .csv in --report-dir. Exit 0 done, 3 done with failed "
                    "records, 1 records still pending, 2 bad arguments.")
    p.add_argument("--type", action="append", metavar="TYPE", help="document type (repeatable)")
    p.add_argument("--language", action="append", metavar="LANG", help="kk, ru or kk+ru (repeatable)")
    p.add_argument("--status", action="append", metavar="STATUS",
                   help="valid, superseded or annulled (repeatable; default: valid)")
    p.add_argument("--issued-from", metavar="YYYY-MM-DD", help="issued on or after (Kazakhstan's date)")
    p.add_argument("--issued-to", metavar="YYYY-MM-DD", help="issued on or before (Kazakhstan's date)")
    p.add_argument("--below-current-template", action="store_true",
                   help="only records whose current version used an older template version")
    p.add_argument("--id", action="append", metavar="UUID", help="a record id (repeatable)")
    p.add_argument("--ids-file", metavar="FILE", help="record ids, one per line")
    p.add_argument("--include-annulled", action="store_true", help="do annulled records too (else skipped)")
    p.add_argument("--extend-ltv", action="store_true",
                   help="extend current versions to B-LTA instead of re-rendering (needs QUJAT_TSA_URL)")
    p.add_argument("--dry-run", action="store_true", help="print the count and a sample; change nothing")
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes on this machine (default 2; 0: this process alone on "
                        "SQLite, only workers started elsewhere on PostgreSQL)")
    p.add_argument("--new", action="store_true", help="a new batch even if one with these filters is unfinished")
    p.add_argument("--retry-failed", metavar="BATCH", help="a new batch over the failed records of BATCH")
    p.add_argument("--report-dir", default=".", metavar="DIR", help="where the report goes (default: .)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_regenerate)

    p = sub.add_parser("worker", help="run a batch worker (procrastinate; DATABASE_URL=postgresql://…)",
                       description="Take batch jobs from the queue in the PostgreSQL database until "
                                   "SIGTERM; blobs in QUJAT_DATA_DIR/blobs (a shared mount when "
                                   "workers run on several machines).")
    p.add_argument("--concurrency", type=int,
                   help="jobs at once (default: QUJAT_POOL_SIZE + 1, one more than the LibreOffice "
                        "workers of this process)")
    p.add_argument("--name", help="the worker's name in the audit trail (default: host:pid)")
    p.add_argument("--parent", type=int, help="stop when this process is gone (used by `regenerate`)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("batch-shard", help="(internal) one local worker of `regenerate` on SQLite")
    p.add_argument("batch")
    p.add_argument("shard", type=int)
    p.add_argument("shards", type=int)
    p.add_argument("--parent", type=int)
    p.set_defaults(func=cmd_batch_shard)
