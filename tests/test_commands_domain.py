"""Pure rules of the command desk: working hours with holidays and 调休, who may unlock a slot,
the wrong-code lockout. No I/O: the clock is passed in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.commands.audit import Caller
from gateway.domain.calendar import Schedule, WorkCalendar
from gateway.domain.lockout import Lockout
from gateway.kinds.lockbox.policy import Denied, authorise_slot_unlock

SH = ZoneInfo("Asia/Shanghai")
WEEK = Schedule.of(["mon", "tue", "wed", "thu", "fri"], time(9), time(17))
# 2026: National Day week off, the Sunday before (Sep 27) worked (调休)
HALL = Schedule.of(
    ["mon", "tue", "wed", "thu", "fri"],
    time(9),
    time(17),
    holidays=[date(2026, 10, d) for d in range(1, 8)],
    workdays=[date(2026, 9, 27)],
)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_weekly_schedule(at: datetime) -> None:
    expected = at.weekday() < 5 and time(9) <= at.time() < time(17)
    assert WEEK.working(at) is expected


@given(st.datetimes(min_value=datetime(2026, 9, 20), max_value=datetime(2026, 10, 15)))
def test_holidays_and_swapped_workdays(at: datetime) -> None:
    day = at.date()
    if date(2026, 10, 1) <= day <= date(2026, 10, 7):
        assert not HALL.working(at)  # a holiday, even on a weekday
    elif day == date(2026, 9, 27):
        assert HALL.working(at) is (time(9) <= at.time() < time(17))  # a Sunday worked
    else:
        assert HALL.working(at) is WEEK.working(at)


def _ns(at: datetime) -> int:
    return int(at.replace(tzinfo=SH).timestamp() * 1e9)


STAFF, DUTY, MANAGER = Caller("staff", "s"), Caller("duty_manager", "d"), Caller("manager", "m")


@given(st.datetimes(min_value=datetime(2026, 9, 20), max_value=datetime(2026, 10, 15)), st.text(max_size=5))
def test_who_may_unlock_a_slot(at: datetime, reason: str) -> None:
    now = _ns(at)
    working = HALL.working(at)

    def allowed(who: Caller) -> bool:
        try:
            authorise_slot_unlock(who, reason, HALL, "Asia/Shanghai", now)
        except Denied:
            return False
        return True

    assert allowed(STAFF) is (not working)
    assert allowed(DUTY) is (not working or bool(reason.strip()))
    assert not allowed(MANAGER)


def test_denial_says_why() -> None:
    monday_10 = _ns(datetime(2026, 11, 23, 10, 0))
    with pytest.raises(Denied, match="only a duty_manager"):
        authorise_slot_unlock(STAFF, "x", HALL, "Asia/Shanghai", monday_10)
    with pytest.raises(Denied, match="needs a reason"):
        authorise_slot_unlock(DUTY, "  ", HALL, "Asia/Shanghai", monday_10)


S = 10**9


@given(st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=40))
def test_lockout(gaps: list[int]) -> None:
    """Locked exactly when 5 wrong codes fall within 15 minutes; for 15 minutes; tries while
    locked are refused without counting."""
    lock = Lockout()
    now = 0
    history: list[int] = []
    locked_until = None
    for gap in gaps:
        now += gap * S
        if locked_until is not None and now < locked_until:
            assert lock.locked_until("l", now) == locked_until
            continue
        assert lock.locked_until("l", now) is None
        history = [t for t in history if now - t < 900 * S] + [now]
        result = lock.fail("l", now)
        if len(history) >= 5:
            assert result == now + 900 * S
            locked_until, history = result, []
        else:
            assert result is None
            assert lock.remaining("l", now) == 5 - len(history)
    restored = Lockout()
    restored.restore(lock.state())
    assert restored.state() == lock.state()


def test_lockout_is_per_locker() -> None:
    lock = Lockout()
    for i in range(5):
        lock.fail("a", i * S)
    assert lock.locked_until("a", 5 * S) is not None
    assert lock.locked_until("b", 5 * S) is None
    assert lock.locked_until("a", 4 * S + 900 * S) is None
    assert timedelta(seconds=900) == timedelta(seconds=lock.lock_ns / S)


def test_a_hall_never_staffed_counts_deadlines_in_calendar_days() -> None:
    """`working_hours: {days: []}` (never staffed): a 差评's deadline in calendar days, not an error
    (it raised at the first 差评)."""
    assert WorkCalendar.of([]).add_working_days(date(2026, 12, 5), 3) == date(2026, 12, 8)
    assert WorkCalendar.of(["mon"]).add_working_days(date(2026, 12, 5), 1) == date(2026, 12, 7)  # Sat -> Mon
