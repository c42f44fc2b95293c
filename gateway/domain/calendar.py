"""Working hours with holidays and swapped workdays (调休). Pure: the time is passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A weekly schedule (weekday numbers, Monday 0) corrected by dated exceptions.

    A holiday is off although its weekday works (法定节假日); a workday is worked although its
    weekday is off (调休: the weekend made up for a long holiday). Hours are [start, end).
    """

    weekdays: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def of(
        cls, days: Iterable[str], start: time, end: time, holidays: Iterable[date] = (), workdays: Iterable[date] = ()
    ) -> Schedule:
        return cls(frozenset(DAY_NAMES.index(d) for d in days), start, end, frozenset(holidays), frozenset(workdays))

    def working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.workdays or day.weekday() in self.weekdays

    def working(self, at: datetime) -> bool:
        """Whether `at` (the hall's local time) is inside working hours."""
        clock = at.time().replace(tzinfo=None)
        return self.working_day(at.date()) and self.start <= clock < self.end
