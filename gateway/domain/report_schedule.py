"""When the scheduled operations reports are due: the week's on its weekday (Monday) for the ISO
week that ended before it, the month's on the 1st for the month before, the quarter's on its first
day for the quarter before, each at its time of day in hall local time. Pure: times in, periods out.

A due run is named by its period (2026-W48): the state database keeps the periods made, so a run
is made once whatever the number of checks or restarts (gateway/features/reports/schedule.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.domain.periods import Span, month, quarter, week_of

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Run:
    kind: str
    span: Span  # the period it reports
    at: datetime  # when it is due, hall local time

    @property
    def at_ns(self) -> int:
        return int(self.at.timestamp()) * 10**9


def _first_of_quarter(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _day_of_run(kind: str, d: date, week_day: int) -> date:
    """The run's day on or before `d`."""
    if kind == "week":
        return d - timedelta(days=(d.weekday() - week_day) % 7)
    if kind == "month":
        return d.replace(day=1)
    return _first_of_quarter(d)


def _before(kind: str, d: date) -> date:
    """The run's day before the run's day `d`."""
    if kind == "week":
        return d - timedelta(days=7)
    if kind == "month":
        return (d - timedelta(days=1)).replace(day=1)
    return _first_of_quarter(d - timedelta(days=1))


def _after(kind: str, d: date) -> date:
    if kind == "week":
        return d + timedelta(days=7)
    if kind == "month":
        return (d + timedelta(days=32)).replace(day=1)
    return _first_of_quarter(d + timedelta(days=93))


def _reported(kind: str, d: date) -> Span:
    """The period a run on day `d` reports: the one that ended before it."""
    if kind == "week":
        return week_of(d - timedelta(days=d.weekday() + 1))  # the Sunday before d's own week
    last = d - timedelta(days=1)
    if kind == "month":
        return month(last.year, last.month)
    return quarter(last.year, (last.month - 1) // 3 + 1)


def _run(kind: str, d: date, at: time, zone: ZoneInfo) -> Run:
    return Run(kind, _reported(kind, d), datetime.combine(d, at, zone))


def latest_due(kind: str, now_ns: int, at: time, tz: str, week_day: str = "mon") -> Run:
    """The last run of `kind` due at or before now (the one a gateway down at its time makes when it starts)."""
    zone = ZoneInfo(tz)
    now = datetime.fromtimestamp(now_ns / 1e9, zone)
    d = _day_of_run(kind, now.date(), WEEKDAYS.index(week_day))
    run = _run(kind, d, at, zone)
    return run if run.at <= now else _run(kind, _before(kind, d), at, zone)


def next_run(kind: str, now_ns: int, at: time, tz: str, week_day: str = "mon") -> Run:
    """The first run of `kind` due after now."""
    last = latest_due(kind, now_ns, at, tz, week_day)
    return _run(kind, _after(kind, last.at.date()), at, ZoneInfo(tz))


def retry_at_ns(failed_ns: int, attempts: int, first_wait_min: float) -> int:
    """When a run whose report failed `attempts` times is tried again: the wait doubles each time."""
    return failed_ns + int(first_wait_min * 60e9 * 2 ** max(0, attempts - 1))
