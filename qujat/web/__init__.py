"""The citizen's side of qujat: the public verification page ``/v/{token}`` (server-rendered
Jinja2, kk / ru / en, no JavaScript), its JSON, the PDF download and upload-and-compare.

The HTTP app includes `public_router`; it reads the records through ``app.state.runtime.store``.
Citizens' personal data are masked (`qujat.web.mask`); the verification code is read with
`docgen.tokens.canonical_token` (case, separators and look-alike letters do not matter).
"""
from qujat.web.ratelimit import RateLimits
from qujat.web.routes import PublicOptions, make_public_router, rate_limit

__all__ = ["public_router", "make_public_router", "PublicOptions", "RateLimits", "rate_limit"]

#: The public pages with the default limits.
public_router = make_public_router()
