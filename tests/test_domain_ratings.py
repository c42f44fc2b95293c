"""Ratings, work orders and the hall calendar: pure rules, property-tested."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.calendar import WorkCalendar
from gateway.domain.ratings import Ledger, Rating, rating_key, summarize
from gateway.domain.workorders import TransitionError, WorkOrder, deadline_ns, transition

CAL = WorkCalendar.of(["mon", "tue", "wed", "thu", "fri"])


def rating(device: str, seq: int, ts: int, case: str, score: int | None, window: str = "W01") -> Rating:
    rated = score is not None
    return Rating(
        rating_key(rated, case, device, seq, ts),
        rated,
        device,
        seq,
        ts,
        "2026-11-23",
        case if rated else "",
        window,
        "S1",
        "item",
        "z",
        "A001",
        score,
        ("slow",) if score in (1, 2) else (),
    )


events = st.lists(
    st.builds(
        rating,
        st.sampled_from(["rp-1", "rp-2"]),
        st.integers(0, 30),
        st.integers(0, 5),
        st.sampled_from(["", "c1", "c2", "c3"]),
        st.one_of(st.none(), st.integers(1, 5)),
        st.sampled_from(["W01", "W02"]),
    ),
    max_size=40,
    unique_by=lambda r: r.event_id,  # a resend is the same event: the same fields
)


def figures(ledger: Ledger, by: str | None) -> dict[str, dict[str, object]]:
    return {k: f.out() for k, f in ledger.figures(by).items()}


@given(events, st.randoms(), st.integers(1, 3))
@settings(max_examples=300)
def test_replays_in_any_order_any_number_of_times_give_the_same_figures(evs, rnd, times) -> None:
    clean = Ledger()
    for e in evs:
        clean.add(e)
    replay = [e for e in evs for _ in range(times)]
    rnd.shuffle(replay)
    again = Ledger()
    for e in replay:
        again.add(e)
    for by in (None, "window", "day"):
        assert figures(again, by) == figures(clean, by)
    assert again.duplicates == clean.duplicates


def test_one_rating_per_case_and_no_case_counts_flagged() -> None:
    led = Ledger()
    assert led.add(rating("rp-1", 1, 10, "c1", 5)) == "new"
    assert led.add(rating("rp-1", 1, 10, "c1", 5)) == "resend"
    assert led.add(rating("rp-1", 2, 11, "c1", 1)) == "duplicate"
    assert led.add(rating("rp-1", 3, 12, "", 4)) == "new"
    assert led.add(rating("rp-1", 4, 13, "", 4)) == "new"  # no case: only device and seq say "the same"
    assert led.add(rating("rp-1", 5, 14, "", None)) == "new"
    f = led.figures()[""].out()
    assert (f["rated"], f["unrated"], f["no_case_id"], led.duplicates) == (3, 1, 2, 1)
    assert f["rating_rate"] == 0.75 and f["good_rate"] == 1.0 and f["bad_rate"] == 0.0
    assert f["mean"] == round(13 / 3, 3)


@given(st.lists(st.integers(1, 5), min_size=1, max_size=50), st.integers(0, 20))
def test_rates_add_up(scores, unrated) -> None:
    rs = [rating("rp", i, i, f"c{i}", s) for i, s in enumerate(scores)]
    rs += [rating("rp", 100 + i, 100 + i, "", None) for i in range(unrated)]
    f = summarize(rs)[""].out()
    assert sum(f["scores"].values()) == f["rated"] == len(scores)
    assert f["good_rate"] + f["bad_rate"] <= 1.0 + 1e-9
    assert abs(f["rating_rate"] - len(scores) / (len(scores) + unrated)) < 1e-4
    assert sum(f["bad_reasons"].values()) == sum(s <= 2 for s in scores)


# -- the calendar ---------------------------------------------------------------------------------

days = st.dates(date(2025, 1, 1), date(2027, 12, 31))


@given(days, st.integers(1, 40), st.sets(days, max_size=30), st.sets(days, max_size=10))
@settings(max_examples=300)
def test_working_day_arithmetic_over_holidays_and_extra_days(start, n, holidays, workdays) -> None:
    cal = WorkCalendar.of(["mon", "tue", "wed", "thu", "fri"], holidays - workdays, workdays)
    end = cal.add_working_days(start, n)
    assert end > start and cal.is_working(end)
    assert cal.working_days_between(start, end) == n
    assert cal.working_days_between(start, end - timedelta(days=1)) == n - 1
    for h in holidays - workdays:
        assert not cal.is_working(h)
    for w in workdays:
        assert cal.is_working(w)


def test_national_day_with_tiaoxiu() -> None:
    # 2026: 10-01..10-07 off; Sunday 09-28 and Saturday 10-10 worked instead (调休).
    cal = WorkCalendar.of(
        ["mon", "tue", "wed", "thu", "fri"],
        [date(2026, 10, d) for d in range(1, 8)],
        [date(2026, 9, 27), date(2026, 10, 10)],
    )
    assert cal.add_working_days(date(2026, 9, 26), 1) == date(2026, 9, 27)  # a Sunday worked
    assert cal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)  # a Saturday worked
    assert cal.add_working_days(date(2026, 9, 30), 15) == date(2026, 10, 27)


# -- work orders ----------------------------------------------------------------------------------


def order() -> WorkOrder:
    rated = 1_795_000_000 * 10**9
    return WorkOrder(
        1,
        "case:c1",
        "c1",
        "W01",
        "S1",
        "item",
        1,
        ("slow",),
        "rp-1",
        rated,
        rated,
        deadline_ns(rated, CAL, "Asia/Shanghai"),
    )


def test_work_order_paths_and_overdue() -> None:
    o = order()
    assert not o.overdue(o.opened_ns) and o.overdue(o.deadline_ns)
    try:
        transition(o, "rectify", "done", 1)
        raise AssertionError("rectify before callback")
    except TransitionError as e:
        assert "open" in str(e)
    o = transition(o, "callback", "called the citizen", 2)
    o = transition(o, "appeal", "the citizen rated the wrong window", 3)
    assert o.state == "appealed" and not o.overdue(o.deadline_ns)
    o = transition(o, "close", "appeal accepted", 4)
    assert o.state == "closed"


@given(st.lists(st.sampled_from(["callback", "rectify", "appeal", "close", "x"]), max_size=8))
def test_transitions_only_move_forward(actions) -> None:
    o, order_of = order(), ["open", "called_back", "rectified", "closed"]
    for a in actions:
        before = o.state
        try:
            o = transition(o, a, "note", 5)
        except TransitionError:
            assert o.state == before
            continue
        rank = {**{s: i for i, s in enumerate(order_of)}, "appealed": 2}
        assert rank[o.state] == rank[before] + 1
