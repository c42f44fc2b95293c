"""Periods in query strings: a date or a time, in the hall's own time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.api.errors import ApiError
from gateway.view import View


def moment(view: View, text: str, name: str) -> int:
    """`2026-11-23` (its midnight) or `2026-11-23T09:30` (hall time unless it has an offset) -> epoch ns."""
    zone = ZoneInfo(view.timezone)
    try:
        if len(text) == 10:
            t = datetime.combine(date.fromisoformat(text), time(0), zone)
        else:
            t = datetime.fromisoformat(text)
            t = t if t.tzinfo is not None else t.replace(tzinfo=zone)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{name}: {text!r} is not a date (2026-11-23) or a time") from None
    return int(t.timestamp() * 1e9)


def period(view: View, start: str | None, end: str | None, day: date | None, now_ns: int) -> tuple[int, int]:
    """[start, end): `date` for one day; `start` alone runs to now; nothing at all: today."""
    zone = ZoneInfo(view.timezone)
    if day is not None:
        if start or end:
            raise ApiError(422, "invalid_request", "give either date or start/end, not both")
        start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
    if start is None:
        today = datetime.fromtimestamp(now_ns / 1e9, zone).date()
        start = today.isoformat()
        end = end or (today + timedelta(days=1)).isoformat()
    a = moment(view, start, "start")
    b = moment(view, end, "end") if end else max(now_ns, a)
    if b < a:
        raise ApiError(422, "invalid_request", "end is before start")
    return a, b
