"""The hall's working calendar (working weekdays, holidays and the extra working days that replace
them (调休). Pure: dates in, dates out.

A date listed as a holiday is never a working day; a date listed as an extra working day always
is (a Saturday worked to make up a bridged holiday). The configuration refuses a date in both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    weekdays: frozenset[int]  # date.weekday() numbers: 0 is Monday
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # 调休: extra working days

    @classmethod
    def of(cls, days: Iterable[str], holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> WorkCalendar:
        return cls(frozenset(WEEKDAYS.index(d) for d in days), frozenset(holidays), frozenset(workdays))

    def is_working(self, d: date) -> bool:
        if d in self.workdays:
            return True
        return d.weekday() in self.weekdays and d not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (start itself not counted); n >= 1."""
        if n < 1:
            raise ValueError("n must be at least 1")
        if not self.weekdays and not self.workdays:
            # A hall never staffed (`days: []`, e.g. a self-service room) still gives deadlines:
            # in calendar days, rather than none at all (it raised at the first 差评).
            return start + timedelta(days=n)
        d, left = start, n
        # A calendar with only a few extra working days could run out: bound the walk.
        for _ in range(n * 7 + 3660):
            d += timedelta(days=1)
            if self.is_working(d):
                left -= 1
                if left == 0:
                    return d
        raise ValueError(f"fewer than {n} working days after {start}")

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; 0 when b <= a."""
        n, d = 0, a
        while d < b:
            d += timedelta(days=1)
            n += self.is_working(d)
        return n


@dataclass(frozen=True, slots=True)
class Schedule:
    """Working hours: the working calendar's days, from `start` to `end` ([start, end))."""

    calendar: WorkCalendar
    start: time
    end: time

    @classmethod
    def of(
        cls, days: Iterable[str], start: time, end: time, holidays: Iterable[date] = (), workdays: Iterable[date] = ()
    ) -> Schedule:
        return cls(WorkCalendar.of(days, holidays, workdays), start, end)

    def working_day(self, day: date) -> bool:
        return self.calendar.is_working(day)

    def working(self, at: datetime) -> bool:
        """Whether `at` (the hall's local time) is inside working hours."""
        clock = at.time().replace(tzinfo=None)
        return self.working_day(at.date()) and self.start <= clock < self.end
