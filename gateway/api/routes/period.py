"""Periods in query strings: a date or a time, in the hall's own time zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Path
from pydantic import BeforeValidator

from gateway.api.errors import ApiError
from gateway.view import View


def _iso_only(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date or time: a number (`0.5`, `-2e-311`) is
    taken as seconds since 1970, so a mistyped filter silently asked about 1970."""
    if isinstance(value, str) and not _ISO.match(value):
        raise ValueError(f"{value!r} is not ISO 8601: use e.g. 2026-11-23 or 2026-11-23T09:30")
    return value


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
# A date or a time in a query, in ISO 8601 only.
IsoDate = Annotated[date, BeforeValidator(_iso_only)]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
# The text form ratings take (a date or a time, parsed by `moment`), documented in OpenAPI.
ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}"

# Row ids and times are SQLite integers (signed 64 bit): a bigger value is refused as a bad request
# rather than reaching the database and failing there as an OverflowError (a 500).
INT64_MAX = 2**63 - 1
# A row id in a path (alerts, work orders).
RowId = Annotated[int, Path(ge=1, le=INT64_MAX)]
# The times an int64 of nanoseconds holds (1677-09-21 to 2262-04-11), in whole years of the time
# as written: any offset (at most a day) keeps such a time inside.
FIRST_YEAR, LAST_YEAR = 1678, 2261


def in_years(day: date, name: str) -> date:
    """`day` if an int64 of nanoseconds holds all of it, else a 422 naming the parameter."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ApiError(
            422, "invalid_request", f"{name}: {day} is outside the years 1678-2261", field=f"{name} 超出 1678–2261 年"
        )
    return day


def epoch_ns(t: datetime, zone: str, name: str) -> int:
    """A time (without an offset: the hall's own) as epoch ns; a time no int64 holds is a 422."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(zone))
    if not FIRST_YEAR <= t.year <= LAST_YEAR:
        raise ApiError(
            422,
            "invalid_request",
            f"{name}: {t.isoformat()} is outside the years 1678-2261",
            field=f"{name} 超出 1678–2261 年",
        )
    return int(t.timestamp() * 1e9)


def moment(view: View, text: str, name: str) -> int:
    """`2026-11-23` (its midnight) or `2026-11-23T09:30` (hall time unless it has an offset) -> epoch ns."""
    try:
        t = datetime.combine(date.fromisoformat(text), time(0)) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            422,
            "invalid_request",
            f"{name}: {text!r} is not a date (2026-11-23) or a time",
            field=f"{name} 应为日期（如 2026-11-23）或时间",
        ) from None
    return epoch_ns(t, view.timezone, name)


def period(view: View, start: str | None, end: str | None, day: date | None, now_ns: int) -> tuple[int, int]:
    """[start, end): `date` for one day; `start` alone runs to now; nothing at all: today."""
    zone = ZoneInfo(view.timezone)
    if day is not None:
        if start or end:
            raise ApiError(
                422, "invalid_request", "give either date or start/end, not both", field="date 与 start/end 只能给其一"
            )
        # The day's end is the next midnight, past the last year for 2261-12-31 (yet an int64
        # still holds it): not checked as a time the caller wrote.
        midnight = datetime.combine(in_years(day, "date"), time(0), zone)
        return epoch_ns(midnight, view.timezone, "date"), int((midnight + timedelta(days=1)).timestamp() * 1e9)
    if start is None:
        today = datetime.fromtimestamp(now_ns / 1e9, zone).date()
        start = today.isoformat()
        end = end or (today + timedelta(days=1)).isoformat()
    a = moment(view, start, "start")
    b = moment(view, end, "end") if end else max(now_ns, a)
    if b < a:
        raise ApiError(422, "invalid_request", "end is before start", field="end 早于 start")
    return a, b
