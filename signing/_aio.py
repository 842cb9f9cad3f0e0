"""Running pyHanko's coroutines from synchronous code."""

from __future__ import annotations

import asyncio
import threading

__all__ = ["run_sync"]

_LOOPS = threading.local()


def run_sync(coro):
    """Run a pyHanko coroutine from sync code on this thread's own event loop.

    ``asyncio.run`` would build and tear down a loop per signature (about a
    millisecond); a loop kept per thread is reused. From inside a running loop (an
    async web handler calling the sync API) the work moves to a helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop = getattr(_LOOPS, "loop", None)
        if loop is None or loop.is_closed():
            loop = _LOOPS.loop = asyncio.new_event_loop()
        return loop.run_until_complete(coro)
    result: dict[str, object] = {}

    def _target() -> None:
        try:
            result["value"] = run_sync(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    t = threading.Thread(target=_target)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]
