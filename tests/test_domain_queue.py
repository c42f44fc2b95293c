"""The queue's visits and figures (gateway/domain/queue.py), pure: events in, visits and figures out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.queue import Visit, apply, event_id, percentile, reissued, summarise

CST = timezone(timedelta(hours=8))
DAY = "2026-12-07"
T0 = int(datetime(2026, 12, 7, 9, 0, tzinfo=CST).timestamp() * 1e9)
S = 10**9


def hour_of(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, CST).strftime("%H")


def play(events: list[tuple[str, dict, int]], device: str = "q-1") -> dict[str, Visit]:
    visits: dict[str, Visit] = {}
    for seq, (name, fields, ts) in enumerate(events):
        ticket = fields["ticket"]
        visits[ticket] = apply(visits.get(ticket), name, fields, ts, DAY, event_id(device, seq, ts, name))
    return visits


def life(ticket: str, issued: int, called: int, started: int, finished: int, **extra: object) -> list[tuple]:
    base = {"ticket": ticket, "window": "W07", "staff_id": "S0231"}
    return [
        (
            "issued",
            {"ticket": ticket, "line": ticket[0], "item": "社保卡补办", "source": extra.get("source", "walk_in")},
            issued,
        ),
        ("called", base, called),
        ("started", base, started),
        ("finished", {**base, "case_id": f"C-{ticket}", "result": extra.get("result", "done")}, finished),
    ]


def test_a_served_visit_has_its_waiting_and_handling_times() -> None:
    v = play(life("A031", T0, T0 + 300 * S, T0 + 320 * S, T0 + 920 * S))["A031"]
    tx = v.current
    assert (tx.waiting_ns, tx.handling_ns, tx.outcome, tx.case_id, tx.window) == (
        300 * S,
        600 * S,
        "done",
        "C-A031",
        "W07",
    )
    assert v.ended and not v.unissued


def test_a_recalled_ticket_waits_until_its_first_call_and_a_no_show_ends_at_its_last_call() -> None:
    events = [
        ("issued", {"ticket": "B002", "line": "B"}, T0),
        ("called", {"ticket": "B002", "window": "W02"}, T0 + 60 * S),
        ("called", {"ticket": "B002", "window": "W02", "recall": True}, T0 + 120 * S),
        ("called", {"ticket": "B002", "window": "W02", "recall": True}, T0 + 180 * S),
        ("no_show", {"ticket": "B002", "window": "W02"}, T0 + 240 * S),
    ]
    tx = play(events)["B002"].current
    assert (tx.waiting_ns, tx.calls, tx.outcome, tx.ended_ns, tx.handling_ns) == (
        60 * S,
        3,
        "no_show",
        T0 + 180 * S,
        None,
    )


def test_a_transfer_ends_one_transaction_and_the_next_waits_from_the_transfer() -> None:
    events = [
        ("issued", {"ticket": "A001", "line": "A", "source": "appointment"}, T0),
        ("called", {"ticket": "A001", "window": "W01"}, T0 + 10 * S),
        ("started", {"ticket": "A001", "window": "W01"}, T0 + 20 * S),
        ("transferred", {"ticket": "A001", "from_window": "W01", "to_line": "B"}, T0 + 100 * S),
        ("called", {"ticket": "A001", "window": "W05"}, T0 + 400 * S),
        ("started", {"ticket": "A001", "window": "W05"}, T0 + 410 * S),
        ("finished", {"ticket": "A001", "window": "W05", "case_id": "C1", "result": "pending_materials"}, T0 + 710 * S),
    ]
    v = play(events)["A001"]
    first, second = v.transactions
    assert (first.line, first.outcome, first.waiting_ns, first.handling_ns) == ("A", "transferred", 10 * S, None)
    assert (second.line, second.waiting_ns, second.handling_ns, second.outcome) == (
        "B",
        300 * S,
        300 * S,
        "pending_materials",
    )
    assert second.source == "appointment"
    by_line = summarise([v], "line", hour_of)
    assert (by_line["A"].transfers, by_line["A"].issued, by_line["B"].tickets, by_line["B"].served) == (1, 1, 1, 1)


def test_a_call_for_a_ticket_never_issued_is_kept_and_counted() -> None:
    v = play([("called", {"ticket": "C009", "window": "W09"}, T0)])["C009"]
    assert v.unissued and v.current.waiting_ns is None and v.current.line == "C"
    f = summarise([v], "line", hour_of)["C"]
    assert (f.tickets, f.issued, f.unissued) == (1, 0, 1)
    late = apply(v, "issued", {"ticket": "C009", "line": "C"}, T0 - 60 * S, DAY, "q#9@x:issued")
    assert not late.unissued and late.current.waiting_ns == 60 * S


def test_a_second_issue_of_a_ticket_the_same_day_is_another_visit_but_a_resend_is_not() -> None:
    v = play(life("A001", T0, T0 + S, T0 + 2 * S, T0 + 3 * S))["A001"]
    resent = event_id("q-1", 0, T0, "issued")
    assert not reissued(v, "issued", resent)
    assert apply(v, "issued", {"ticket": "A001"}, T0, DAY, resent) is v
    assert reissued(v, "issued", event_id("q-1", 500, T0 + 3600 * S, "issued"))


events_strategy = st.lists(
    st.tuples(
        st.integers(0, 3000),  # issue offset s
        st.integers(0, 3600),  # wait s
        st.integers(0, 1800),  # handling s
        st.sampled_from(["done", "pending_materials", "rejected", "no_show"]),
        st.booleans(),  # appointment
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False))
def test_figures_equal_an_independent_count_whatever_the_order_and_resends(spec: list, rnd) -> None:
    events: list[tuple] = []
    for i, (at, wait, handle, outcome, appt) in enumerate(spec):
        t = f"A{i + 1:03d}"
        issued, called = T0 + at * S, T0 + (at + wait) * S
        if outcome == "no_show":
            events += [
                ("issued", {"ticket": t, "line": "A", "source": "appointment" if appt else "walk_in"}, issued),
                ("called", {"ticket": t, "window": "W01"}, called),
                ("no_show", {"ticket": t, "window": "W01"}, called + 30 * S),
            ]
        else:
            events += life(
                t,
                issued,
                called,
                called + S,
                called + (1 + handle) * S,
                result=outcome,
                source="appointment" if appt else "walk_in",
            )
    numbered = [(seq, e) for seq, e in enumerate(events)]
    replayed = numbered + rnd.sample(numbered, len(numbered) // 3)  # a range sent again
    rnd.shuffle(replayed)
    visits: dict[str, Visit] = {}
    for seq, (name, fields, ts) in replayed:
        ticket = fields["ticket"]
        visits[ticket] = apply(visits.get(ticket), name, fields, ts, DAY, event_id("q-1", seq, ts, name))
    f = summarise(visits.values(), "line", hour_of)["A"]
    served = [s for s in spec if s[3] != "no_show"]
    assert (f.issued, f.tickets, f.unissued) == (len(spec), len(spec), 0)
    assert (f.served, f.no_shows) == (len(served), len(spec) - len(served))
    assert sorted(f.waiting) == sorted(s[1] * S for s in spec)
    assert sorted(f.handling) == sorted(s[2] * S for s in served)
    assert f.out()["appointment_share"] == round(sum(s[4] for s in spec) / len(spec), 4)
    assert all(v.current.calls == 1 for v in visits.values())


def test_percentile_interpolates_like_the_usual_definition() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([float(x) for x in range(1, 11)], 90) == 9.1
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
