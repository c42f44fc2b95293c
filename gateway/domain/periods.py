"""Report periods on the hall's calendar: a day, an ISO week (Monday to Sunday), a month, a
quarter or any range of days, in the hall's local time. Pure: text and dates in, dates out.

A period is named the way the hall writes it: 2026-12-07, 2026-W49, 2026-12, 2026-Q4, or
2026-12-01..2026-12-15 for a range. Its bounds are the hall's local midnights (a day in a zone
with a daylight-saving change is not 24 hours: the bounds come from the local dates, not from a
count of seconds). The working days come from the hall's `WorkCalendar` (holidays and 调休).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.domain.calendar import WorkCalendar

KINDS = ("day", "week", "month", "quarter", "range")
FORMS = "2026-12-07（日）、2026-W49（周）、2026-12（月）、2026-Q4（季）、2026-12-01..2026-12-15（区间）"

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class PeriodError(ValueError):
    """A period that is not one of the accepted forms; `code` for the API, the text in Chinese."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True, slots=True)
class Span:
    kind: str
    label: str
    start: date  # first day
    end: date  # last day, inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def working_days(self, cal: WorkCalendar) -> list[date]:
        return [d for d in self.dates() if cal.is_working(d)]

    def bounds_ns(self, tz: str) -> tuple[int, int]:
        """[local midnight of the first day, local midnight after the last) as UTC ns."""
        zone = ZoneInfo(tz)
        a = datetime.combine(self.start, datetime.min.time(), zone)
        b = datetime.combine(self.end + timedelta(days=1), datetime.min.time(), zone)
        return int(a.timestamp()) * 10**9, int(b.timestamp()) * 10**9

    def previous(self) -> Span:
        """The period before: yesterday, last week, last month, last quarter, the range just before."""
        if self.kind == "day":
            return day(self.start - timedelta(days=1))
        if self.kind == "week":
            return week_of(self.start - timedelta(days=7))
        if self.kind == "month":
            return month(*_shift_month(self.start.year, self.start.month, -1))
        if self.kind == "quarter":
            q = (self.start.month - 1) // 3 + 1
            return quarter(self.start.year - (q == 1), 4 if q == 1 else q - 1)
        return span_range(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def last_year(self) -> Span:
        """The same period a year before: the same ISO week number (or the year's last week when
        that year has no week 53), month, quarter; a day or range on the same dates (29 February
        becomes the 28th)."""
        if self.kind == "week":
            y, w, _ = self.start.isocalendar()
            return week(y - 1, min(w, _weeks_in(y - 1)))
        if self.kind == "month":
            return month(self.start.year - 1, self.start.month)
        if self.kind == "quarter":
            return quarter(self.start.year - 1, (self.start.month - 1) // 3 + 1)
        a, b = _year_before(self.start), _year_before(self.end)
        return day(a) if self.kind == "day" else span_range(a, b)


def _year_before(d: date) -> date:
    return d.replace(year=d.year - 1, day=min(d.day, 28 if d.month == 2 else d.day))


def _weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar()[1]  # 28 December is always in the year's last ISO week


def _shift_month(y: int, m: int, by: int) -> tuple[int, int]:
    n = y * 12 + (m - 1) + by
    return n // 12, n % 12 + 1


def day(d: date) -> Span:
    return Span("day", d.isoformat(), d, d)


def week(year: int, number: int) -> Span:
    if not 1 <= number <= _weeks_in(year):
        raise PeriodError("bad_period", f"{year} 年没有第 {number} 周（共 {_weeks_in(year)} 周）")
    start = date.fromisocalendar(year, number, 1)
    return Span("week", f"{year}-W{number:02d}", start, start + timedelta(days=6))


def week_of(d: date) -> Span:
    y, w, _ = d.isocalendar()
    return week(y, w)


def month(year: int, m: int) -> Span:
    ny, nm = _shift_month(year, m, 1)
    return Span("month", f"{year}-{m:02d}", date(year, m, 1), date(ny, nm, 1) - timedelta(days=1))


def quarter(year: int, q: int) -> Span:
    first = date(year, 3 * q - 2, 1)
    ny, nm = _shift_month(year, 3 * q, 1)
    return Span("quarter", f"{year}-Q{q}", first, date(ny, nm, 1) - timedelta(days=1))


def span_range(a: date, b: date) -> Span:
    if b < a:
        raise PeriodError("bad_period", f"区间的结束日 {b} 早于开始日 {a}")
    return Span("range", f"{a.isoformat()}..{b.isoformat()}", a, b)


def parse(kind: str, text: str) -> Span:
    """The period of `kind` named `text`; PeriodError (in Chinese, naming the accepted forms) when
    the kind is unknown, the text is not of the kind's form, or names no real date."""
    if kind not in KINDS:
        raise PeriodError("bad_kind", f"未知的报告类型 {kind!r}：可用 day、week、month、quarter、range")
    text = text.strip()
    try:
        if kind == "day" and (m := _DAY.match(text)):
            return day(date(int(m[1]), int(m[2]), int(m[3])))
        if kind == "week" and (m := _WEEK.match(text)):
            return week(int(m[1]), int(m[2]))
        if kind == "month" and (m := _MONTH.match(text)):
            return month(int(m[1]), int(m[2]))
        if kind == "quarter" and (m := _QUARTER.match(text)):
            return quarter(int(m[1]), int(m[2]))
        if kind == "range" and ".." in text:
            a, b = text.split("..", 1)
            return span_range(date.fromisoformat(a.strip()), date.fromisoformat(b.strip()))
    except ValueError as e:
        if isinstance(e, PeriodError):
            raise
        raise PeriodError("bad_period", f"期间 {text!r} 不是一个真实的日期：可用的格式为 {FORMS}") from None
    raise PeriodError("bad_period", f"期间 {text!r} 不是 {kind} 的格式：可用的格式为 {FORMS}")


def check_after(span: Span, first: date | None) -> None:
    """A period that ended before the hall's first data has nothing to report (`first` None: the
    hall has no data yet, and any period reports that)."""
    if first is not None and span.end < first:
        raise PeriodError("before_data", f"期间 {span.label} 早于本厅最早的数据（{first}）：可用的格式为 {FORMS}")


def check_past(span: Span, today: date) -> None:
    """A period that has not begun yet has nothing to report."""
    if span.start > today:
        raise PeriodError("future_period", f"期间 {span.label} 尚未开始（今天是 {today}）：可用的格式为 {FORMS}")
