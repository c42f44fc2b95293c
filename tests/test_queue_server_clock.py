"""The queue's live waits are measured on the queue server's clock: a server whose clock trails the
gateway's by hours (the demo's day stamped from 08:30 whatever the hour) has tickets waiting for
minutes, not hours, and raises no long-wait alert; a server on time is measured as before."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from gateway.domain.canonical import Event
from gateway.kinds.queue.alerts import LONG_WAIT
from tests.test_queue_figures import at, projection

S = 10**9
MIN = 60 * S


def hall(hour: float) -> int:
    return at(date(2026, 12, 7), hour)  # a Monday


def snapshot(ts: int, waiting: int) -> Event:
    """As the profile keeps it: the lines as JSON text."""
    lines = [{"line": "A", "name": "综合", "waiting": waiting, "open_windows": ["W01"]}]
    return Event("q-1", "queue_snapshot", ts, {"lines": json.dumps(lines, ensure_ascii=False)})


def test_a_server_hours_behind_the_gateway_waits_by_its_own_clock(tmp_path: Path) -> None:
    p, shut = projection(tmp_path / "state.sqlite")
    try:
        gateway_now = hall(11.5)  # 11:30 at the gateway
        behind = 3 * 60 * MIN  # the server's day says 08:30
        p.apply(Event("q-1", "issued", hall(8.5) - 10 * MIN, {"ticket": "A001", "line": "A"}, 1), gateway_now)
        p.apply(snapshot(hall(8.5), 1), gateway_now)
        (line,) = p.lines(gateway_now + 30 * S)
        assert line.longest_wait_s == 10 * 60 + 30  # ten minutes and the half a minute since
        assert [c for c in p.conditions(gateway_now + 30 * S) if c.rule == LONG_WAIT] == []
        assert p.server_now(gateway_now) == gateway_now - behind
    finally:
        shut()


def test_a_server_on_time_is_measured_as_before_and_alerts_past_the_threshold(tmp_path: Path) -> None:
    p, shut = projection(tmp_path / "state.sqlite")
    try:
        now = hall(10)
        p.apply(Event("q-1", "issued", now - 40 * MIN, {"ticket": "A001", "line": "A"}, 1), now - 40 * MIN)
        p.apply(snapshot(now, 1), now)
        (line,) = p.lines(now)
        assert line.longest_wait_s == 40 * 60
        assert [c.key for c in p.conditions(now) if c.rule == LONG_WAIT] == ["line A"]
    finally:
        shut()


def test_a_snapshot_delivered_late_does_not_set_the_servers_clock_back(tmp_path: Path) -> None:
    p, shut = projection(tmp_path / "state.sqlite")
    try:
        now = hall(10)
        p.apply(Event("q-1", "issued", now - 40 * MIN, {"ticket": "A001", "line": "A"}, 1), now - 40 * MIN)
        p.apply(snapshot(now - 2 * MIN, 1), now - 2 * MIN)  # on time
        p.apply(snapshot(now - MIN, 1), now)  # a minute late (queued while the link was down)
        assert p.server_now(now) == now
        (line,) = p.lines(now)
        assert line.longest_wait_s == 40 * 60
    finally:
        shut()
