"""A cap on every request body, counted as it arrives (pure ASGI, outermost).

A declared Content-Length over the cap is answered 413 before anything is read; a body that
grows past it while being read (chunked, or lying about its length) stops the request with
`BodyTooLarge`, which the error handlers turn into the same 413. Either way the answer is the
API's JSON error, and nothing larger than the cap is ever buffered or spooled to disk.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "BodyTooLarge", "TOO_LARGE_MESSAGE"]

TOO_LARGE_MESSAGE = "the request body is larger than this endpoint accepts"


class BodyTooLarge(Exception):
    """The request body grew past its cap while being read."""

    def __init__(self, limit: int):
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


class BodyLimit:
    """``limit_for(method, path)`` gives the cap in bytes of one request's body."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]):
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(limit: int, send: Send) -> None:
    body = json.dumps({"code": "content_too_large", "message": TOO_LARGE_MESSAGE,
                       "problems": [{"path": "", "message": f"at most {limit} bytes"}]}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
