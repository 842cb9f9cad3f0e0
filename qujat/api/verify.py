"""`POST /verify`: anyone uploads a PDF and gets the verification report (spec §4).

An uploaded file is a stranger's: the body is capped before it is read, the verification runs
in a small pool of its own threads (never on the event loop, never taking the threads issuing
needs) and is answered within `TIME_LIMIT` seconds whatever the file holds; nothing in the file
makes the verifier fetch a URL unless its chain ends at one of our trust anchors
(`Runtime.fetch_policy`). An empty file, one that is not a PDF, too large, truncated, or too
costly to verify is a 4xx with a reason; a PDF that can be read always gets its report, which
says TOTAL_PASSED only when every signature passes.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse

from qujat.api.auth import runtime
from qujat.api.errors import RETRY_AFTER_BUSY, ApiError
from qujat.api.schemas import ErrorOut
from signing.errors import NotAPdfError, SigningPackageError
from signing.verify import verify_pdf

__all__ = ["router", "Verifier", "MAX_UPLOAD_BYTES", "MAX_BODY_BYTES", "TIME_LIMIT", "SLOTS", "BUDGET"]

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024   # the file plus the multipart framing around it
TIME_LIMIT = 4.0                    # seconds one verification may take before the caller is answered
SLOTS = 2                           # verifications running at once (the CPUs are the converters' too)
BUDGET = TIME_LIMIT + 2.0           # the verifier's own wall-time budget: an abandoned thread stops then

router = APIRouter(tags=["verification"])


class Verifier:
    """The verification threads of one app. A verification over its time limit is answered at
    once but its thread runs on until the verifier's own budget (`BUDGET`) stops it: it keeps its
    slot till then, so hostile uploads cannot pile up threads; past the slots, 503 at once."""

    def __init__(self, slots: int = SLOTS):
        self._slots = threading.BoundedSemaphore(slots)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="qujat-verify")

    async def run(self, fn, *args, **kwargs):
        if not self._slots.acquire(blocking=False):
            raise ApiError(503, "busy", "every verification slot is taken; retry shortly",
                           headers={"Retry-After": RETRY_AFTER_BUSY})

        def job():
            try:
                return fn(*args, **kwargs)
            finally:
                self._slots.release()

        try:
            future = self._pool.submit(job)
        except BaseException:
            self._slots.release()
            raise
        return await asyncio.wait_for(asyncio.wrap_future(future), TIME_LIMIT)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_MEDIA = "multipart/form-data"


@router.post(
    "/verify",
    summary="Verify the signatures of an uploaded PDF (public)",
    description=f"multipart/form-data with the PDF as `file` (at most {MAX_UPLOAD_BYTES // 2**20} MiB). "
                "200 with the report of spec §4 for any PDF that can be read (indication "
                "TOTAL_PASSED, INDETERMINATE or TOTAL_FAILED); 413 for a larger file; 422 for an "
                "empty file, one that is not a PDF or cannot be parsed, or one too costly to verify.",
    responses={200: {"description": "the verification report", "content": {"application/json": {}}},
               413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}})
async def verify_upload(request: Request, file: UploadFile = File(description="the PDF to verify")) -> JSONResponse:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "content_too_large", f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB",
                       problems=[("file", "too large")])
    if not data:
        raise ApiError(422, "empty_file", "the uploaded file is empty", problems=[("file", "empty")])
    if b"%PDF-" not in data[:1024]:
        raise ApiError(422, "not_a_pdf", "the uploaded file is not a PDF (no %PDF- header)",
                       problems=[("file", "not a PDF")])
    rt = runtime(request)
    try:
        report = await request.app.state.verifier.run(verify_pdf, data, trust=rt.trust_anchors,
                                                      policy=rt.fetch_policy, time_budget_s=BUDGET)
    except asyncio.TimeoutError:
        raise ApiError(422, "too_costly", f"verifying this file takes longer than {TIME_LIMIT:g} s; "
                                          "it is not a document this service issues",
                       problems=[("file", "verification time limit")]) from None
    except NotAPdfError as e:
        raise ApiError(422, "not_a_pdf", str(e), problems=[("file", "cannot be parsed as a PDF")]) from None
    except SigningPackageError as e:        # pdfcheck's input limits and the like
        raise ApiError(422, "unverifiable", str(e), problems=[("file", type(e).__name__)]) from None
    except ApiError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a hostile file provokes is the file's fault
        log.info("verification of an upload failed: %s", type(e).__name__)
        raise ApiError(422, "unverifiable", "the file could not be verified",
                       problems=[("file", type(e).__name__)]) from None
    return JSONResponse(report.as_dict())
