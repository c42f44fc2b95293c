"""Report periods on the hall's calendar (gateway/domain/periods.py)."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.domain.calendar import WorkCalendar
from gateway.domain.periods import PeriodError, check_after, check_past, parse

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def test_iso_week_across_a_year_end_is_monday_to_sunday_in_both_years() -> None:
    w = parse("week", "2026-W53")  # 2026 has 53 ISO weeks: 28 Dec 2026 to 3 Jan 2027
    assert (w.start, w.end, w.days) == (date(2026, 12, 28), date(2027, 1, 3), 7)
    assert parse("week", "2027-W01").start == date(2027, 1, 4)
    assert parse("week", "2026-W01").start == date(2025, 12, 29)  # week 1 of 2026 begins in 2025
    assert w.previous().label == "2026-W52"
    assert parse("week", "2027-W01").previous().label == "2026-W53"
    # 2025 has 52 weeks: the same week a year before is its last one
    assert w.last_year().label == "2025-W52"
    with pytest.raises(PeriodError):
        parse("week", "2027-W53")


def test_tiaoxiu_day_is_a_working_day_and_the_holiday_is_not() -> None:
    # National Day 2026: 1-7 October off, Saturday 10 October worked (调休)
    cal = WorkCalendar.of(WEEKDAYS, [date(2026, 10, d) for d in range(1, 8)], [date(2026, 10, 10)])
    w = parse("week", "2026-W41")  # 5-11 October
    assert [d.day for d in w.working_days(cal)] == [8, 9, 10]
    plain = WorkCalendar.of(WEEKDAYS)
    assert [d.day for d in w.working_days(plain)] == [5, 6, 7, 8, 9]
    assert len(parse("month", "2026-10").working_days(cal)) == 18  # 22 weekdays, 5 of them off, 1 Saturday worked


def test_month_quarter_and_day_bounds_are_local_midnights() -> None:
    m = parse("month", "2026-02")
    assert (m.start, m.end) == (date(2026, 2, 1), date(2026, 2, 28))
    q = parse("quarter", "2026-Q4")
    assert (q.start, q.end, q.previous().label, q.last_year().label) == (
        date(2026, 10, 1),
        date(2026, 12, 31),
        "2026-Q3",
        "2025-Q4",
    )
    assert parse("quarter", "2026-Q1").previous().label == "2025-Q4"
    assert parse("month", "2026-01").previous().label == "2025-12"
    start, end = parse("day", "2026-12-07").bounds_ns("Asia/Shanghai")
    assert start == (1796601600 - 8 * 3600) * 10**9  # 2026-12-07 00:00 +08:00
    assert end - start == 86400 * 10**9
    r = parse("range", "2026-12-01..2026-12-15")
    assert (r.days, r.previous().label) == (15, "2026-11-16..2026-11-30")


@pytest.mark.parametrize(
    ("kind", "text"),
    [("week", "2026-12"), ("month", "2026-13"), ("day", "2026-02-30"), ("quarter", "2026-Q5"), ("year", "2026")],
)
def test_a_malformed_period_names_the_accepted_forms(kind: str, text: str) -> None:
    with pytest.raises(PeriodError) as e:
        parse(kind, text)
    assert ("2026-W49" in str(e.value)) or e.value.code == "bad_kind"


def test_a_future_period_is_refused() -> None:
    with pytest.raises(PeriodError) as e:
        check_past(parse("month", "2027-01"), date(2026, 12, 7))
    assert e.value.code == "future_period"
    check_past(parse("month", "2026-12"), date(2026, 12, 7))


def test_a_period_before_the_halls_first_data_is_refused() -> None:
    with pytest.raises(PeriodError) as e:
        check_after(parse("week", "2026-W47"), date(2026, 11, 23))  # 16-22 November
    assert e.value.code == "before_data" and "2026-11-23" in str(e.value)
    check_after(parse("week", "2026-W48"), date(2026, 11, 23))  # the week it began in
    check_after(parse("week", "2026-W47"), None)  # no data yet: any period reports that
