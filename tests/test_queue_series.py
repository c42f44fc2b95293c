"""The series the queue projection derives for Grafana (gateway/kinds/queue/series.py), over a real
state database: a point per line of each snapshot, a waiting time once a transaction is called, a
handling time once its case is finished; nothing from a resend, nothing from the same snapshot
again, and a point's time from the visit, so deriving it again overwrites it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.domain.canonical import Event, Priority
from gateway.kinds.queue import QueueProjection
from gateway.kinds.queue.series import point_ts
from gateway.kinds.queue.store import VisitStore
from gateway.store.journal import Journal
from tests.test_queue_visits import context

S = 10**9
T0 = 1_796_000_400 * S  # 2026-11-30 09:00 +08:00 (hall time)


@pytest.fixture
def proj(tmp_path: Path) -> Iterator[QueueProjection]:
    cfg = context("hall 7")
    p = QueueProjection(cfg, {"q-1": SimpleNamespace(id="q-1", kind="queue")})  # type: ignore[arg-type]
    journal = Journal(tmp_path / "state.sqlite", stores=[VisitStore])
    close = p.attach(journal)
    yield p
    close()
    journal.close()


def ev(seq: int, t: float, type_: str, ticket: str = "A001", **fields: Any) -> Event:
    return Event("q-1", type_, T0 + int(t * S), {"ticket": ticket, **fields}, seq)


def life(seq: int, t: float, ticket: str = "A001", window: str = "W01") -> list[Event]:
    return [
        ev(seq, t, "issued", ticket, line="A", item="营业执照设立登记", source="walk_in"),
        ev(seq + 1, t + 300.25, "called", ticket, window=window, staff_id="S1"),
        ev(seq + 2, t + 320, "started", ticket, window=window, staff_id="S1"),
        ev(seq + 3, t + 920.5, "finished", ticket, window=window, staff_id="S1", case_id="C-1", result="done"),
    ]


def derive(p: QueueProjection, events: list[Event]) -> list[list[tuple[Priority, str]]]:
    """What each event derived ([] for nothing)."""
    return [p.apply(e, e.ts_ns) or [] for e in events]


def test_a_visit_derives_its_waiting_time_at_the_call_and_its_handling_time_at_the_end(
    proj: QueueProjection,
) -> None:
    got = derive(proj, life(1, 0))
    at = point_ts(T0, "A001")  # in the millisecond it began, below it the ticket
    assert got == [
        [],
        [(Priority.EVENT, f"queue_wait,line=A,site=hall\\ 7,window=W01 wait_s=300.25 {at}")],
        [],
        [(Priority.EVENT, f"queue_handling,line=A,site=hall\\ 7,window=W01 handling_s=600.5 {at + 320 * S}")],
    ]
    # a replayed range derives nothing (the projection counted it as resent)
    assert derive(proj, life(1, 0)) == [[], [], [], []]
    assert proj.counts["resend"] == 4
    # a recall changes no waiting time (it counts from the first call)
    assert derive(proj, [ev(5, 400, "called", window="W01", recall=True)]) == [[]]


def test_a_transfer_waits_again_in_its_new_line_and_a_no_show_is_no_case(proj: QueueProjection) -> None:
    events = [
        ev(1, 0, "issued", "A002", line="A"),
        ev(2, 60, "called", "A002", window="W02"),
        ev(3, 90, "transferred", "A002", from_window="W02", to_line="B"),
        ev(4, 150, "called", "A002", window="W05"),
        ev(5, 400, "no_show", "A002", window="W05"),
    ]
    got = [[line for _, line in records] for records in derive(proj, events)]
    assert [len(r) for r in got] == [0, 1, 0, 1, 0]
    assert got[1][0].startswith("queue_wait,line=A,site=hall\\ 7,window=W02 wait_s=60.0 ")
    assert got[3] == [f"queue_wait,line=B,site=hall\\ 7,window=W05 wait_s=60.0 {point_ts(T0 + 90 * S, 'A002')}"]


def test_a_call_before_the_issue_has_its_waiting_time_once_the_issue_arrives(proj: QueueProjection) -> None:
    got = derive(proj, [ev(2, 100, "called", "C007", window="W09"), ev(1, 10, "issued", "C007", line="C")])
    assert [[line for _, line in r] for r in got] == [
        [],
        [f"queue_wait,line=C,site=hall\\ 7,window=W09 wait_s=90.0 {point_ts(T0 + 10 * S, 'C007')}"],
    ]


def test_tickets_that_begin_in_the_same_millisecond_get_points_of_their_own(proj: QueueProjection) -> None:
    times = {point_ts(T0, f"A{n:03d}") for n in range(1, 301)}
    assert len(times) == 300 and all(T0 <= t < T0 + 10**6 for t in times)
    a, b = life(1, 0, "A001"), life(10, 0, "A002")
    records = [line for e in [*a, *b] for _, line in proj.apply(e, e.ts_ns) or []]
    assert len(records) == 4 and len({line.rsplit(" ", 1)[1] for line in records}) == 4


def snapshot(t: float, *lines: tuple[str, int, list[str]]) -> Event:
    text = json.dumps([{"line": n, "name": "", "waiting": w, "open_windows": o} for n, w, o in lines])
    return Event("q-1", "queue_snapshot", T0 + int(t * S), {"lines": text}, None)


def test_each_snapshot_gives_a_point_per_line_and_the_same_snapshot_again_none(proj: QueueProjection) -> None:
    first = snapshot(60, ("A", 12, ["W01", "W02", "W03"]), ("B", 0, []))
    got = derive(proj, [first, first, snapshot(30, ("A", 9, ["W01"])), snapshot(120, ("A", 11, ["W01"]))])
    t = T0 + 60 * S
    assert got[0] == [
        (Priority.TELEMETRY, f"queue_line,line=A,site=hall\\ 7 waiting=12i,open_windows=3i {t}"),
        (Priority.TELEMETRY, f"queue_line,line=B,site=hall\\ 7 waiting=0i,open_windows=0i {t}"),
    ]
    assert got[1] == []  # the retained snapshot again, after a reconnect
    # a late, older snapshot is still a point of the past (the lines now keep the newer one)
    assert got[2] == [(Priority.TELEMETRY, f"queue_line,line=A,site=hall\\ 7 waiting=9i,open_windows=1i {T0 + 30 * S}")]
    assert [line for _, line in got[3]] == [
        f"queue_line,line=A,site=hall\\ 7 waiting=11i,open_windows=1i {T0 + 120 * S}"
    ]
    assert derive(proj, [Event("q-1", "queue_snapshot", T0, {"lines": "not json"}, None)]) == [[]]
    assert proj.counts["bad_snapshot"] == 1
