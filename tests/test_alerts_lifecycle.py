"""The alert lifecycle, pure: one alert per incident, flapping damped, acknowledged alerts stay
until their condition clears, and event-born alerts close only by hand."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from gateway.alerts.engine import in_quiet_hours
from gateway.alerts.lifecycle import Book
from gateway.domain.conditions import Condition

S = 10**9
OFFLINE = Condition("device_offline", "rp-w07", "critical", "rp-w07 offline", "rp-w07")


def test_one_alert_per_incident_then_resolved_after_the_clear_period() -> None:
    book = Book(clear_after_ns=30 * S)
    [opened] = book.evaluate([OFFLINE], 0)
    assert (opened.id, opened.state) == (1, "open")
    assert book.evaluate([OFFLINE], 1 * S) == []  # still the same incident: no change
    assert book.evaluate([], 2 * S) == []  # clear, but not for long enough
    [resolved] = book.evaluate([], 33 * S)
    assert (resolved.id, resolved.state, resolved.ended_ns) == (1, "resolved", 33 * S)
    [again] = book.evaluate([OFFLINE], 40 * S)
    assert again.id == 2  # a new incident


def test_acknowledged_stays_active_until_the_condition_clears() -> None:
    book = Book(clear_after_ns=0)
    [a] = book.evaluate([OFFLINE], 0)
    acked = book.ack(a.id, "technician", "on my way", S)
    assert acked is not None
    assert (acked.state, acked.acked_by, acked.note) == ("acknowledged", "technician", "on my way")
    book.evaluate([], 2 * S)
    [resolved] = book.evaluate([], 3 * S)
    assert (resolved.state, resolved.acked_by) == ("resolved", "technician")


def test_event_born_alerts_count_occurrences_and_close_only_by_hand() -> None:
    book = Book(clear_after_ns=0)
    forced = Condition("forced_open", "lb-1/slot 5", "critical", "lb-1: forced open (slot 5)", "lb-1", manual=True)
    first = book.raise_(forced, 0)
    second = book.raise_(forced, S)
    assert first is not None and second is not None and (second.id, second.occurrences) == (first.id, 2)
    assert book.evaluate([], 100 * S) == [] and book.find(first.id) is not None  # no condition clears it
    closed = book.close(first.id, "duty_manager", "door repaired", 101 * S)
    assert closed is not None and closed.state == "closed" and book.find(first.id) is None


@given(st.lists(st.booleans(), min_size=1, max_size=300))
def test_a_flapping_condition_opens_a_new_alert_only_after_a_full_clear_period(flaps: list[bool]) -> None:
    """One evaluation a second: a clear spell shorter than the clear period never ends the alert,
    so a flapping link is one alert; only a spell of 31 s or more (then the condition again) opens
    another."""
    book = Book(clear_after_ns=30 * S)
    ids = set()
    pattern = [True, *flaps]
    for second, holds in enumerate(pattern):
        for a in book.evaluate([OFFLINE] if holds else [], second * S):
            ids.add(a.id)
    runs = "".join("x" if h else "." for h in pattern).split("x")
    reopened = sum(1 for run in runs[1:-1] if len(run) >= 31)  # clear spells followed by the condition
    assert len(ids) == 1 + reopened


def test_quiet_hours_span_midnight_in_the_halls_zone() -> None:
    def at(hh: int, mm: int) -> int:
        return int(datetime(2026, 11, 26, hh, mm, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() * 1e9)

    quiet = (time(22, 0), time(7, 0), "Asia/Shanghai")
    assert [in_quiet_hours(at(h, m), *quiet) for h, m in ((21, 59), (22, 0), (3, 0), (6, 59), (7, 0))] == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert in_quiet_hours(at(13, 0), time(12, 0), time(13, 30), "Asia/Shanghai")
    assert not in_quiet_hours(at(13, 0), time(12, 0), time(13, 30), "UTC")  # 05:00 there


def test_alerts_only_a_person_closes_are_kept_in_memory_up_to_the_limit_and_counted_all() -> None:
    """A year of 差评 nobody closed: memory holds the newest `manual_limit`, the counts hold all."""
    book = Book(clear_after_ns=0, manual_limit=50)
    offline = book.evaluate([OFFLINE], 0)
    for i in range(5000):
        book.raise_(Condition("bad_rating", f"case {i}", "critical", f"差评 {i}", "rp-1", manual=True), i)
    assert len(book.active) == 50 + len(offline)
    assert book.counts == {"critical": 5001}
    assert ("bad_rating", "case 4999") in book.active and ("bad_rating", "case 4949") not in book.active
    assert ("device_offline", "rp-w07") in book.active  # a condition's alert is never put out of memory
    closed = book.close(book.active[("bad_rating", "case 4999")].id, "duty_manager", "回访完成", 6000)
    assert closed is not None and book.counts["critical"] == 5000
