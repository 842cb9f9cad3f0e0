"""API keys: ``Authorization: Bearer <key>``, checked against the store's hashes, with scopes.

A missing, malformed, unknown or revoked key is 401; a live key without the scope the endpoint
needs is 403. The key itself is never logged or echoed: an error names the scope, not the key.
"""
from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qujat.api.errors import ApiError
from store import ApiKey

__all__ = ["SCOPES", "ISSUE", "ANNUL", "READ", "require", "runtime"]

ISSUE = "documents:issue"
ANNUL = "documents:annul"
READ = "documents:read"
# What `qujat keys create --scope` accepts (batches:run is the regeneration jobs' scope, to come).
SCOPES = (ISSUE, ANNUL, READ, "batches:run")

_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                     description="an API key made with `qujat keys create --scope …`")


def runtime(request: Request):
    """The app's runtime (opened by its lifespan)."""
    return request.app.state.runtime


def require(*scopes: str):
    """A dependency: the caller's live API key, which must carry one of ``scopes``."""
    wanted = " ".join(scopes)

    def check(request: Request,
              credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> ApiKey:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise ApiError(401, "unauthorized", "an API key is required: Authorization: Bearer <key>",
                           headers=challenge)
        key = runtime(request).store.verify_api_key(credentials.credentials)
        if key is None:
            raise ApiError(401, "unauthorized", "the API key is not valid (unknown or revoked)",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if not set(scopes) & set(key.scopes):
            raise ApiError(403, "forbidden", f"this API key lacks the scope {wanted}",
                           headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{wanted}"'})
        return key

    return check
