"""Attendance and posts: pure rules, property-tested."""

from __future__ import annotations

from datetime import date, time

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.attendance import NS, Day, Punch, clock_reset, daily, effective, post_state

TZ = "Asia/Shanghai"
D = date(2026, 11, 23)
DAY = Day.of(D, time(9), time(17), TZ, (time(12), time(13, 30)))
T0 = DAY.start_ns


def at(h: int, m: int = 0, s: int = 0) -> int:
    return T0 + ((h - 9) * 3600 + m * 60 + s) * NS


punch_lists = st.lists(
    st.builds(
        Punch,
        st.sampled_from(["att-1", "att-2"]),
        st.integers(0, 50),
        st.integers(0, 9 * 3600).map(lambda s: T0 + s * NS),
        st.just("S1"),
        st.just("face"),
        st.sampled_from(["in", "out", "unknown"]),
    ),
    max_size=30,
    unique_by=lambda p: (p.device, p.seq),
)


@given(punch_lists, st.randoms(), st.integers(1, 3))
@settings(max_examples=300)
def test_backlog_out_of_order_and_twice_gives_clean_figures(punches, rnd, times) -> None:
    replay = [p for p in punches for _ in range(times)]
    rnd.shuffle(replay)
    # the store keeps one of each (device, seq, time): what reaches the rules is the same set
    assert effective(set(replay)) == effective(punches)
    assert daily("S1", set(replay), DAY) == daily("S1", punches, DAY)


def test_double_touch_counts_once_and_unknown_alternates() -> None:
    ps = [
        Punch("a", 1, at(8, 55), "S1"),
        Punch("a", 2, at(8, 55, 1), "S1"),
        Punch("a", 3, at(12), "S1"),
        Punch("a", 4, at(13, 20), "S1"),
        Punch("a", 5, at(17, 5), "S1"),
    ]
    dirs = [d for _, d in effective(ps)]
    assert dirs == ["in", "out", "in", "out"]
    rec = daily("S1", ps, DAY)
    assert (rec.first_in_ns, rec.last_out_ns, rec.late, rec.early_leave, rec.missing) == (
        at(8, 55),
        at(17, 5),
        False,
        False,
        [],
    )


def test_late_early_and_missing() -> None:
    rec = daily(
        "S1", [Punch("a", 1, at(9, 10), "S1", direction="in"), Punch("a", 2, at(16), "S1", direction="out")], DAY
    )
    assert rec.late and rec.early_leave and rec.missing == []
    rec = daily("S1", [Punch("a", 1, at(9, 10), "S1", direction="in")], DAY)
    assert rec.missing == ["out"] and not rec.early_leave
    rec = daily("S1", [], DAY)
    assert rec.missing == ["in", "out"]


def test_clock_reset_dates() -> None:
    now = at(10)
    assert clock_reset(now - 40 * 86400 * NS, now, past_s=31 * 86400) == "past"
    assert clock_reset(now + 2 * 86400 * NS, now, past_s=31 * 86400) == "future"
    assert clock_reset(now - 3600 * NS, now, past_s=31 * 86400) is None


def test_post_staffed_by_a_or_b_and_absence_excludes_lunch() -> None:
    day0 = T0 - 9 * 3600 * NS
    ps = {
        "A": [
            Punch("a", 1, at(8, 50), "A", direction="in"),
            Punch("a", 2, at(11), "A", direction="out"),
            Punch("a", 3, at(14), "A", direction="in"),
        ],
        "B": [Punch("a", 4, at(11, 10), "B", direction="in"), Punch("a", 5, at(11, 40), "B", direction="out")],
    }
    s = post_state("W01", "A", "B", ps, DAY, day0, at(11, 20))
    assert (s.on_post, s.covered, s.since_ns) == ("B", True, at(11, 10))
    assert s.absence_s_today == 600
    s = post_state("W01", "A", "B", ps, DAY, day0, at(13, 45))
    # empty since 11:40; lunch 12:00-13:30 is not working time: 20 + 15 minutes
    assert (s.on_post, s.empty_since_ns, s.current_absence_s) == (None, at(11, 40), 35 * 60)
    assert s.absence_s_today == 600 + 35 * 60
    s = post_state("W01", "A", "B", ps, DAY, day0, at(15))
    assert (s.on_post, s.covered, s.current_absence_s) == ("A", False, 0)


@given(punch_lists, st.integers(0, 9 * 3600))
def test_absence_never_exceeds_working_time(punches, secs) -> None:
    now = T0 + secs * NS
    s = post_state("W01", "S1", None, {"S1": punches}, DAY, T0 - 9 * 3600 * NS, now)
    worked = sum(max(0, min(e, now) - a) for a, e in DAY.periods()) / NS
    assert 0 <= s.current_absence_s <= s.absence_s_today <= worked + 1e-6
    assert (s.on_post is None) == (s.empty_since_ns is not None)
