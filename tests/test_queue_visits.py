"""The queue kind's projection over a real state database: resends count once, a ticket issued
again the same day is a new generation, the visits outlive a restart, and the lines now set the
server's snapshot beside the events."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gateway.domain.canonical import Event
from gateway.kinds.queue import QueueProjection
from gateway.kinds.queue.settings import standalone
from gateway.kinds.queue.store import VisitStore
from gateway.store.journal import Journal

S = 10**9
T0 = 1_796_000_400 * S  # 2026-11-30 09:00 +08:00 (hall time)


def context(site: str = "q-hall") -> SimpleNamespace:
    return standalone(site)  # type: ignore[no-any-return]


def projection(tmp_path: Path) -> tuple[QueueProjection, Any]:
    cfg = context()
    devices = {"q-1": SimpleNamespace(id="q-1", kind="queue")}
    p = QueueProjection(cfg, devices)  # type: ignore[arg-type]
    journal = Journal(tmp_path / "state.sqlite", stores=[VisitStore])
    close = p.attach(journal)

    def shut() -> None:
        close()
        journal.close()

    return p, shut


def ev(seq: int, t: int, type_: str, ticket: str = "A001", **fields: Any) -> Event:
    return Event("q-1", type_, T0 + t * S, {"ticket": ticket, **fields}, seq)


def life(seq: int, t: int, ticket: str = "A001") -> list[Event]:
    return [
        ev(seq, t, "issued", ticket, line="A", item="营业执照设立登记", source="walk_in"),
        ev(seq + 1, t + 300, "called", ticket, window="W01", staff_id="S1"),
        ev(seq + 2, t + 320, "started", ticket, window="W01", staff_id="S1"),
        ev(seq + 3, t + 920, "finished", ticket, window="W01", staff_id="S1", case_id="C-1", result="done"),
    ]


def test_a_resend_counts_once_and_a_reissued_ticket_is_a_new_generation(tmp_path: Path) -> None:
    p, shut = projection(tmp_path)
    for e in [*life(1, 0), *life(1, 0)[:2], *life(100, 3600)]:  # a replayed range, then A001 again
        p.apply(e, e.ts_ns)
    p.store.flush()  # type: ignore[union-attr]
    got = p.visits(T0 - 3600 * S, T0 + 86400 * S)
    assert [(g, v.ticket) for g, v in got] == [(0, "A001"), (1, "A001")]
    assert [v.current.waiting_ns for _, v in got] == [300 * S, 300 * S]
    assert [v.current.calls for _, v in got] == [1, 1]  # the resent call counted once
    assert p.counts["resend"] == 2 and p.counts["reissued"] == 1
    shut()
    # after a restart: the visits are there, and a late resend of the first generation still counts once
    p, shut = projection(tmp_path)
    p.apply(life(1, 0)[1], T0)
    p.apply(ev(50, 500, "no_show", "B001", window="W02"), T0)  # a ticket never seen issued
    p.store.flush()  # type: ignore[union-attr]
    got = p.visits(T0 - 3600 * S, T0 + 86400 * S)
    assert [(g, v.ticket, v.current.calls) for g, v in got] == [(0, "A001", 1), (0, "B001", 0), (1, "A001", 1)]
    assert got[1][1].unissued and p.counts["resend"] == 1
    shut()


def test_the_lines_now_say_where_the_snapshot_and_the_events_disagree(tmp_path: Path) -> None:
    p, shut = projection(tmp_path)
    now = T0 + 2000 * S
    for e in life(1, 0):  # served: handling 600 s
        p.apply(e, now)
    p.apply(ev(10, 1000, "issued", "A002", line="A"), now)
    p.apply(ev(11, 1400, "issued", "A003", line="A"), now)
    p.apply(ev(12, 1500, "issued", "B001", line="B"), now)
    lines = [
        {"line": "A", "name": "商事登记", "waiting": 2, "open_windows": ["W01", "W02"]},
        {"line": "B", "name": "社保医保", "waiting": 3, "open_windows": ["W03"]},
    ]
    # delivered as it was taken: the server's clock is the gateway's
    p.apply(Event("q-1", "queue_snapshot", T0 + 1900 * S, {"lines": json.dumps(lines)}), T0 + 1900 * S)
    p.apply(Event("q-1", "queue_snapshot", T0 + 1800 * S, {"lines": "[]"}), now)  # older: ignored
    a, b = p.lines(now)
    assert (a.line, a.name, a.waiting, a.open_windows, a.events_waiting, a.agrees) == (
        "A",
        "商事登记",
        2,
        ("W01", "W02"),
        2,
        True,
    )
    assert a.longest_wait_s == 1000.0  # A002, waiting since 1000 s
    assert a.expected_wait_s == 600.0  # ceil(2 waiting / 2 windows) x the median handling (600 s)
    assert (b.waiting, b.events_waiting, b.agrees, b.expected_wait_s) == (3, 1, False, None)  # none handled in B
    shut()


def test_a_flood_of_tickets_keeps_the_days_visits_in_memory_bounded(tmp_path: Path, monkeypatch: Any) -> None:
    """Invented tickets past the bound: memory keeps the newest half, ended visits let go first,
    and the store keeps every one."""
    monkeypatch.setattr("gateway.kinds.queue.CACHE_MAX", 10)
    p, shut = projection(tmp_path)
    now = T0 + 7200 * S
    assert p.today(now) == []  # today's visits read once, then kept as events come
    for e in life(1, 0, "A001"):  # one visit that ended, the first to be let go
        p.apply(e, now)
    for n in range(2, 26):
        p.apply(ev(100 + n, n, "issued", f"B{n:03d}", line="B"), now)
    kept = p.today(now)
    assert 5 <= len(kept) <= 10 and p.counts["today_shed"] == 25 - len(kept)
    assert "A001" not in {v.ticket for v in kept} and "B025" in {v.ticket for v in kept}
    p.store.flush()  # type: ignore[union-attr]
    assert len(p.visits(T0 - 3600 * S, T0 + 86400 * S)) == 25
    shut()


def test_a_server_that_restarted_its_numbering_has_its_next_snapshot_taken_even_when_older(tmp_path: Path) -> None:
    """The demo's server starts its day over (its clock back at the morning) and a reboot may reset
    a clock: after a ticket issued again, the server's next snapshot is the lines now, not a stale one."""
    p, shut = projection(tmp_path)
    now = T0 + 9000 * S

    def snapshot(t: int, waiting: int) -> None:
        lines = [{"line": "A", "name": "商事登记", "waiting": waiting, "open_windows": ["W01"]}]
        p.apply(Event("q-1", "queue_snapshot", T0 + t * S, {"lines": json.dumps(lines)}), now)

    for e in life(1, 0):
        p.apply(e, now)
    snapshot(8000, 0)  # the end of the day
    snapshot(100, 4)  # older, and no restart seen: ignored
    assert [line.waiting for line in p.lines(now)] == [0]
    p.apply(life(100, 50)[0], now)  # A001 issued again: the server restarted its numbering
    snapshot(200, 3)  # older than the kept one, taken
    snapshot(150, 9)  # older again, and no new restart: ignored
    assert [(line.waiting, line.snapshot_ts_ns) for line in p.lines(now)] == [(3, T0 + 200 * S)]
    shut()
