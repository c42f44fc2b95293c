"""The queue summary's figures from the store (its table of transactions and the whole days' figures
it keeps) equal the domain's `summarise` over the visits themselves: for whole days, for a period
that cuts its first and last day, after a late event changed a day already read, and in a state
file whose visits were kept before the table existed."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from firmware_sim.kinds.queue_day import DEFAULT_LINES, DayConfig, default_serves, plan_day
from gateway.domain.canonical import Event
from gateway.domain.queue import Figures, summarise
from gateway.kinds.queue import QueueProjection
from gateway.kinds.queue.settings import standalone
from gateway.kinds.queue.store import VisitStore, dump
from gateway.store.journal import Journal
from gateway.store.repository import Repository

TZ = ZoneInfo("Asia/Shanghai")
WINDOWS = tuple(f"W{n:02d}" for n in range(1, 7))
FIRST = date(2026, 11, 2)
GROUPS = ("line", "window", "staff", "item", "hour")


def at(day: date, hour: float = 0.0) -> int:
    return int((datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(hours=hour)).timestamp()) * 10**9


def days_of_events(days: int, tickets: int = 150) -> list[Event]:
    out, seq = [], 0
    for n in range(days):
        day = FIRST + timedelta(days=n)
        serves = default_serves(WINDOWS, DEFAULT_LINES)
        cfg = DayConfig(day, WINDOWS, serves, tickets=tickets, seed=n, transfer_share=0.1, no_show_share=0.1)
        for e in plan_day(cfg).events:
            fields = {k: v for k, v in e.fields.items() if k != "type"}
            out.append(Event("q-1", e.fields["type"], at(day) + round(e.t * 1000) * 10**6, fields, seq))
            seq += 1
    return out


def projection(path: Path, stores: list[type[Repository]] | None = None) -> tuple[QueueProjection, Any]:
    devices = {"q-1": SimpleNamespace(id="q-1", kind="queue")}
    p = QueueProjection(standalone(), devices)  # type: ignore[arg-type]
    journal = Journal(path, stores=stores or [VisitStore])
    close = p.attach(journal)

    def shut() -> None:
        close()
        journal.close()

    return p, shut


def expected(p: QueueProjection, a: int, b: int, by: str | None) -> dict[Any, dict[str, Any]]:
    visits = [v for _, v in p.visits(a, b)]
    if by is None:
        return {None: _total(summarise(visits, "day", p.hour_of))} if visits else {}
    return {k: f.out() for k, f in summarise(visits, by, p.hour_of).items()}


def _total(groups: dict[str, Any]) -> dict[str, Any]:
    """One group of every visit: the days' groups put together (as the API did before the store could)."""
    t = Figures()
    for f in groups.values():
        for name in ("tickets", "issued", "appointments", "served", "no_shows", "transfers", "unissued"):
            setattr(t, name, getattr(t, name) + getattr(f, name))
        t.waiting += f.waiting
        t.handling += f.handling
    return t.out()


def check(p: QueueProjection, a: int, b: int) -> None:
    assert p.store is not None
    for by in (None, *GROUPS):
        got = p.store.figures(a, b, by)
        assert got == expected(p, a, b, by), by
        assert got, by


def test_whole_days_and_cut_days_give_the_figures_of_their_visits(tmp_path: Path) -> None:
    p, shut = projection(tmp_path / "state.sqlite")
    for e in days_of_events(4):
        p.apply(e, e.ts_ns)
    assert p.store is not None
    p.store.flush()
    last = FIRST + timedelta(days=3)
    check(p, at(FIRST), at(last + timedelta(days=1)))  # four whole days
    check(p, at(FIRST, 10.5), at(last, 14.25))  # the first and the last cut
    check(p, at(FIRST, 10.5), at(FIRST, 11))  # within one day
    check(p, at(FIRST + timedelta(days=1)), at(FIRST + timedelta(days=1), 12))  # one day's morning
    assert p.store.figures(at(FIRST, 3), at(FIRST, 3), "line") == {}  # an empty period
    shut()


def test_a_day_already_read_is_read_again_once_a_late_event_changed_it(tmp_path: Path) -> None:
    p, shut = projection(tmp_path / "state.sqlite")
    events = days_of_events(3)
    held = [e for e in events if e.name == "finished" and e.ts_ns < at(FIRST + timedelta(days=1))][-5:]
    for e in events:
        if e not in held:
            p.apply(e, e.ts_ns)
    assert p.store is not None
    a, b = at(FIRST), at(FIRST + timedelta(days=3))
    before = p.store.figures(a, b, "window")
    check(p, a, b)
    for e in held:  # a backlog: the first day's last finishes come late
        p.apply(e, e.ts_ns)
    after = p.store.figures(a, b, "window")
    assert sum(f["served"] for f in after.values()) == sum(f["served"] for f in before.values()) + 5
    check(p, a, b)
    shut()


def test_a_days_figures_are_kept_in_the_state_database_until_its_visits_change(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    p, shut = projection(path)
    events = days_of_events(3)
    late = [e for e in events if e.name == "finished" and e.ts_ns < at(FIRST + timedelta(days=1))][-1]
    for e in events:
        if e is not late:
            p.apply(e, e.ts_ns)
    assert p.store is not None
    a, b = at(FIRST), at(FIRST + timedelta(days=3))
    first = p.store.figures(a, b, "line")
    shut()

    def kept() -> list[tuple[str, str]]:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT day, group_by FROM queue_day_figures ORDER BY day, group_by").fetchall()

    days = [(FIRST + timedelta(days=n)).isoformat() for n in range(3)]
    assert kept() == [(d, "line") for d in days]
    with sqlite3.connect(path) as conn:  # what is kept is what is read after a restart
        conn.execute("DELETE FROM queue_transactions WHERE day = ?", (days[1],))
    p, shut = projection(path)
    assert p.store is not None
    assert p.store.figures(a, b, "line") == first
    p.apply(late, late.ts_ns)  # the first day changes: its kept figures go
    p.store.flush()
    assert kept() == [(days[1], "line"), (days[2], "line")]
    check(p, at(FIRST), at(FIRST + timedelta(days=1)))  # read from its rows again, the late finish counted
    shut()


class OldVisits(Repository):
    """The queue's store as it was before its table of transactions (its first step only)."""

    name = VisitStore.name
    migrations = VisitStore.migrations[:1]


def test_visits_kept_before_the_transactions_table_are_counted_after_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    p, shut = projection(path)
    for e in days_of_events(2):
        p.apply(e, e.ts_ns)
    assert p.store is not None
    p.store.flush()
    visits = p.store.day(FIRST.isoformat()) + p.store.day((FIRST + timedelta(days=1)).isoformat())
    shut()
    old = tmp_path / "old.sqlite"
    Journal(old, stores=[OldVisits]).close()
    with sqlite3.connect(old) as conn:  # the rows as the old store wrote them
        conn.executemany(
            "INSERT INTO queue_visits VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(v.day, v.ticket, g, v.transactions[0].line, v.transactions[0].queued_ns, int(v.ended), dump(v))
             for g, v in visits],
        )  # fmt: skip
    p, shut = projection(old)  # the upgrade, then the rebuild from the visits' bodies
    assert p.store is not None
    check(p, at(FIRST), at(FIRST + timedelta(days=2)))
    assert p.store.rebuild() == 0  # once
    shut()
