"""The state database's ratings and punches against the pure reference rules, and the projections
with the clock passed in: overdue orders, 差评 alerts raised once, 空岗."""

from __future__ import annotations

import random
import tempfile
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config.errors import ConfigError
from gateway.config.hall import HallConfig
from gateway.config.load import load_config
from gateway.domain.canonical import Event
from gateway.domain.ratings import Ledger, Rating, rating_key
from gateway.kinds.attendance import AttendanceProjection
from gateway.kinds.rating_pad import RatingsProjection
from gateway.kinds.rating_pad.store import RatingStore
from gateway.kinds.registry import stores
from gateway.store.journal import Journal
from gateway.store.staged import connect

NS = 10**9


def rating(device: str, seq: int, ts: int, case: str, score: int | None) -> Rating:
    rated = score is not None
    return Rating(
        rating_key(rated, case, device, seq, ts), rated, device, seq, ts, f"2026-11-{20 + ts % 3}",
        case if rated else "", f"W0{seq % 3}", "S1", f"item {seq % 2}", "z", "A1", score,
        ("slow",) if score in (1, 2) else (),
    )  # fmt: skip


events = st.lists(
    st.builds(
        rating,
        st.sampled_from(["rp-1", "rp-2"]),
        st.integers(0, 20),
        st.integers(0, 5),
        st.sampled_from(["", "c1", "c2", "c3"]),
        st.one_of(st.none(), st.integers(1, 5)),
    ),
    max_size=30,
    unique_by=lambda r: r.event_id,
)


@given(events, st.randoms(), st.integers(1, 3), st.integers(1, 7))
@settings(max_examples=60, deadline=None)
def test_the_database_counts_like_the_reference_in_any_order(evs, rnd, times, batch) -> None:
    ledger = Ledger()
    for e in evs:
        ledger.add(e)
    upload = [e for e in evs for _ in range(times)]
    rnd.shuffle(upload)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.sqlite"
        Journal(path, stores=stores()).close()
        conn = connect(path)
        store = RatingStore(conn)
        for i, e in enumerate(upload):
            store.add(e)
            if i % batch == 0:
                store.flush()  # batches of any size
        for by in (None, "window", "day", "item"):
            got, duplicates = store.summary(0, 10**18, by)
            assert {k: f.out() for k, f in got.items()} == {k: f.out() for k, f in ledger.figures(by).items()}
        assert duplicates == ledger.duplicates
        conn.close()


def _hall(tmp: Path, **extra: Any) -> tuple[HallConfig, dict[str, Any], Journal]:
    cfg = HallConfig.model_validate({"site": "t", "timezone": "Asia/Shanghai", **extra})
    devices = {
        "rp-1": SimpleNamespace(id="rp-1", kind="rating_pad", config=SimpleNamespace(zone="z", window="W01")),
        "att-1": SimpleNamespace(id="att-1", kind="attendance", config=SimpleNamespace(zone=None, window=None)),
    }
    return cfg, devices, Journal(tmp / "state.sqlite", stores=stores())


def test_bad_rating_alert_once_and_overdue_on_the_hall_calendar(tmp_path: Path) -> None:
    cfg, devices, journal = _hall(tmp_path, working_hours={"holidays": ["2026-12-01"]})
    p = RatingsProjection(cfg, devices)  # type: ignore[arg-type]
    close = p.attach(journal)
    rated = 1_795_000_000 * NS  # 2026-11-18 (a Wednesday), hall time
    bad = Event(
        "rp-1", "rated", rated, {"case_id": "c9", "staff_id": "S1", "item": "x", "score": 2, "reasons": ["slow"]}, 5
    )
    p.apply(bad, rated)
    first = p.conditions(rated)
    assert [c.rule for c in first] == ["bad_rating"] and first[0].manual and "case c9" in first[0].summary
    p.apply(bad, rated)  # resent
    p.apply(Event("rp-1", "rated", rated + NS, {"case_id": "c9", "score": 1}, 6), rated)  # a second rating of c9
    assert p.conditions(rated) == []  # raised once, never again
    (order,) = p.store.orders()  # type: ignore[union-attr]
    # 15 working days after 11-18, one holiday (12-01) in between: Wednesday 12-10, until midnight.
    assert order.deadline_ns == int(datetime(2026, 12, 11, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()) * NS
    assert [c.rule for c in p.conditions(order.deadline_ns - 1)] == []
    assert [c.rule for c in p.conditions(order.deadline_ns)] == ["workorder_overdue"]
    p.act(order.id, "callback", "duty_manager", "called", order.deadline_ns)
    assert [c.rule for c in p.conditions(order.deadline_ns)] == ["workorder_overdue"]  # still not rectified
    p.act(order.id, "appeal", "duty_manager", "malicious", order.deadline_ns)
    assert p.conditions(order.deadline_ns) == []
    close()
    journal.close()


@pytest.mark.parametrize("limit_min", [30])
def test_post_empty_over_the_limit_in_working_time_only(tmp_path: Path, limit_min: int) -> None:
    cfg, devices, journal = _hall(tmp_path, posts=[{"window": "W01", "a": "A1", "b": "B1"}])
    p = AttendanceProjection(cfg, devices)  # type: ignore[arg-type]
    close = p.attach(journal)
    nine = 1_795_395_600 * NS  # Monday 2026-11-23 09:00 hall time (01:00 UTC)
    minute = 60 * NS
    punches = [(nine - 10 * minute, "A1"), (nine - 10 * minute + NS, "A1"), (nine + 60 * minute, "A1")]
    random.Random(1).shuffle(punches)
    for seq, (ts, who) in enumerate(punches * 2):
        p.apply(Event("att-1", "punch", ts, {"staff_id": who, "direction": "unknown"}, seq % 3), nine)
    assert p.conditions(nine) == []  # the gateway watches from nine
    assert p.conditions(nine + 60 * minute + limit_min * minute) == []  # 30 minutes away: not yet
    (c,) = p.conditions(nine + 60 * minute + (limit_min + 1) * minute)
    assert (c.rule, c.key) == ("post_empty", "window W01")
    # Lunch (12:00-13:30) is not working time: an empty post over lunch is not 空岗 then.
    assert p.conditions(nine + 3 * 60 * minute + 30 * minute) == []
    p.apply(Event("att-1", "punch", nine + 200 * minute, {"staff_id": "B1", "direction": "in"}, 9), nine)
    (s,) = p.post_states(nine + 201 * minute)
    assert (s.on_post, s.covered) == ("B1", True)
    (rec,) = [r for r in p.daily(date(2026, 11, 23), nine) if r.staff == "A1"]
    assert (rec.punches, rec.missing, rec.late) == (2, [], False)
    close()
    journal.close()


def test_an_empty_spell_counts_from_when_the_gateway_began_watching(tmp_path: Path) -> None:
    """Started at ten with no punches known, the gateway cannot tell the post was empty since nine:
    空岗 only after the limit has passed under its own eyes, and a restart does not start it again."""
    cfg, devices, journal = _hall(tmp_path, posts=[{"window": "W01", "a": "A1", "b": "B1"}])
    p = AttendanceProjection(cfg, devices)  # type: ignore[arg-type]
    close = p.attach(journal)
    ten = 1_795_395_600 * NS + 3600 * NS  # Monday 2026-11-23 10:00 hall time
    minute = 60 * NS
    assert p.conditions(ten) == []
    assert p.conditions(ten + 30 * minute) == []
    assert [c.rule for c in p.conditions(ten + 31 * minute)] == ["post_empty"]
    again = AttendanceProjection(cfg, devices)  # type: ignore[arg-type]
    again.restore(p.state())  # type: ignore[arg-type]
    again.attach(journal)
    assert [c.rule for c in again.conditions(ten + 32 * minute)] == ["post_empty"]
    # Running through the night, it watches the next day from its start: empty since nine is 空岗 at ten.
    assert [c.rule for c in again.conditions(ten + 24 * 60 * minute)] == ["post_empty"]
    # Started anew the day after, it cannot tell again.
    later = AttendanceProjection(cfg, devices)  # type: ignore[arg-type]
    later.restore(again.state())  # type: ignore[arg-type]
    later.attach(journal)
    assert later.conditions(ten + 2 * 24 * 60 * minute) == []
    close()
    journal.close()


def test_a_date_both_holiday_and_extra_working_day_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "hall.yaml"
    f.write_text(
        "site: h\nworking_hours: {holidays: [2026-10-01], workdays: [2026-10-01]}\n"
        "posts: [{window: W1, a: S1}, {window: W1, a: S2}]\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert "working_hours" in str(e.value) and "2026-10-01" in str(e.value)
    assert "posts" in str(e.value) and "W1" in str(e.value)
