"""Per-client rate limits of the public endpoints, with the `limits` library (moving window, in
memory: one process's counters; several processes behind a balancer each count their own).

A client is its address as the ASGI server reports it (run uvicorn with ``--proxy-headers`` and
``--forwarded-allow-ips`` behind a reverse proxy, so that it is the visitor's and not the
proxy's); an IPv6 client is its /64 network, which one household or phone usually has whole.
"""
from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["RateLimits", "RateLimiter", "client_key"]


@dataclass(frozen=True)
class RateLimits:
    """How often one client may call each kind of endpoint (``limits`` notation)."""

    page: str = "60/minute"        # the page, its JSON, the code lookup
    download: str = "30/minute"    # PDF downloads
    compare: str = "10/minute"     # uploads to compare (and the API's /verify, if it uses this)

    def items(self) -> Mapping[str, RateLimitItem]:
        return {"page": parse(self.page), "download": parse(self.download),
                "compare": parse(self.compare)}


@dataclass
class RateLimiter:
    """The counters of one app (kept in its state, never at module level)."""

    limits: RateLimits = field(default_factory=RateLimits)

    def __post_init__(self) -> None:
        self._items = self.limits.items()
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, kind: str, client: str) -> int | None:
        """Count one call of ``kind`` by ``client``: None if allowed, else the seconds to wait."""
        item = self._items[kind]
        if self._limiter.hit(item, kind, client):
            return None
        reset = self._limiter.get_window_stats(item, kind, client).reset_time
        return max(1, math.ceil(reset - time.time()))


def client_key(host: str | None) -> str:
    """The rate-limited unit: an IPv4 address, an IPv6 /64, or the host text as it is."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
