"""The web pages of qujat: the citizen's public verification page ``/v/{token}`` (server-rendered
Jinja2, kk / ru / en, no JavaScript), its JSON, the PDF download and upload-and-compare; and the
official's signing page ``/sign/{id}?ticket=…`` (`qujat.web.signpage`: the document's pages, a
"Sign" button that asks NCALayer for a CMS over the digest).

The HTTP app includes `make_public_router(options, ncalayer_url=…)` (both); it reads the records through
``app.state.runtime.store``. Citizens' personal data are masked (`qujat.web.mask`); the
verification code is read with `docgen.tokens.canonical_token` (case, separators and look-alike
letters do not matter).
"""
from __future__ import annotations

from fastapi import APIRouter

from qujat.web.ratelimit import RateLimits
from qujat.web.routes import PublicOptions, rate_limit
from qujat.web.routes import make_public_router as make_public_pages
from qujat.web.signpage import DEFAULT_NCALAYER_URL, make_sign_router

__all__ = ["make_public_router", "make_public_pages", "make_sign_router", "PublicOptions",
           "RateLimits", "rate_limit", "DEFAULT_NCALAYER_URL"]


def make_public_router(options: PublicOptions | None = None, *,
                       ncalayer_url: str = DEFAULT_NCALAYER_URL) -> APIRouter:
    """The public pages (`make_public_pages`, with ``options``) and the signing page
    (`make_sign_router`: its script looks for NCALayer at ``ncalayer_url``) as one router."""
    router = APIRouter()
    router.include_router(make_public_pages(options))
    router.include_router(make_sign_router(ncalayer_url=ncalayer_url))
    return router

