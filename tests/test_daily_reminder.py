"""每日差评工作提醒: at the configured time of the hall's day, one message to the hall's work-group
robots listing the day's 差评 per window with the reasons and each work order's state, queued in
the durable delivery queue and sent by the robots' own senders (the fake robots of tests/robots.py
check the 钉钉 signature and the 企业微信 key). The clock is the test's; the state database, the
ratings store and the robots are real. Once a day: the state database re-opened and the scheduler
run again at the same clock (as after a SIGKILL and a restart) queues nothing more."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from time import time_ns
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.config.errors import ConfigError
from gateway.devices import load_hall
from gateway.domain import bad_ratings_notice
from gateway.domain.workorders import WorkOrder
from gateway.features.discipline.notify import Notices
from gateway.features.discipline.reminder import DailyReminder
from gateway.kinds.rating_pad import RatingsProjection
from gateway.kinds.rating_pad.store import RatingStore
from gateway.store.journal import Journal
from tests.robots import FakeRobot
from tests.servers import Mosquitto, free_port
from tests.test_discipline_notify import Gateway
from tests.waits import wait_for

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
KEY = "5f1c2d3e-reminder-key"
ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 7)


def t(hm: str, day: date = DAY) -> int:
    return int(datetime.combine(day, time.fromisoformat(hm), ZONE).timestamp() * 10**9)


@pytest.fixture
def robots(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeRobot, FakeRobot]]:
    ding, wecom = FakeRobot(access_token="tok-hall", secret=SECRET), FakeRobot(key=KEY)
    for k, v in _env(wecom).items():  # the senders read their secrets from the environment
        monkeypatch.setenv(k, v)
    yield ding, wecom
    ding.close()
    wecom.close()


def _hall(tmp_path: Path, ding: FakeRobot, wecom: FakeRobot, when_none: bool = False) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: remind
name: 政务服务大厅
timezone: Asia/Shanghai
store: {{path: {tmp_path}/outbox.sqlite}}
staff:
  - {{id: S0001, name: 王小明, department: 综合窗口, window: W01}}
discipline:
  departments:
    综合窗口: {{dingtalk: {{url: "{ding.dingtalk_url}", secret_env: REMIND_DING}}}}
    大厅办公室: {{wecom: {{url_env: REMIND_WECOM}}}}
  reminder: {{at: "17:30", to: [综合窗口, 大厅办公室], when_none: {str(when_none).lower()}}}
devices:
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: rp-2, kind: rating_pad, profile: ref-rating-pad, window: W02}}
""")
    return path


class Hall:
    """The reminder over a state database, as the gateway builds it; `reopen` is a restart."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path, self.env = path, env
        self.open()

    def open(self) -> None:
        self.cfg, devices = load_hall(self.path, self.env)
        self.journal = Journal(self.cfg.store.state_file, stores=[RatingStore])
        self.ratings = RatingsProjection(self.cfg, devices)
        self.close_store = self.ratings.attach(self.journal)
        self.notices = Notices(self.cfg, self.journal.repos.deliveries)
        self.reminder = DailyReminder(self.cfg, self.ratings, self.journal.repos.reminders, self.notices)

    def reopen(self) -> None:
        self.close_store()
        self.journal.close()
        self.open()

    def bad(self, n: int, window: str, at: str, score: int, reasons: tuple[str, ...], day: date = DAY) -> None:
        assert self.ratings.store is not None
        when = t(at, day)
        o = WorkOrder(
            0, f"rp:{n}", f"C{n}", window, "S0001", "社保卡", score, reasons, "rp-1", when, when, when + 10**15
        )
        assert self.ratings.store.open_order(o)
        self.ratings.store.flush()

    def queued(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self.journal.conn.execute("SELECT target, payload FROM deliveries ORDER BY id").fetchall()
        return [(target, json.loads(p)) for target, p in rows]

    def deliver(self) -> None:
        """Each queued row through its robot's own sender (the runtime's), deleted once taken."""

        async def go() -> None:
            hooks = {h.target: h for h in self.notices.webhooks()}
            async with httpx.AsyncClient(timeout=5) as client:
                for target in hooks:
                    send = hooks[target].send(client)  # type: ignore[misc]
                    for delivery_id, payload in self.journal.repos.deliveries.pending_deliveries(target):
                        await send(delivery_id, payload)
                        self.journal.repos.deliveries.delivered(delivery_id)

        asyncio.run(go())

    def close(self) -> None:
        self.close_store()
        self.journal.close()


def _env(wecom: FakeRobot) -> dict[str, str]:
    return {"REMIND_DING": SECRET, "REMIND_WECOM": wecom.wecom_url}


def test_the_days_bad_ratings_go_once_to_each_work_group(tmp_path: Path, robots: tuple[FakeRobot, FakeRobot]) -> None:
    ding, wecom = robots
    hall = Hall(_hall(tmp_path, ding, wecom), _env(wecom))
    try:
        hall.bad(1, "W01", "09:12", 1, ("attitude", "slow"))
        hall.bad(2, "W02", "10:40", 2, ())
        hall.bad(3, "W01", "15:05", 2, ("unclear",))
        hall.bad(4, "W01", "09:00", 1, ("attitude",), date(2026, 12, 6))  # yesterday's: not today's
        hall.reminder.tick(t("17:29:59"))
        assert hall.queued() == []  # not before its time

        hall.reminder.tick(t("17:30"))
        queued = hall.queued()
        assert [target for target, _ in queued] == ["robot:综合窗口", "robot:大厅办公室"]
        assert queued[0][1] == queued[1][1]  # one message, to each work group
        text = queued[0][1]["text"]
        assert queued[0][1]["title"] == "每日差评工作提醒：2026-12-07"
        assert "今日差评：3 条" in text and "政务服务大厅" in text
        assert "**窗口 W01**（2 条）" in text and "**窗口 W02**（1 条）" in text
        assert "09:12 1 分，原因：服务态度、办理慢；工单 #1：待处理" in text
        assert "10:40 2 分，原因：未选原因；工单 #2：待处理" in text
        assert text.index("09:12") < text.index("15:05") and "09:00" not in text

        # Killed and restarted: the state database re-opened, the scheduler run at the same clock.
        hall.reopen()
        for at in ("17:30", "17:30:01", "23:59"):
            hall.reminder.tick(t(at))
        assert len(hall.queued()) == 2

        hall.deliver()
        assert len(ding.taken) == 1 and len(wecom.taken) == 1 and ding.refused == [] and wecom.refused == []
        assert ding.texts() == [text] and wecom.texts() == [text]
        hall.reopen()
        hall.reminder.tick(t("18:00"))
        assert hall.queued() == []  # delivered, and not queued again
    finally:
        hall.close()


def test_a_day_without_bad_ratings_sends_nothing_unless_asked(
    tmp_path: Path, robots: tuple[FakeRobot, FakeRobot]
) -> None:
    ding, wecom = robots
    hall = Hall(_hall(tmp_path, ding, wecom), _env(wecom))
    try:
        hall.reminder.tick(t("17:30"))
        hall.reminder.tick(t("20:00"))
        assert hall.queued() == []
        # The day's first 差评 after the time: the work groups hear of it that day.
        hall.bad(1, "W02", "20:10", 1, ("rejected",))
        hall.reminder.tick(t("20:10:01"))
        assert len(hall.queued()) == 2 and "原因：未予办理" in hall.queued()[0][1]["text"]
    finally:
        hall.close()
    other = tmp_path / "asked"
    other.mkdir()
    hall = Hall(_hall(other, ding, wecom, when_none=True), _env(wecom))
    try:
        hall.reminder.tick(t("17:30"))
        queued = hall.queued()
        assert len(queued) == 2 and "今日没有差评" in queued[0][1]["text"]
        hall.reopen()
        hall.reminder.tick(t("17:31"))
        assert len(hall.queued()) == 2
    finally:
        hall.close()


def test_a_reminder_to_a_department_without_a_robot_is_a_config_error(
    tmp_path: Path, robots: tuple[FakeRobot, FakeRobot]
) -> None:
    ding, wecom = robots
    path = _hall(tmp_path, ding, wecom)
    path.write_text(path.read_text().replace("to: [综合窗口, 大厅办公室]", "to: [综合窗口, 医保科]"))
    with pytest.raises(ConfigError, match="医保科 has no robot"):
        load_hall(path, _env(wecom))


def test_a_day_of_many_bad_ratings_fits_the_robots_limit() -> None:
    rows = [
        {"window": f"W{i % 30:02d}", "at": "10:00", "score": 1, "reasons": ["服务态度", "办理慢", "告知不清"],
         "state": "待处理", "order": i}
        for i in range(400)
    ]  # fmt: skip
    text = bad_ratings_notice.bad_ratings("政务服务大厅", "2026-12-07", rows)["text"]
    assert len(text.encode()) <= 4096  # 企业微信's bound (40058 beyond it)
    listed = text.count("工单 #")
    assert 0 < listed < 400 and f"另有 {400 - listed} 条未列出" in text and "今日差评：400 条" in text


def test_the_reminder_queued_before_a_sigkill_goes_once_after_the_restart(
    tmp_path: Path, mosquitto: Mosquitto, robots: tuple[FakeRobot, FakeRobot]
) -> None:
    """`hallgate run` as a process: the day's reminder is queued at its first tick (the time is
    00:00), the 钉钉 robot refuses it (send too fast), the gateway is SIGKILLed and started again
    with the robot taking messages: it gets the reminder once, the day has one row, nothing waits."""
    ding, wecom = robots
    path = _hall(tmp_path, ding, wecom)
    port = free_port()
    text = path.read_text().replace('at: "17:30"', 'at: "00:00"')
    text = text.replace("to: [综合窗口, 大厅办公室]", "to: [综合窗口]")
    path.write_text(text + f"api: {{port: {port}}}\nbroker: {{host: 127.0.0.1, port: {mosquitto.port}}}\n")
    hall = Hall(path, _env(wecom))
    now = time_ns()
    hall.bad(1, "W01", datetime.fromtimestamp(now / 1e9 - 0.001, ZONE).strftime("%H:%M:%S.%f"), 1, ("attitude",),
             datetime.fromtimestamp(now / 1e9, ZONE).date())  # fmt: skip
    hall.close()
    state = load_hall(path, _env(wecom))[0].store.state_file
    gw = Gateway(path, port)
    try:
        ding.refuse = True
        gw.start()
        wait_for(lambda: ding.refused, 30, "the reminder tried and refused")
        gw.kill()
        ding.refuse = False
        gw.start()
        wait_for(lambda: ding.taken, 30, "the reminder delivered after the restart")
        db = sqlite3.connect(state)
        try:
            wait_for(lambda: db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0, 10, "its row gone")
            assert db.execute("SELECT kind, items FROM reminders").fetchall() == [("bad_ratings", 1)]
        finally:
            db.close()
        assert len(ding.taken) == 1 and "服务态度" in ding.texts()[0] and "工单 #1：待处理" in ding.texts()[0]
        assert wecom.taken == []  # 大厅办公室 is not in `to` here
    finally:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.kill()
