"""The FastAPI app: `create_app(settings)`.

Its lifespan opens the process's runtime once — the LibreOffice pool, the signing keys, the
records store (`qujat.runtime.open_runtime`) — and closes it at shutdown; request threads share
it through ``app.state.runtime``. Routers are thin: `/documents` (qujat.api.documents) and
`/verify` (qujat.api.verify) over `qujat.service`, `/batches` (qujat.api.batches) over
`qujat.batches`; the citizens' public page (`qujat.web`, when
that package is there) is included, and `/verify` then counts against the same per-client upload
budget as the page's upload-and-compare (`qujat.web.rate_limit("compare")`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi

from qujat.api import batches, documents, errors, verify
from qujat.api.bodylimit import BodyLimit
from qujat.api.openapi import request_components
from qujat.runtime import open_runtime, utc_now
from qujat.settings import Settings

__all__ = ["create_app"]

SMALL_BODY = 64 * 1024          # /documents/{id}/… (an annulment's reason)


def body_limit(method: str, path: str) -> int:
    """The cap of a request's body: an issuing request, a small JSON body under /documents/…,
    a batch's filters, and at most an upload for /verify and anything else (the public page's
    routes)."""
    if path == "/documents" or path == "/documents/":
        return documents.MAX_REQUEST_BYTES
    if path.startswith("/documents/"):
        return SMALL_BODY
    if path.startswith("/batches"):
        return batches.MAX_REQUEST_BYTES
    return verify.MAX_BODY_BYTES


def create_app(settings: Settings, *, clock: Callable[[], dt.datetime] | None = None,
               public_options: Any = None) -> FastAPI:
    """The HTTP API over one runtime built from ``settings`` (``clock``: the runtime's UTC clock,
    injectable for tests; ``public_options``: a `qujat.web.PublicOptions` for the public page and
    the rate limit of /verify, its defaults if None). Nothing starts before the app's lifespan
    does."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with contextlib.ExitStack() as stack:
            # Starting LibreOffice and opening the store block: not on the event loop.
            app.state.runtime = await run_in_threadpool(stack.enter_context, open_runtime(
                settings, convert=True, sign=True, store=True, clock=clock or utc_now))
            app.state.verifier = verify.Verifier()
            stack.callback(app.state.verifier.close)
            # batches run in this process (SQLite) stop after their current record, before
            # the runtime they use closes
            app.state.batch_runner = batches.Runner()
            stack.callback(app.state.batch_runner.close)
            # Everything built so far (modules, the app, the runtime) lives as long as the process:
            # out of the cyclic collector's sight, whose full collections would otherwise walk it
            # all again and again (about 1 ms per issued document, in pauses of ~0.1 s).
            gc.collect()
            gc.freeze()
            stack.callback(gc.unfreeze)
            try:
                yield
            finally:
                await run_in_threadpool(stack.close)

    app = FastAPI(title="qujat", version=_version(),
                  summary="Signed documents of Kazakhstan's land-relations state services",
                  lifespan=lifespan)
    app.add_middleware(BodyLimit, limit_for=body_limit)
    app.state.settings = settings
    errors.install(app)
    web = _web()
    public, verify_limits = None, []
    if web is not None:
        options = public_options or web.PublicOptions()
        public = web.make_public_router(options, ncalayer_url=settings.ncalayer_url)
        verify_limits = [Depends(web.rate_limit("compare", options))]
    app.include_router(documents.router)
    app.include_router(batches.router)
    app.include_router(verify.router, dependencies=verify_limits)

    @app.get("/health", tags=["service"], summary="The service is up (no details)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if public is not None:
        app.include_router(public)
    app.openapi = lambda: _openapi(app)
    return app


def _web():
    """The `qujat.web` package (the citizens' page), if it is there. An error inside it is not
    hidden: only a missing package means no page."""
    if importlib.util.find_spec("qujat.web") is None:
        return None
    return importlib.import_module("qujat.web")


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document plus the five request schemas (built once)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in request_components().items():
            if components.setdefault(name, definition) != definition:
                raise RuntimeError(f"the request schema {name!r} clashes with a response schema")
        app.openapi_schema = schema
    return app.openapi_schema


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qujat")
    except PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "0"
