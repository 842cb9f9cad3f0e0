"""`/batches`: regeneration (and LTV-extension) batches over HTTP, scope ``batches:run``.

``POST /batches`` takes a batch's filters (`qujat.batches.BatchSpec`'s JSON) and three options of
the request itself — ``dry_run`` (count and sample, nothing created), ``new`` (a new batch even if
an unfinished one has the same filters) and ``retry_failed`` (a batch id: retry just its failed
records, no filters) — and hands the batch on (`Runner`: procrastinate jobs on PostgreSQL, done by
`qujat worker` processes; on SQLite a thread of this process, stopped after its current record
when the app shuts down, so that nothing is marked failed by a restart). ``GET /batches/{id}`` is
its live progress with rate and ETA; ``GET /batches/{id}/items`` streams the per-record report as
JSON lines or CSV. Every rule (filters, resumption, exactly one version per record, the audit
events) lives in `qujat.batches`.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from docgen.errors import RequestInvalid
from qujat import batches, service
from qujat.api.auth import require, runtime
from qujat.api.errors import ApiError
from qujat.api.schemas import ErrorOut
from store import ApiKey, NotFound

__all__ = ["router", "Runner", "RUN", "MAX_REQUEST_BYTES"]

RUN = "batches:run"
MAX_REQUEST_BYTES = 4 * 1024 * 1024     # an explicit id list of ~100,000 records fits
RATE_WINDOW_S = 60.0                     # GET /batches/{id}: the rate over the last minute of polls
_OPTIONS = ("dry_run", "new", "retry_failed")
JSONL = "application/x-ndjson"
CSV = "text/csv; charset=utf-8"

_errors = {status: {"model": ErrorOut} for status in (401, 403, 404, 422)}
router = APIRouter(prefix="/batches", tags=["batches"], responses=_errors)


# -- what the API answers --------------------------------------------------------------------------


class FailureOut(BaseModel):
    record_id: uuid.UUID
    reason: str = Field(description="why the record could not be regenerated (e.g. its data no "
                                    "longer pass the current rules)")


class BatchOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="regenerate | extend_ltv")
    status: Literal["running", "finished", "cancelled"]
    spec: dict[str, Any] = Field(description="the batch's filters, as given (normalised)")
    total: int = Field(description="records the filters selected when the batch was created")
    done: int = Field(description="records that got their new version")
    failed: int
    skipped: int = Field(description="e.g. annulled meanwhile, or already at the current template")
    pending: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    retry_of: uuid.UUID | None = Field(description="the batch whose failures this one retries")
    rate_per_s: float | None = Field(description="records processed (done, failed or skipped) per "
                                                 "second: while running, over the last minute of "
                                                 "polls (the first poll: since the batch was created); "
                                                 "finished, over the batch's life")
    eta_s: float | None = Field(description="seconds until the pending records are processed at "
                                            "that rate; null unless running")
    failures: list[FailureOut] = Field(description=f"the first {batches.FAILURES_SHOWN} failures with their "
                                                   "reasons (every one: links.items)")
    links: dict[str, str] = Field(description="self, items (the report as JSON lines or CSV)")


class DryRunOut(BaseModel):
    dry_run: Literal[True] = True
    spec: dict[str, Any] = Field(description="the filters, normalised as a batch would keep them")
    count: int = Field(description="records a batch with these filters would regenerate now")
    skipped_annulled: int = Field(description="annulled records the filters match, which a batch "
                                              "would list as skipped (include_annulled: false)")
    sample: list[uuid.UUID] = Field(description=f"up to {batches.SAMPLE} of the record ids")


# -- the request body, for the OpenAPI document ------------------------------------------------------

_STRINGS = {"type": "array", "items": {"type": "string"}}
_BODY_SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["regenerate", "extend_ltv"], "default": "regenerate",
                 "description": "regenerate: a new version rendered with the current templates and "
                                "signed again (same token); extend_ltv: the current version extended "
                                "to B-LTA, no re-rendering"},
        "types": {**_STRINGS, "description": "document types; empty: every type"},
        "languages": {**_STRINGS, "description": "kk, ru, kk+ru; empty: every language"},
        "statuses": {**_STRINGS, "default": ["valid"], "description": "record statuses"},
        "issued_from": {"type": "string", "format": "date", "description": "issued on or after"},
        "issued_to": {"type": "string", "format": "date", "description": "issued on or before"},
        "below_current_template": {"type": "boolean", "default": False,
                                   "description": "only records whose current version was filled "
                                                  "from an older template than the current one"},
        "ids": {"type": "array", "items": {"type": "string", "format": "uuid"},
                "description": "an explicit list of record ids (with the other filters)"},
        "include_annulled": {"type": "boolean", "default": False,
                             "description": "annulled records are skipped unless this is true"},
        "dry_run": {"type": "boolean", "default": False,
                    "description": "count and sample the records the filters select; nothing is created"},
        "new": {"type": "boolean", "default": False,
                "description": "start a new batch even if an unfinished one has the same filters "
                               "(without it, that one is resumed: 200)"},
        "retry_failed": {"type": "string", "format": "uuid",
                         "description": "retry just the failed records of this batch (a new batch "
                                        "whose retry_of is it); no filters with it"},
    },
}
_EXAMPLES = {
    "land_right_acts": {"summary": "regenerate every valid land-right act issued in 2026",
                        "value": {"types": ["land_right_act"], "issued_from": "2026-01-01",
                                  "issued_to": "2026-12-31"}},
    "outdated": {"summary": "every record filled from an older template, Kazakh and bilingual",
                 "value": {"languages": ["kk", "kk+ru"], "below_current_template": True}},
    "dry_run": {"summary": "how many records, and which, without creating anything",
                "value": {"types": ["address_certificate"], "dry_run": True}},
    "ids": {"summary": "an explicit list, annulled records included, always a new batch",
            "value": {"ids": ["0193a6f4-6c1e-7d35-9a4b-2f0e8c1d5b77"], "include_annulled": True,
                      "new": True}},
    "retry": {"summary": "retry the failures of an earlier batch",
              "value": {"retry_failed": "0193a6f5-0a2b-7c44-8e19-6d3f2a7b9c01"}},
    "extend_ltv": {"summary": "extend every valid version to B-LTA (no re-rendering)",
                   "value": {"kind": "extend_ltv"}},
}
_REQUEST_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": _BODY_SCHEMA, "examples": _EXAMPLES}}}}


# -- the endpoints -------------------------------------------------------------------------------


@router.post(
    "", status_code=202, response_model=BatchOut,
    summary="Start (or resume) a batch; or count what it would select (dry run)",
    description="The body is the batch's filters plus `dry_run`, `new` and `retry_failed`. 202 with "
                "the new batch, which runs in the background (poll links.self); 200 with the "
                "unfinished batch of the same filters, resumed (unless `new`); `dry_run`: 200 with the "
                "count and a sample, nothing created. Bad filters: 422 with the field paths.",
    responses={200: {"model": BatchOut | DryRunOut,
                     "description": "resumed: the unfinished batch with the same filters (BatchOut); "
                                    "a dry run: the count and a sample (DryRunOut)"},
               202: {"description": "a new batch, running in the background (Location: links.self)"},
               413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
    openapi_extra=_REQUEST_BODY)
async def post_batch(request: Request, key: ApiKey = Depends(require(RUN))) -> Response:
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send the batch as application/json")
    body = _body(await request.body())
    options, filters = _options(body)
    rt, caller = runtime(request), service.Caller.from_api_key(key)
    if options["retry_failed"] is not None:
        status, answer = await run_in_threadpool(_retry, rt, runner(request), options["retry_failed"], caller)
    elif options["dry_run"]:
        status, answer = 200, await run_in_threadpool(_dry_run, rt, filters)
    else:
        status, answer = await run_in_threadpool(_start, rt, runner(request), filters, caller, options["new"])
    headers = {"Location": answer["links"]["self"]} if status == 202 else {}
    return JSONResponse(answer, status_code=status, headers=headers)


@router.get("/{batch_id}", response_model=BatchOut, summary="A batch's live progress")
def get_batch(batch_id: str, request: Request, key: ApiKey = Depends(require(RUN))) -> dict:
    rt = runtime(request)
    p = batches.progress(rt, _batch_id(batch_id))
    recent = _rates(request).recent(p.id, p.done + p.failed + p.skipped, p.status == "running")
    return batch_out(p, rt.clock(), recent)


@router.get(
    "/{batch_id}/items", response_class=Response,
    summary="The batch's report, one line per record: JSON lines or CSV",
    description="`?format=jsonl` or `?format=csv`; without it, `Accept: text/csv` gives CSV and "
                "anything else JSON lines. Streamed: a report of a million records never sits in memory.",
    responses={200: {"content": {JSONL: {}, "text/csv": {}}}})
def get_items(batch_id: str, request: Request, key: ApiKey = Depends(require(RUN)),
              format: Literal["jsonl", "csv"] | None = Query(
                  None, description="jsonl or csv (overrides Accept)")) -> Response:
    rt = runtime(request)
    found = batches.progress(rt, _batch_id(batch_id))   # 404 before the stream starts
    as_csv = format == "csv" or (format is None and _prefers_csv(request.headers.get("accept", "")))
    lines = batches.items(rt, found.id)
    name = f"batch-{found.id}.{'csv' if as_csv else 'jsonl'}"
    return StreamingResponse(_csv(lines) if as_csv else _jsonl(lines), media_type=CSV if as_csv else JSONL,
                             headers={"Content-Disposition": f'inline; filename="{name}"',
                                      "Cache-Control": "no-store"})


# -- the work, in the thread pool --------------------------------------------------------------------


def _dry_run(rt, filters: Mapping[str, Any]) -> dict:
    try:
        found = batches.plan(rt, _spec(filters))
    except RequestInvalid as e:        # what a batch would refuse: an unknown id, no TSA
        raise _invalid([(p.path, p.message) for p in e.problems]) from None
    return DryRunOut(spec=found.spec.to_json(), count=found.matching, skipped_annulled=found.skipped,
                     sample=list(found.sample)).model_dump(mode="json")


def _start(rt, runs: Runner, filters: Mapping[str, Any], caller: service.Caller,
           new: bool) -> tuple[int, dict]:
    spec = _spec(filters)
    try:
        batch, resumed = batches.start(rt, spec, caller=caller, new=new)
    except RequestInvalid as e:        # an id that names no record; an LTV extension without a TSA
        raise _invalid([(p.path, p.message) for p in e.problems]) from None
    runs.submit(rt, batch)
    return (200 if resumed else 202), batch_out(batches.progress(rt, batch.id), rt.clock())


def _retry(rt, runs: Runner, batch_id: uuid.UUID, caller: service.Caller) -> tuple[int, dict]:
    try:
        batch = batches.retry_failed(rt, batch_id, caller=caller)
    except NotFound:
        raise _invalid([("retry_failed", "no batch with this id")]) from None
    runs.submit(rt, batch)
    return 202, batch_out(batches.progress(rt, batch.id), rt.clock())


class Runner:
    """Who does the batches this app hands on. PostgreSQL: the job engine (`batches.submit`
    queues procrastinate jobs; `qujat worker` processes do them). SQLite: `batches.submit`'s
    thread per batch over the app's runtime, taking the pending items a chunk at a time
    (`batches.process`: exactly once per item), with this runner's stop event, which `close` —
    called before the runtime closes — sets: each thread stops after its current record, the
    rest stay pending, not failed, and the same filters posted again resume them."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: dict[uuid.UUID, threading.Thread] = {}

    def submit(self, rt, batch) -> None:
        """Have a running batch done (once per batch in this process). A batch with nothing
        pending (its filters matched nothing, or only annulled records) is finished at once."""
        if batch.status != "running":
            return
        if batch.pending == 0:
            batches.run(rt, batch.id, workers=0)       # nothing to do: returns at once, finished
            return
        if batches.is_postgresql(rt):
            batches.submit(rt, batch.id)               # queues only the chunks no job holds
            return
        with self._lock:
            running = self._threads.get(batch.id)
            if self._stop.is_set() or (running is not None and running.is_alive()):
                return
            self._threads[batch.id] = batches.submit(rt, batch.id, stop=self._stop)

    def close(self, timeout: float = 120) -> None:
        """Stop every batch thread after its current record; wait for them."""
        self._stop.set()
        with self._lock:
            threads = list(self._threads.values())
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def runner(request: Request) -> Runner:
    """The app's `Runner` (made by `create_app`, closed by its lifespan)."""
    return request.app.state.batch_runner


# -- helpers ---------------------------------------------------------------------------------------


def _invalid(problems: list[tuple[str, str]], message: str | None = None) -> ApiError:
    return ApiError(422, "invalid_request",
                    message or f"the request has {len(problems)} problem(s); no batch was started",
                    problems=problems)


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        raise _invalid([("", "the body is not valid JSON")]) from None
    if not isinstance(body, dict):
        raise _invalid([("", "the body must be a JSON object of filters (it may be {})")])
    return body


def _options(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request's own options (validated) and the rest: the filters."""
    problems: list[tuple[str, str]] = []
    options: dict[str, Any] = {"dry_run": False, "new": False, "retry_failed": None}
    for name in ("dry_run", "new"):
        value = body.get(name, False)
        if not isinstance(value, bool):
            problems.append((name, "must be true or false"))
        options[name] = value is True
    if body.get("retry_failed") is not None:
        try:
            options["retry_failed"] = uuid.UUID(body["retry_failed"]) if isinstance(body["retry_failed"], str) \
                else None
        except ValueError:
            pass
        if options["retry_failed"] is None:
            problems.append(("retry_failed", "must be a batch id (a UUID)"))
    filters = {k: v for k, v in body.items() if k not in _OPTIONS}
    if "retry_failed" in body and body["retry_failed"] is not None:
        problems += [(name, "retry_failed takes no filters: it retries that batch's failed records")
                     for name in filters]
        problems += [(name, "not with retry_failed") for name in ("dry_run", "new") if options[name]]
    if problems:
        raise _invalid(problems)
    return options, filters


def _spec(filters: Mapping[str, Any]):
    try:
        return batches.BatchSpec.from_json(filters)
    except RequestInvalid as e:
        raise _invalid([(p.path, p.message) for p in e.problems]) from None


def _batch_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no batch with this id") from None


class Rates:
    """What this app saw of each running batch's progress over the last `RATE_WINDOW_S` (each
    GET is a sample, at most two a second kept): its recent rate, which an average since the
    batch was created is not once a batch was stopped and resumed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[uuid.UUID, deque[tuple[float, int]]] = {}

    def recent(self, batch_id: uuid.UUID, processed: int, running: bool) -> float | None:
        """Records per second over the window, None until two samples a second apart."""
        now = time.monotonic()
        with self._lock:
            if not running:
                self._seen.pop(batch_id, None)
                return None
            seen = self._seen.setdefault(batch_id, deque())
            if not seen or now - seen[-1][0] >= 0.5:
                seen.append((now, processed))
            while len(seen) > 2 and now - seen[1][0] >= RATE_WINDOW_S:
                seen.popleft()
            since, before = seen[0]
            return (processed - before) / (now - since) if now - since >= 1.0 else None


_rates_lock = threading.Lock()


def _rates(request: Request) -> Rates:
    with _rates_lock:
        state = request.app.state
        if getattr(state, "batch_rates", None) is None:
            state.batch_rates = Rates()
        return state.batch_rates


def batch_out(p, now: dt.datetime, recent: float | None = None) -> dict:
    """A batch's progress as the API shows it (JSON values): counts, rate (``recent``, what
    `Rates` saw, else the average since it was created) and ETA, the first failures with their
    reasons, links."""
    processed = p.done + p.failed + p.skipped
    end = p.finished_at or now
    elapsed = (end - p.created_at).total_seconds()
    rate = recent if recent is not None else processed / elapsed if processed and elapsed > 0 else None
    eta = p.pending / rate if p.status == "running" and rate else None
    here = f"/batches/{p.id}"
    return BatchOut(
        id=p.id, kind=p.kind.value, status=p.status, spec=p.spec.to_json(), total=p.total, done=p.done,
        failed=p.failed, skipped=p.skipped, pending=p.pending, created_at=p.created_at,
        finished_at=p.finished_at, retry_of=p.retry_of,
        rate_per_s=round(rate, 3) if rate is not None else None,
        eta_s=round(eta, 1) if eta is not None else None,
        failures=[FailureOut(record_id=r, reason=why) for r, why in p.failures[:batches.FAILURES_SHOWN]],
        links={"self": here, "items": f"{here}/items"}).model_dump(mode="json")


def _prefers_csv(accept: str) -> bool:
    """Whether Accept ranks text/csv above the JSON-lines types (q-values honoured, order breaks ties)."""
    best: dict[str, float] = {}
    for position, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        best.setdefault(media.lower(), q - position * 1e-6)
    csv_q = best.get("text/csv", 0.0)
    json_q = max((best.get(m, 0.0) for m in (JSONL, "application/jsonl", "application/json")), default=0.0)
    return csv_q > 0 and csv_q > json_q


def _jsonl(lines: Iterator[batches.ItemReport]) -> Iterator[bytes]:
    for item in lines:
        yield (json.dumps(item.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _csv(lines: Iterator[batches.ItemReport]) -> Iterator[bytes]:
    """The report as CSV: a header, then a row per record (sent a page of rows at a time)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(batches.ItemReport.CSV_HEADER)
    for n, item in enumerate(lines, 1):
        writer.writerow(item.csv_row())
        if n % 200 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()
