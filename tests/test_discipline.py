"""The discipline ledger's pure parts (gateway/domain/discipline.py) with a given clock: each
violation the devices show (breaks, approved unlocks and the grace periods included), the
lifecycle, and the three strikes over a real state database (gateway/features/discipline/ledger.py)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.config.discipline import Strikes
from gateway.domain import discipline as d
from gateway.features.discipline.ledger import Ledger, period_of
from gateway.store.journal import Journal

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 7)  # a Monday
LIMITS = d.Limits(away_min=15, phone_grace_min=5, unlock_covers_min=30, ready_grace_min=5)
POSTS = [d.PostOf("W01", "A1", "B1"), d.PostOf("W02", "A2")]


def t(hm: str, day: date = DAY) -> int:
    return int(datetime.combine(day, time.fromisoformat(hm), ZONE).timestamp() * 10**9)


# 09:00-17:00 with lunch 12:00-13:30
PERIODS = d.periods_of(t("09:00"), t("17:00"), [(t("12:00"), t("13:30"))])


def test_open_periods_leave_the_breaks_out() -> None:
    assert [(t("09:00"), t("12:00")), (t("13:30"), t("17:00"))] == PERIODS
    assert d.periods_of(t("09:00"), t("10:00"), [(t("12:00"), t("13:30"))]) == [(t("09:00"), t("10:00"))]


# -- 离岗超时 --------------------------------------------------------------------------------------


def test_away_past_the_limit_names_who_left_with_the_punches() -> None:
    spells = {"A1": [(t("08:55"), t("10:00")), (t("10:20"), t("11:00"))]}
    (v,) = d.away(POSTS[:1], spells, PERIODS, t("10:30"), LIMITS)
    assert (v.kind, v.staff, v.window, v.at_ns) == ("away", "A1", "W01", t("10:00"))
    assert [(e["direction"], e["ts_ns"]) for e in v.evidence] == [("out", t("10:00")), ("in", t("10:20"))]


def test_away_within_the_limit_is_nothing_and_still_away_counts_up_to_now() -> None:
    spells = {"A1": [(t("08:55"), t("10:00"))]}
    assert d.away(POSTS[:1], spells, PERIODS, t("10:15"), LIMITS) == []  # 15 min: not past the limit
    (v,) = d.away(POSTS[:1], spells, PERIODS, t("10:16"), LIMITS)
    assert [e["direction"] for e in v.evidence] == ["out"]  # not back yet


def test_away_over_the_lunch_break_counts_only_open_time() -> None:
    # Out 11:50, back 13:40: 10 min before lunch + 10 after = 20 min open time, but 1 h 50 in all.
    spells = {"A1": [(t("08:55"), t("11:50")), (t("13:40"), t("17:00"))]}
    assert len(d.away(POSTS[:1], spells, PERIODS, t("17:00"), LIMITS)) == 1
    spells = {"A1": [(t("08:55"), t("11:55")), (t("13:35"), t("17:00"))]}  # 5 + 5 min
    assert d.away(POSTS[:1], spells, PERIODS, t("17:00"), LIMITS) == []


def test_the_b_post_covering_is_not_away_and_b_leaving_is_bs() -> None:
    spells = {"A1": [(t("08:55"), t("10:00"))], "B1": [(t("10:05"), t("11:00"))]}
    (v,) = d.away(POSTS[:1], spells, PERIODS, t("11:30"), LIMITS)
    assert (v.staff, v.at_ns) == ("B1", t("11:00"))


def test_before_anyone_came_is_not_away() -> None:
    assert d.away(POSTS, {"A1": [(t("10:00"), t("10:30"))]}, PERIODS, t("10:30"), LIMITS) == []


# -- 工作准备不到位 --------------------------------------------------------------------------------


def test_unready_at_opening_plus_grace() -> None:
    spells = {"A1": [(t("09:03"), t("10:00"))], "A2": [(t("09:20"), t("10:00"))]}
    assert d.unready(POSTS, spells, t("09:00"), t("09:04"), LIMITS) == []  # not due yet
    (v,) = d.unready(POSTS, spells, t("09:00"), t("10:00"), LIMITS)
    assert (v.kind, v.staff, v.window, v.at_ns) == ("unready", "A2", "W02", t("09:05"))
    assert [e["event"] for e in v.evidence] == ["opening", "punch"]
    assert v.evidence[1]["ts_ns"] == t("09:20")


def test_the_b_post_on_it_at_opening_is_ready() -> None:
    spells = {"B1": [(t("08:50"), t("12:00"))], "A2": [(t("08:59"), t("12:00"))]}
    assert d.unready(POSTS, spells, t("09:00"), t("10:00"), LIMITS) == []


# -- 违规使用手机 ----------------------------------------------------------------------------------


def out(since: str, in_since: str = "08:55") -> d.PhoneOut:
    return d.PhoneOut("A1", "lb-1", 3, t(in_since), t(since))


def test_phone_out_past_the_grace_with_its_evidence() -> None:
    assert d.phone([out("10:00")], {}, PERIODS, t("10:05"), LIMITS) == []
    (v,) = d.phone([out("10:00")], {}, PERIODS, t("10:06"), LIMITS, {"A1": "W01"})
    assert (v.kind, v.staff, v.window, v.at_ns) == ("phone", "A1", "W01", t("10:00"))
    assert [e["event"] for e in v.evidence] == ["phone_out", "punch"]


def test_phone_out_before_clocking_in_counts_from_clocking_in() -> None:
    assert d.phone([out("08:00", in_since="09:58")], {}, PERIODS, t("10:02"), LIMITS) == []
    assert len(d.phone([out("08:00", in_since="09:58")], {}, PERIODS, t("10:04"), LIMITS)) == 1


def test_an_approved_unlock_covers_its_time_and_no_more() -> None:
    unlocks = {("lb-1", 3): [t("09:59")]}  # covers to 10:29
    assert d.phone([out("10:00")], unlocks, PERIODS, t("10:30"), LIMITS) == []
    (v,) = d.phone([out("10:00")], unlocks, PERIODS, t("10:35"), LIMITS)
    assert v.evidence[-1] == {"event": "unlock", "device": "lb-1", "slot": 3, "ts_ns": t("09:59")}
    # Another slot's unlock covers nothing of this one.
    assert len(d.phone([out("10:00")], {("lb-1", 4): [t("09:59")]}, PERIODS, t("10:30"), LIMITS)) == 1


def test_a_phone_out_at_lunch_is_no_violation() -> None:
    assert d.phone([out("12:01")], {}, PERIODS, t("13:30"), LIMITS) == []
    assert len(d.phone([out("12:01")], {}, PERIODS, t("13:36"), LIMITS)) == 1


# -- the lifecycle and three strikes ---------------------------------------------------------


def test_the_lifecycle_steps_roles_and_reasons() -> None:
    assert d.transition("detected", "confirm", "duty_manager", "seen on video") == "confirmed"
    assert d.transition("detected", "dismiss", "manager", "was at the toilet, told the duty manager") == "dismissed"
    assert d.transition("confirmed", "appeal", "staff", "I was called away") == "appealed"
    assert d.transition("appealed", "decide", "manager", "checked", "overturned") == "decided"
    for state, action, role, text, code in (
        ("detected", "confirm", "staff", "x", "forbidden"),
        ("detected", "confirm", "manager", " ", "reason_required"),
        ("dismissed", "appeal", "staff", "x", "violation_state"),
        ("detected", "decide", "manager", "x", "violation_state"),
        ("appealed", "decide", "manager", "x", "outcome_required"),
    ):
        with pytest.raises(d.TransitionError) as e:
            d.transition(state, action, role, text)
        assert e.value.code == code, (state, action)
    assert d.counts("confirmed", None) and d.counts("appealed", None) and d.counts("decided", "upheld")
    assert not d.counts("detected", None) and not d.counts("dismissed", None)
    assert not d.counts("decided", "overturned")


def test_periods_of_the_strikes() -> None:
    assert period_of(t("10:00"), ZONE, "year")[0] == "2026"
    name, start, end = period_of(t("10:00"), ZONE, "quarter")
    assert (name, start.month, end.year, end.month) == ("2026-Q4", 10, 2027, 1)
    name, start, end = period_of(t("10:00"), ZONE, "month")
    assert (name, start.day, end.year, end.month) == ("2026-12", 1, 2027, 1)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    now = [t("12:00")]
    journal = Journal(tmp_path / "state.sqlite", clock=lambda: now[0])
    return Ledger(journal.repos.violations, Strikes(), "Asia/Shanghai", lambda: now[0])


def _record(led: Ledger, staff: str, n: int, day: date = DAY) -> list[int]:
    rows = [
        {"key": f"away:W01:{staff}:{day}:{i}", "kind": "away", "staff": staff, "window": "W01",
         "at_ns": t(f"10:{i:02d}", day), "evidence": [{"event": "punch", "ts_ns": t("10:00", day)}]}
        for i in range(n)
    ]  # fmt: skip
    return led.repo.add(rows, t("12:00"))


def test_detected_once_and_steps_audited(ledger: Ledger) -> None:
    (vid,) = _record(ledger, "A1", 1)
    assert _record(ledger, "A1", 1) == []  # the same occurrence again: not a second violation
    v = ledger.act(vid, "confirm", ("zhao.duty", "duty_manager"), " seen ")
    assert v["state"] == "confirmed"
    assert [(s["action"], s["actor"], s["text"]) for s in v["steps"]] == [
        ("detect", "gateway", ""),
        ("confirm", "zhao.duty", "seen"),
    ]
    with pytest.raises(d.TransitionError):
        ledger.act(vid, "dismiss", ("zhao.duty", "duty_manager"), "late")
    with pytest.raises(d.TransitionError) as e:  # a staff token appeals only for the person it names
        ledger.act(vid, "appeal", ("A2", "staff"), "not mine")
    assert e.value.code == "forbidden"
    assert ledger.act(vid, "appeal", ("A1", "staff"), "I was called away")["state"] == "appealed"


def test_three_confirmed_escalate_once_two_and_a_dismissed_do_not(ledger: Ledger) -> None:
    a = _record(ledger, "A1", 4)
    who = ("boss", "manager")
    ledger.act(a[0], "confirm", who, "r")
    ledger.act(a[1], "confirm", who, "r")
    ledger.act(a[2], "dismiss", who, "not so")
    assert ledger.repo.escalations() == [] and ledger.conditions(t("12:00")) == []
    ledger.act(a[3], "confirm", who, "r")
    (e,) = ledger.repo.escalations()
    assert (e["staff"], e["period"], e["violations"]) == ("A1", "2026", [a[0], a[1], a[3]])
    (c,) = ledger.conditions(t("12:00"))
    assert c.rule == "violation_strikes" and c.manual and f"#{a[3]}" in c.summary
    # A fourth counted one in the same year raises nothing more.
    (b,) = _record(ledger, "A1", 1, date(2026, 12, 8))
    ledger.act(b, "confirm", who, "r")
    assert len(ledger.repo.escalations()) == 1
    assert [(s["staff"], s["count"]) for s in ledger.strikes_now(t("12:00"))] == [("A1", 4)]


def test_last_years_violations_do_not_count_this_year(ledger: Ledger) -> None:
    old = _record(ledger, "A2", 2, date(2025, 12, 30))
    new = _record(ledger, "A2", 1)
    for vid in (*old, *new):
        ledger.act(vid, "confirm", ("boss", "manager"), "r")
    assert ledger.repo.escalations() == []
