"""The queue system's day model (firmware_sim/kinds/queue_day.py): pure, seeded, checked by its
invariants over whole days and over generated small halls."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_sim.hall import HallConfigError, HallSimulator
from firmware_sim.kinds.queue import QueueSystem
from firmware_sim.kinds.queue_day import (
    DEFAULT_LINES,
    MAX_CALLS,
    DayConfig,
    DayPlan,
    default_serves,
    plan_day,
)
from firmware_sim.kinds.queue_state import Relabeller, Waiting

DAY = date(2026, 12, 7)


def config(windows: int = 30, tickets: int = 3000, seed: int | str = 0, **kw: Any) -> DayConfig:
    names = tuple(f"W{n:02d}" for n in range(1, windows + 1))
    kw.setdefault("lunch_windows", frozenset(names[::3]))
    return DayConfig(DAY, names, default_serves(names, DEFAULT_LINES), tickets=tickets, seed=seed, **kw)


def check_day(plan: DayPlan) -> Counter[str]:
    """Every invariant of a day; returns how each visit ended."""
    cfg = plan.config
    times = [e.t for e in plan.events]
    assert times == sorted(times)
    state: dict[int, str] = {}  # visit -> waiting / called / serving / transferred-waiting / ended
    line_of: dict[int, str] = {}
    calls: dict[int, int] = {}
    waiting = Counter[str]()
    at_window: dict[str, int] = {}  # window -> the visit it is calling or serving
    ends: Counter[str] = Counter()
    lunch_lo, lunch_hi = cfg.lunch
    for e in plan.events:
        f, v = e.fields, e.visit
        kind = f["type"]
        if kind == "issued":
            assert v not in state and cfg.issue_from_s <= e.t <= cfg.issue_until_s
            state[v], line_of[v] = "waiting", f["line"]
            assert f["ticket"][0] == f["line"] and f["source"] in ("walk_in", "appointment")
            assert f["waiting_ahead"] >= 0
            waiting[f["line"]] += 1
        elif kind == "called":
            w = f["window"]
            assert line_of[v] in cfg.serves[w], "a window calls only its lines"
            if f.get("recall"):
                assert state[v] == "called" and at_window[w] == v
                calls[v] += 1
                assert calls[v] <= MAX_CALLS
            else:
                assert state[v] == "waiting", f"{f} of a visit that is {state.get(v)}"
                assert w not in at_window, f"{w} calls {f['ticket']} while busy with visit {at_window.get(w)}"
                assert e.t >= cfg.open_s
                assert not (w in cfg.lunch_windows and lunch_lo <= e.t < lunch_hi), f"{w} called at lunch"
                state[v], at_window[w], calls[v] = "called", v, 1
                waiting[line_of[v]] -= 1
                assert waiting[line_of[v]] >= 0
        elif kind == "no_show":
            assert state[v] == "called" and calls[v] == MAX_CALLS and at_window.pop(f["window"]) == v
            state[v] = "ended"
            ends["no_show"] += 1
        elif kind == "started":
            assert state[v] == "called" and at_window[f["window"]] == v
            state[v] = "serving"
        elif kind == "transferred":
            assert state[v] == "serving" and at_window.pop(f["from_window"]) == v
            assert f["to_line"] != line_of[v]
            state[v], line_of[v] = "waiting", f["to_line"]
            waiting[f["to_line"]] += 1
            ends["transferred"] += 1
        elif kind == "finished":
            assert state[v] == "serving" and at_window.pop(f["window"]) == v
            assert f["result"] in ("done", "pending_materials", "rejected") and f["case_id"]
            state[v] = "ended"
            ends["finished"] += 1
        else:
            raise AssertionError(f"unknown event {f}")
    assert all(s == "ended" for s in state.values()), Counter(state.values())
    assert len(state) == cfg.tickets and not at_window and not any(waiting.values())
    return ends


def test_a_large_day_keeps_every_invariant_and_looks_like_a_hall() -> None:
    plan = plan_day(config())
    ends = check_day(plan)
    issued = [e for e in plan.events if e.fields["type"] == "issued"]
    assert len(issued) == 3000
    appointments = sum(1 for e in issued if e.fields["source"] == "appointment")
    assert 0.05 <= appointments / 3000 <= 0.10
    assert ends["no_show"] > 0 and ends["transferred"] > 0 and ends["finished"] + ends["no_show"] == 3000
    per_hour = Counter(int(e.t // 3600) for e in issued)
    assert max(per_hour[9], per_hour[10]) > 2 * per_hour[12] < max(per_hour[14], per_hour[15])
    # per-item handling: 不动产登记 (median 10 min) takes longer than 社保卡补办 (4 min)
    started = {e.visit: e.t for e in plan.events if e.fields["type"] == "started"}
    minutes: dict[str, list[float]] = {}
    for e in plan.events:
        if e.fields["type"] == "finished":
            minutes.setdefault(plan.visits[e.visit].item, []).append((e.t - started[e.visit]) / 60)
    assert statistics.median(minutes["不动产登记"]) > 1.8 * statistics.median(minutes["社保卡补办"])
    # recalls: some citizens answer a later call
    assert any(e.fields.get("recall") for e in plan.events)


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    first, again, other = (plan_day(config(8, 300, seed=s)) for s in (1, 1, 2))
    assert [(e.t, e.fields) for e in first.events] == [(e.t, e.fields) for e in again.events]
    assert [e.fields for e in first.events] != [e.fields for e in other.events]


def test_lunch_closes_the_lunch_windows_in_the_snapshot() -> None:
    plan = plan_day(config(6, 400))
    state = Waiting(plan.config, plan.ends_s)
    at_lunch = {x["line"]: x["open_windows"] for x in state.snapshot(12.5 * 3600)}
    before = {x["line"]: x["open_windows"] for x in state.snapshot(11 * 3600)}
    lunchers = plan.config.lunch_windows
    assert lunchers and all(not set(ws) & lunchers for ws in at_lunch.values())
    assert set().union(*before.values()) == set(plan.config.windows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    windows=st.integers(1, 9),
    tickets=st.integers(0, 250),
    lunch=st.sets(st.integers(0, 8)),
    transfers=st.floats(0, 0.5),
    no_shows=st.floats(0, 0.3),
)
def test_any_small_hall_keeps_every_invariant(
    seed: int, windows: int, tickets: int, lunch: set[int], transfers: float, no_shows: float
) -> None:
    names = tuple(f"W{n:02d}" for n in range(1, windows + 1))
    cfg = config(
        windows,
        tickets,
        seed,
        lunch_windows=frozenset(names[i] for i in lunch if i < windows),
        transfer_share=transfers,
        no_show_share=no_shows,
    )
    check_day(plan_day(cfg))


def test_after_a_restart_ticket_numbers_repeat_for_other_visits() -> None:
    plan = plan_day(config(6, 300))
    relabel = Relabeller()
    issued: dict[str, list[int]] = {}
    tickets: dict[int, set[str]] = {}
    for i, event in enumerate(plan.events):
        if i == len(plan.events) // 2:
            relabel.restart()
        fields = relabel.apply(event)
        tickets.setdefault(event.visit, set()).add(fields["ticket"])
        if fields["type"] == "issued":
            issued.setdefault(fields["ticket"], []).append(event.visit)
    assert issued["A001"][0] != issued["A001"][1] and issued["B001"][0] != issued["B001"][1]
    assert all(len(t) == 1 for t in tickets.values()), "a visit keeps the number it was issued with"


def test_lines_and_options_from_a_hall_file_are_checked() -> None:
    with pytest.raises(HallConfigError, match=r"unknown options \['tickets_a_day'\]"):
        HallSimulator({"site": "s", "devices": [{"id": "q", "kind": "queue", "sim": {"tickets_a_day": 5}}]})
    bad_line = {"line": "A", "name": "商事登记", "items": {"营业执照设立登记": 9}, "counters": 3}
    with pytest.raises(HallConfigError, match=r"lines\[0\]: unknown keys \['counters'\]"):
        HallSimulator({"site": "s", "devices": [{"id": "q", "kind": "queue", "sim": {"lines": [bad_line]}}]})
    for sim, message in (
        ({"speed": 0}, "speed"),
        ({"date": "7.12.2026"}, "date: expected YYYY-MM-DD"),
        ({"lunch": "13:00-12:00"}, "lunch: the end must come after"),
        ({"lunch_windows": ["W99"]}, r"lunch_windows: \['W99'\]"),
    ):
        with pytest.raises(HallConfigError, match=message):
            HallSimulator({"site": "s", "devices": [{"id": "q", "kind": "queue", "sim": sim}]})


def test_lines_with_their_own_windows() -> None:
    lines = [
        {"line": "A", "name": "商事登记", "share": 0.7, "items": {"营业执照设立登记": 8}, "windows": ["W01", "W02"]},
        {"line": "K", "name": "开办企业", "share": 0.3, "items": {"企业开办": 5}},
    ]
    q = QueueSystem("q", windows=4, tickets=120, lines=lines, state_dir=None, date="2026-12-07")
    assert q.config.serves == {"W01": ("A",), "W02": ("A",), "W03": ("K",), "W04": ("K",)}
    ends = check_day(q.plan)
    assert ends["finished"] + ends["no_show"] == 120
