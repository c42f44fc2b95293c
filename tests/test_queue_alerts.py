"""The queue's alerts, pure (gateway/kinds/queue/alerts.py): a line's long wait against its threshold
(the hall's or the line's own), a window idle while people wait on its lines, nothing outside
working hours, and each clears when the queue recovers. The clock is a number passed in. Then the
`queue:` section of the hall file that sets them."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.alerts.engine import worded
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.domain.calendar import Schedule
from gateway.domain.conditions import Condition
from gateway.domain.queue import Visit, apply, event_id
from gateway.kinds.queue.alerts import LONG_WAIT, WINDOW_IDLE, opening_ns, queue_conditions, windows_today
from gateway.kinds.queue.live import SnapshotLine, lines_now
from gateway.kinds.queue.settings import LineAlerts, QueueSettings

TZ = ZoneInfo("Asia/Shanghai")
S = 10**9
MIN = 60 * S
SCHEDULE = Schedule.of(["mon", "tue", "wed", "thu", "fri"], time(9), time(17), holidays=[date(2026, 12, 8)])


def at(hh: int, mm: int, ss: int = 0, day: int = 7) -> int:
    """A moment of December 2026 in hall time (the 7th is a Monday)."""
    return int(datetime(2026, 12, day, hh, mm, ss, tzinfo=TZ).timestamp()) * S


OPEN = at(9, 0)


class Queue:
    """A day's visits built from events, as the projection builds them."""

    def __init__(self) -> None:
        self.visits: dict[str, Visit] = {}
        self.seq = 0
        self.snapshot: tuple[int, list[SnapshotLine]] | None = None

    def event(self, name: str, ticket: str, ts: int, **fields: Any) -> None:
        self.seq += 1
        eid = event_id("q-1", self.seq, ts, name)
        fields = {"ticket": ticket, **fields}
        self.visits[ticket] = apply(self.visits.get(ticket), name, fields, ts, "2026-12-07", eid)

    def issued(self, ticket: str, ts: int) -> None:
        self.event("issued", ticket, ts)

    def called(self, ticket: str, ts: int, window: str) -> None:
        self.event("called", ticket, ts, window=window)

    def served(self, ticket: str, window: str, called: int, started: int, finished: int) -> None:
        self.called(ticket, called, window)
        self.event("started", ticket, started, window=window)
        self.event("finished", ticket, finished, window=window, result="done")

    def conditions(self, now: int, settings: QueueSettings | None = None) -> list[Condition]:
        ts, snap = self.snapshot or (None, [])
        lines = lines_now(snap, ts, self.visits.values(), now)
        opened = opening_ns(SCHEDULE, TZ, now)
        return queue_conditions(lines, windows_today(self.visits.values()), now, opened, settings or QueueSettings())


def held(conditions: list[Condition]) -> dict[tuple[str, str], str]:
    """What each alert says, as the alert desk words it (the catalogue's template, in Chinese)."""
    return {(c.rule, c.key): worded(c).summary for c in conditions}


def test_a_line_waiting_past_the_threshold_raises_a_long_wait_that_says_what_to_do() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    assert q.conditions(at(9, 30)) == []  # 30 minutes: not past 30
    assert held(q.conditions(at(9, 34, 10))) == {
        (LONG_WAIT, "line A"): "A 线最长等候 34 分钟，超过 30 分钟：请加开窗口或引导分流"
    }
    assert q.conditions(at(9, 34))[0].severity == "warning"


def test_a_line_of_its_own_threshold_is_judged_by_it_and_the_others_by_the_halls() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    q.issued("B001", at(9, 0))
    settings = QueueSettings(long_wait_min=30, lines={"A": LineAlerts(long_wait_min=20)})
    assert set(held(q.conditions(at(9, 21), settings))) == {(LONG_WAIT, "line A")}
    assert held(q.conditions(at(9, 21), settings))[(LONG_WAIT, "line A")].startswith(
        "A 线最长等候 21 分钟，超过 20 分钟"
    )
    assert set(held(q.conditions(at(9, 31), settings))) == {(LONG_WAIT, "line A"), (LONG_WAIT, "line B")}
    # and without the line's own, A waits for the hall's 30 as B does
    assert q.conditions(at(9, 21)) == []


def test_the_long_wait_clears_when_the_longest_waiting_ticket_is_called() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    q.issued("A002", at(9, 20))
    assert (LONG_WAIT, "line A") in held(q.conditions(at(9, 40)))
    q.called("A001", at(9, 40), "W01")
    assert q.conditions(at(9, 41)) == []  # A002 has waited 21 minutes: under the threshold


def test_the_server_saying_nobody_waits_after_the_ticket_was_queued_is_a_lost_call_not_a_long_wait() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    q.snapshot = (at(9, 10), [SnapshotLine("A", "综合", 0, ("W01",))])
    assert q.conditions(at(9, 40)) == []
    q.snapshot = (
        at(8, 59),
        [SnapshotLine("A", "综合", 0, ("W01",))],
    )  # taken before the ticket: it knows nothing of it
    assert set(held(q.conditions(at(9, 40)))) == {(LONG_WAIT, "line A"), (WINDOW_IDLE, "window W01")}


def test_a_window_that_calls_nobody_while_people_wait_is_idle_after_the_configured_minutes() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    q.served("A001", "W01", at(9, 1), at(9, 2), at(9, 5))
    q.issued("A002", at(9, 10))  # W01 had nobody to call from 9:05 to 9:10
    settings = QueueSettings(idle_window_min=10)
    assert q.conditions(at(9, 19, 59), settings) == []
    assert held(q.conditions(at(9, 20, 30), settings)) == {
        (
            WINDOW_IDLE,
            "window W01",
        ): "窗口 W01 已 10 分钟未叫号，A 线有 1 人等候：请确认窗口是否有人在岗，或把等候的号调往其他窗口"
    }
    q.called("A002", at(9, 21), "W01")
    assert q.conditions(at(9, 22), settings) == []  # it called: the alert clears


def test_a_window_with_nobody_to_call_is_not_idle_however_long_it_has_not_called() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    q.served("A001", "W01", at(9, 1), at(9, 2), at(9, 5))
    assert q.conditions(at(11, 0)) == []  # two hours, nobody waiting
    q.issued("A002", at(11, 0))
    assert q.conditions(at(11, 9)) == []  # idle counts from when someone began to wait
    assert set(held(q.conditions(at(11, 11)))) == {(WINDOW_IDLE, "window W01")}


def test_a_window_busy_with_a_long_case_is_not_idle() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    q.issued("A002", at(9, 0))
    q.called("A001", at(9, 1), "W01")
    q.event("started", "A001", at(9, 2), window="W01")
    assert q.conditions(at(9, 25)) == []  # A002 waits 25 minutes, W01 is serving A001
    q.event("finished", "A001", at(9, 25), window="W01", result="done")
    assert set(held(q.conditions(at(9, 34)))) == {(LONG_WAIT, "line A")}  # idle from 9:25 only
    assert set(held(q.conditions(at(9, 36)))) == {(WINDOW_IDLE, "window W01"), (LONG_WAIT, "line A")}


def test_with_a_snapshot_its_open_windows_decide_so_a_window_closed_for_lunch_is_not_idle() -> None:
    q = Queue()
    q.issued("A001", at(11, 0))
    q.served("A001", "W01", at(11, 1), at(11, 2), at(11, 5))
    q.issued("A002", at(11, 50))
    lunch = [SnapshotLine("A", "", 1, ()), SnapshotLine("B", "", 0, ("W02",))]  # W01 closed at noon
    q.snapshot = (at(12, 0), lunch)
    assert set(held(q.conditions(at(12, 30)))) == {(LONG_WAIT, "line A")}
    q.snapshot = None  # without one, W01 (it called on A today) is taken as open
    assert set(held(q.conditions(at(12, 30)))) == {(LONG_WAIT, "line A"), (WINDOW_IDLE, "window W01")}


def test_a_window_the_snapshot_has_open_is_idle_though_it_has_called_nobody_today() -> None:
    q = Queue()
    q.issued("B001", at(12, 0))
    q.snapshot = (at(12, 0), [SnapshotLine("B", "", 1, ("W02",))])
    assert q.conditions(at(12, 9)) == []
    assert set(held(q.conditions(at(12, 11)))) == {(WINDOW_IDLE, "window W02")}


def test_people_the_snapshot_counts_but_the_events_do_not_have_are_waiting_since_that_snapshot() -> None:
    q = Queue()  # the gateway began watching mid-day: no events of the waiting tickets
    q.snapshot = (at(10, 0), [SnapshotLine("A", "综合", 4, ("W01", "W02"))])
    assert q.conditions(at(10, 9)) == []
    assert held(q.conditions(at(10, 11))) == {
        (
            WINDOW_IDLE,
            f"window {w}",
        ): f"窗口 {w} 已 11 分钟未叫号，A 线有 4 人等候：请确认窗口是否有人在岗，或把等候的号调往其他窗口"
        for w in ("W01", "W02")
    }


def test_outside_working_hours_nothing_holds() -> None:
    q = Queue()
    q.issued("A001", at(8, 0))
    q.issued("B001", at(16, 0))
    assert set(held(q.conditions(at(9, 0, 1)))) == {(LONG_WAIT, "line A")}  # queued before opening: it waits
    assert q.conditions(at(8, 59)) == []  # before opening
    assert set(held(q.conditions(at(16, 59)))) == {(LONG_WAIT, "line A"), (LONG_WAIT, "line B")}
    assert q.conditions(at(17, 0)) == []  # closed
    assert opening_ns(SCHEDULE, TZ, at(10, 0, day=8)) is None  # a holiday
    assert opening_ns(SCHEDULE, TZ, at(10, 0, day=12)) is None  # a Saturday
    assert opening_ns(SCHEDULE, TZ, at(10, 0, day=9)) == at(9, 0, day=9)


def test_windows_today_knows_each_windows_last_call_or_end_its_lines_and_whether_it_serves() -> None:
    q = Queue()
    q.issued("A001", at(9, 0))
    q.issued("B001", at(9, 0))
    q.served("A001", "W01", at(9, 1), at(9, 2), at(9, 20))
    q.called("B001", at(9, 11), "W02")
    q.event("started", "B001", at(9, 12), window="W02")
    days = windows_today(q.visits.values())
    assert days["W01"].last_ns == at(9, 20) and days["W01"].lines == {"A"} and not days["W01"].serving
    assert days["W02"].last_ns == at(9, 11) and days["W02"].lines == {"B"} and days["W02"].serving


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("queue: {long_wait_min: 0}\n", r"hall.yaml：queue.long_wait_min：0 太小：应大于 0 \(greater_than\)"),
        ("queue: {idle_window_min: -5}\n", r"hall.yaml：queue.idle_window_min：-5 太小：应大于 0 \(greater_than\)"),
        ("queue: {lines: {A: {}}}\n", r"queue.lines.A.long_wait_min：缺少必填字段"),
        ("queue: {lines: {A: {idle_window_min: 3}}}\n", r"queue.lines.A.idle_window_min：未知字段"),
        ("queue: {lines: {' ': {long_wait_min: 5}}}\n", r"queue.lines：队列编号 ' ' 为空或前后有空格"),
    ],
)
def test_a_mistake_in_the_queue_section_names_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_the_queue_section_defaults_and_a_numbered_line(tmp_path: Path) -> None:
    q = _load(tmp_path, "").queue
    assert (q.long_wait_s("A"), q.idle_window_min) == (30 * 60, 10)
    q = _load(tmp_path, "queue: {long_wait_min: 45, lines: {A: {long_wait_min: 20}, 1: {long_wait_min: 5}}}\n").queue
    assert (q.long_wait_s("A"), q.long_wait_s("1"), q.long_wait_s("B")) == (20 * 60, 5 * 60, 45 * 60)


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "hall.yaml"
    path.write_text("site: s1\n" + text)
    return load_config(path, {})
