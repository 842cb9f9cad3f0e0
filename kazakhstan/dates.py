"""Kazakhstan's calendar date, never the server's local one.

A document's "today" is the date in the configured time zone (Asia/Almaty by default: the whole
country is on UTC+5 since 1 March 2024). A server in UTC would otherwise refuse a request dated
today in Almaty between 00:00 and 05:00 local time.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_TIMEZONE", "today_in", "now_in"]

DEFAULT_TIMEZONE = "Asia/Almaty"


def now_in(tz: str = DEFAULT_TIMEZONE, *, utc_now: dt.datetime | None = None) -> dt.datetime:
    """The aware current time in ``tz`` (``utc_now`` injects the clock: an aware datetime)."""
    now = utc_now if utc_now is not None else dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("utc_now must be timezone-aware")
    return now.astimezone(ZoneInfo(tz))


def today_in(tz: str = DEFAULT_TIMEZONE, *, utc_now: dt.datetime | None = None) -> dt.date:
    """The calendar date in ``tz`` now (or at the injected ``utc_now``)."""
    return now_in(tz, utc_now=utc_now).date()
