"""The departments told of their people's violations through their work groups' robots, and the
day's confirmed violations on the wall (大厅公示).

The robots are local servers that speak 钉钉's and 企业微信's documented protocols and check what
they check (tests/robots.py: the 加签 signature, the key), answering their real error codes. The
gateway runs as a child process (`hallgate run`), SIGKILLed while a notice waits, and restarted."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from gateway.config.discipline import DingTalk, WeCom
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.domain import discipline_notice
from gateway.features.discipline.robots import Pace, RobotRefused, dingtalk_sender, wecom_sender
from gateway.store.journal import Journal
from tests.robots import FakeRobot
from tests.servers import Mosquitto, free_port
from tests.test_screens import chromium, console_errors
from tests.waits import wait_for

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
TOKENS = {"manager": "notify-manager-token-0123456789", "viewer": "notify-viewer-token-0123456789"}
MESSAGE = json.dumps({"title": "违规通知", "text": "### 违规通知\n- 人员：王小明"}, ensure_ascii=False)


@pytest.fixture
def robot() -> Iterator[FakeRobot]:
    r = FakeRobot(access_token="tok-social", secret=SECRET, key=KEY)
    yield r
    r.close()


def _send(make: Any) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            await make(client)(1, MESSAGE)

    asyncio.run(go())


def test_dingtalk_takes_a_signed_markdown(robot: FakeRobot) -> None:
    _send(lambda c: dingtalk_sender(c, DingTalk(url=robot.dingtalk_url, secret_env="X"), SECRET, Pace(20)))
    text = json.loads(MESSAGE)["text"]
    assert robot.taken == [{"msgtype": "markdown", "markdown": {"title": "违规通知", "text": text}}]


def test_dingtalk_refuses_a_wrong_secret_with_310000(robot: FakeRobot) -> None:
    with pytest.raises(RobotRefused, match="310000"):
        _send(lambda c: dingtalk_sender(c, DingTalk(url=robot.dingtalk_url, secret_env="X"), "SECwrong", Pace(20)))
    assert robot.taken == [] and robot.refused == [310000]


def test_wecom_refuses_an_unknown_key_with_93000(robot: FakeRobot) -> None:
    wrong = robot.wecom_url.replace(KEY, "not-the-key")
    with pytest.raises(RobotRefused, match="93000"):
        _send(lambda c: wecom_sender(c, WeCom(url_env="X"), wrong, Pace(20)))
    _send(lambda c: wecom_sender(c, WeCom(url_env="X"), robot.wecom_url, Pace(20)))
    assert robot.refused == [93000] and robot.texts() == [json.loads(MESSAGE)["text"]]


def test_pace_holds_the_twenty_first_message_of_a_minute() -> None:
    now = [100.0]
    pace = Pace(20, clock=lambda: now[0])
    for _ in range(20):
        assert pace.wait_s() == 0
        pace.sent.append(now[0])
    assert pace.wait_s() == 60
    now[0] += 45
    assert pace.wait_s() == 15


def test_the_escalation_lists_its_violations() -> None:
    rows = [
        {"id": 4, "kind_label": "工作时间离岗超时", "window": "W01", "at": "2026-12-07 09:10"},
        {"id": 9, "kind_label": "违规使用手机", "window": "W01", "at": "2026-12-07 10:20"},
    ]
    text = discipline_notice.escalated("S0001", "王小明", "社保科", "2026", 2, rows, 3)["text"]
    assert "1. #4 2026-12-07 09:10 W01 工作时间离岗超时" in text and "2. #9 2026-12-07 10:20 W01 违规使用手机" in text
    assert "3 个工作日内" in text and "另行选派人员" in text


# -- end to end: the gateway as a process ------------------------------------------------------------


def _hall(tmp_path: Path, mosquitto: Mosquitto, ding: FakeRobot, wecom: FakeRobot) -> tuple[Path, int]:
    port = free_port()
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: notify
api:
  port: {port}
  tokens:
    - {{role: manager, env: NOTIFY_TOKEN_MANAGER, name: li.manager}}
    - {{role: viewer, env: NOTIFY_TOKEN_VIEWER}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
alerts: {{clear_after_s: 1}}  # the robot's alert resolves within the test
staff:
  - {{id: S0001, name: 王小明, department: 社保科, window: W01}}
  - {{id: S0002, name: 李红, department: 医保科, window: W02}}
discipline:
  strikes: {{count: 2}}
  notify: {{alert_after: 2}}
  departments:
    社保科: {{dingtalk: {{url: "{ding.dingtalk_url}", secret_env: NOTIFY_DING_SECRET}}}}
    医保科: {{wecom: {{url_env: NOTIFY_WECOM_URL}}}}
devices:
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}}
  - {{id: rp-2, kind: rating_pad, profile: ref-rating-pad, window: W02}}
""")
    return path, port


SEEDED = [("away", "S0001", "W01", "社保科"), ("phone", "S0002", "W02", "医保科"), ("phone", "S0001", "W01", "社保科")]


def _seed(path: Path) -> list[int]:
    """Three violations detected today: two of 王小明 (社保科), one of 李红 (医保科)."""
    journal = Journal(load_config(path).store.state_file)
    now = time.time_ns()
    rows = [
        {"key": f"k{i}", "kind": kind, "staff": staff, "window": window, "department": dept, "at_ns": now - i * 10**9,
         "evidence": []}
        for i, (kind, staff, window, dept) in enumerate(SEEDED)
    ]  # fmt: skip
    ids = journal.repos.violations.add(rows, now)
    journal.close()
    return ids


class Gateway:
    def __init__(self, path: Path, port: int) -> None:
        self.path, self.url = path, f"http://127.0.0.1:{port}"
        self.log = path.with_name("gateway.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", "-c", str(self.path)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._ready, 60, "the gateway ready")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: nothing of the gateway's runs after it
        self.proc.wait()

    def call(self, method: str, path: str, role: str = "manager", **kw: Any) -> Any:
        auth = {"Authorization": f"Bearer {TOKENS[role]}"}
        r = httpx.request(method, self.url + path, headers=auth, timeout=10, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def robot_alert(self) -> str | None:
        """The summary of the open `robot_failing` alert, if one is open."""
        alerts = self.call("GET", "/api/v1/alerts?state=active")
        return next((a["summary"] for a in alerts if a["rule"] == "robot_failing"), None)


def _environ(monkeypatch: pytest.MonkeyPatch, wecom: FakeRobot) -> None:
    env = {"NOTIFY_TOKEN_MANAGER": TOKENS["manager"], "NOTIFY_TOKEN_VIEWER": TOKENS["viewer"],
           "NOTIFY_DING_SECRET": SECRET, "NOTIFY_WECOM_URL": wecom.wecom_url}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def test_each_department_told_once_across_a_sigkill(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    ding = FakeRobot(access_token="tok-social", secret=SECRET)
    wecom = FakeRobot(key=KEY)
    _environ(monkeypatch, wecom)
    path, port = _hall(tmp_path, mosquitto, ding, wecom)
    v1, v2, v3 = _seed(path)
    gw = Gateway(path, port)
    try:
        # 社保科's robot refuses everything (send too fast): its notice waits, retried; 医保科's goes.
        ding.refuse = True
        gw.start()
        gw.call("POST", f"/api/v1/violations/{v1}/confirm", json={"reason": "录像核实"})
        gw.call("POST", f"/api/v1/violations/{v2}/confirm", json={"reason": "录像核实"})
        wait_for(lambda: len(wecom.taken) == 1, 30, "医保科's notice taken while 社保科's robot refuses")
        assert f"#{v2}" in wecom.texts()[0] and "李红" in wecom.texts()[0] and "3 个工作日内" in wecom.texts()[0]
        summary = wait_for(lambda: len(ding.refused) >= 2 and gw.robot_alert(), 60, "社保科's robot retried, alerted")
        assert "社保科 的通知机器人已连续失败" in summary and "130101" in summary, summary
        assert set(ding.refused) == {130101} and ding.taken == []

        # The wall: today's confirmed violations, names masked, no staff id, for its viewer.
        shown = gw.call("GET", "/api/v1/violations/exposure", role="viewer")
        assert sorted((v["window"], v["name"], v["kind"], v["department"]) for v in shown) == [
            ("W01", "王**", "away", "社保科"),
            ("W02", "李*", "phone", "医保科"),
        ]
        assert "S000" not in json.dumps(shown)

        gw.kill()
        ding.refuse = False
        gw.start()
        wait_for(lambda: len(ding.taken) == 1, 60, "社保科's notice delivered after the restart")
        wait_for(lambda: not gw.robot_alert(), 30, "the robot's alert gone once it takes messages")

        # The second of 王小明's: confirmed, and the strikes (2) reached: both go to 社保科, in order.
        gw.call("POST", f"/api/v1/violations/{v3}/confirm", json={"reason": "录像核实"})
        wait_for(lambda: len(ding.taken) == 3, 30, "the confirmation and the escalation")
        gw.kill()
        gw.start()
        # Nothing left in the queue (a row goes only once its robot took it): nothing is sent again.
        state = sqlite3.connect(load_config(path).store.state_file)
        assert state.execute("SELECT count(*) FROM deliveries WHERE target LIKE 'robot:%'").fetchone()[0] == 0
        state.close()
        texts = ding.texts()
        assert [sum(f"台账编号：#{v}" in t for t in texts) for v in (v1, v3)] == [1, 1]
        assert "违规累计达到上限" in texts[2] and f"#{v1}" in texts[2] and f"#{v3}" in texts[2]
        assert len(wecom.taken) == 1
    finally:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.kill()
        ding.close()
        wecom.close()


def test_the_wall_shows_the_days_confirmed_violations_masked(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    ding, wecom = FakeRobot(access_token="tok-social", secret=SECRET), FakeRobot(key=KEY)
    _environ(monkeypatch, wecom)
    path, port = _hall(tmp_path, mosquitto, ding, wecom)
    v1, v2, _ = _seed(path)  # the third stays detected: not on the wall
    gw = Gateway(path, port)
    try:
        gw.start()
        for v in (v1, v2):
            gw.call("POST", f"/api/v1/violations/{v}/confirm", json={"reason": "录像核实"})
        with chromium(1920, 1080) as driver:
            driver.get(f"{gw.url}/#token={TOKENS['viewer']}")
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "html[data-rendered]"), 30, "the wall drawn")
            rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#exposure tr")]
            assert len(rows) == 2 and any("王**" in r and "工作时间离岗超时" in r and "W01" in r for r in rows), rows
            card = driver.find_element(By.ID, "exposure-card").text
            assert "大厅公示" in card and "S000" not in card and "王小明" not in card
            # read from across the hall: no text of the card under 24 px on the wall screen
            sizes = driver.execute_script(
                "return [...document.querySelectorAll('#exposure-card *')].filter((e) => [...e.childNodes]"
                ".some((n) => n.nodeType === 3 && n.textContent.trim())).map((e) => [e.textContent.trim(),"
                " parseFloat(getComputedStyle(e).fontSize)])"
            )
            assert sizes and [(t, px) for t, px in sizes if px < 24] == []
            driver.save_screenshot(str(tmp_path / "wall-exposure-1920x1080.png"))
            assert console_errors(driver) == []
    finally:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.kill()
        ding.close()
        wecom.close()


def test_a_robots_secret_must_be_set(tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> None:
    ding, wecom = FakeRobot(access_token="tok-social", secret=SECRET), FakeRobot(key=KEY)
    try:
        _environ(monkeypatch, wecom)
        monkeypatch.delenv("NOTIFY_DING_SECRET")
        path, _ = _hall(tmp_path, mosquitto, ding, wecom)
        with pytest.raises(
            ConfigError, match=r"discipline\.departments\.社保科\.dingtalk\.secret_env.*NOTIFY_DING_SECRET"
        ):
            load_config(path)
    finally:
        ding.close()
        wecom.close()
