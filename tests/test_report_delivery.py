"""Scheduled reports delivered, on a real gateway restarted around Monday 08:00 (the clock its only
fake): the week's report made once when the gateway starts after its time, pushed to the work
group through a 钉钉 robot (the fake of tests/robots.py, which checks the signature) and sent by
e-mail through a real SMTP server (aiosmtpd, AUTH required) with the PDF and the XLSX attached.
The server refusing is retried and shows in the report's state; once taken, nothing is sent
again, across a restart."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gateway.config.load import load_config
from gateway.features.reports import schedule
from gateway.features.reports.deliver import EMAIL, ROBOT
from gateway.features.reports.schedule import Scheduler
from gateway.runtime import start_gateway
from tests.robots import FakeRobot
from tests.servers import free_port
from tests.waits import until

TOKEN = "delivery-manager-token-0123456789abcd"
SECRET = "SEC0123456789abcdef"
PASSWORD = "smtp-pass-0123"


class Mailbox:
    """What the SMTP server took, and a switch to refuse with a temporary error."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.logins: list[tuple[bytes, bool]] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        if self.refuse:
            return "451 4.3.0 mailbox busy, try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def auth(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"reports" and data.password == PASSWORD.encode()
        self.logins.append((data.login if isinstance(data, LoginPassword) else b"", ok))
        return AuthResult(success=ok, handled=False)  # a refusal answered by aiosmtpd (535)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    c = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=box.auth, auth_required=True, auth_require_tls=False
    )
    c.start()
    yield box, port
    c.stop()


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()) * 10**9


def hall_file(tmp: Path, robot: FakeRobot, smtp_port: int) -> Path:
    hall = tmp / "hall.yaml"
    hall.write_text(f"""
site: deliver-hall
name: 投递测试大厅
timezone: Asia/Shanghai
api:
  port: {free_port()}
  tokens: [{{role: manager, env: HALLGATE_TOKEN_MANAGER, name: 李经理}}]
store: {{path: {tmp}/outbox.sqlite}}
reports:
  schedule: {{at: {{week: "08:00", month: "08:00"}}}}
  delivery:
    link: http://hall-gw.example:8080
    robot: {{dingtalk: {{url: "{robot.dingtalk_url}", secret_env: REPORT_ROBOT_SECRET}}}}
    email:
      host: 127.0.0.1
      port: {smtp_port}
      security: none
      user: reports
      password_env: REPORT_SMTP_PASSWORD
      from: 大厅网关 <gateway@hall.example>
      to: [director@hall.example, office@hall.example]
""")
    return hall


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a local test server
def test_the_weeks_report_is_delivered_once_by_robot_and_email(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    robot = FakeRobot(access_token="reports-group", secret=SECRET)
    monkeypatch.setenv("HALLGATE_TOKEN_MANAGER", TOKEN)
    monkeypatch.setenv("REPORT_ROBOT_SECRET", SECRET)
    monkeypatch.setenv("REPORT_SMTP_PASSWORD", PASSWORD)
    now = [ns("2026-11-29 20:00")]  # Sunday night
    monkeypatch.setattr(schedule, "now_ns", lambda: now[0])
    try:
        asyncio.run(_deliveries(load_config(hall_file(tmp_path, robot, port)), now, box, robot))
    finally:
        robot.close()


async def _deliveries(cfg: Any, now: list[int], box: Mailbox, robot: FakeRobot) -> None:
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", headers={"Authorization": f"Bearer {TOKEN}"})
    async with http:
        async with start_gateway(cfg) as gw:
            assert await gw.view.served(Scheduler).check() == []  # type: ignore[union-attr]
        # down at 08:00 on Monday; started at 09:30 while the mail server refuses
        now[0] = ns("2026-11-30 09:30")
        box.refuse = True
        async with start_gateway(cfg) as gw:

            async def report() -> dict[str, Any] | None:
                rows = (await http.get("/api/v1/reports")).json()
                return rows[0] if rows and rows[0]["status"] == "done" else None

            made = await until(report, what="the scheduled report")
            assert (made["kind"], made["period"], made["by"]) == ("week", "2026-W48", "schedule")
            assert (made["start"], made["end"]) == ("2026-11-23T00:00:00.000+08:00", "2026-11-30T00:00:00.000+08:00")

            def channel(row: dict[str, Any], name: str) -> dict[str, Any]:
                return next(d for d in row["deliveries"] if d["channel"] == name)

            async def refused() -> dict[str, Any] | None:
                row = (await http.get(f"/api/v1/reports/{made['id']}")).json()
                mail = channel(row, "email")
                return row if mail["state"] == "retrying" and "邮件服务器拒收（451" in (mail["error"] or "") else None

            row = await until(refused, what="the refused e-mail in the report's state")
            assert channel(row, "email")["attempts"] >= 1 and channel(row, "email")["sent"] is None
            await until(lambda: robot.taken, what="the robot's message")
            box.refuse = False

            async def sent() -> dict[str, Any] | None:
                row = (await http.get(f"/api/v1/reports/{made['id']}")).json()
                return row if {d["state"] for d in row["deliveries"]} == {"sent"} else None

            row = await until(sent, timeout=30, what="both deliveries sent")
            assert channel(row, "robot")["sent"] and channel(row, "email")["sent"]
            pdf = (await http.get(f"/api/v1/reports/{made['id']}.pdf")).content
            xlsx = (await http.get(f"/api/v1/reports/{made['id']}.xlsx")).content
            plan = (await http.get("/api/v1/reports/schedule")).json()
        # restarted after it was made and delivered: nothing made or sent again
        now[0] = ns("2026-11-30 10:00")
        async with start_gateway(cfg) as gw:
            assert await gw.view.served(Scheduler).check() == []  # type: ignore[union-attr]
            j = gw.view.journal
            assert j.pending_count(ROBOT) == j.pending_count(EMAIL) == 0  # nothing left to send
            assert len((await http.get("/api/v1/reports")).json()) == 1
    # the work group's message: the week's headline figures and the link to the report's page
    assert len(robot.taken) == 1 and robot.refused == []
    md = robot.taken[0]["markdown"]
    assert md["title"] == "投递测试大厅 周报 2026-W48"
    assert "统计期间：2026-11-23 至 2026-11-29" in md["text"] and "- 取号数：**本厅没有排队叫号系统**" in md["text"]
    assert f"(http://hall-gw.example:8080/web/manager.html#report-{made['id']})" in md["text"]
    # the e-mail: once, after the login, in Chinese, the PDF and the XLSX attached as the API serves them
    assert len(box.messages) == 1 and (b"reports", True) in box.logins
    m = box.messages[0]
    assert m["Subject"] == "【运行情况报告】投递测试大厅 周报 2026-W48"
    assert m["To"] == "director@hall.example, office@hall.example"
    assert "统计期间 2026-11-23 至 2026-11-29" in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    files = {a.get_filename(): a.get_payload(decode=True) for a in m.iter_attachments()}
    assert files == {"report-week-2026-W48.pdf": pdf, "report-week-2026-W48.xlsx": xlsx}
    # the schedule: each kind's next run, the week's last
    runs = {r["kind"]: r for r in plan["runs"]}
    assert runs["week"]["next"] == {"period": "2026-W49", "at": "2026-12-07T08:00:00.000+08:00"}
    assert runs["month"]["next"] == {"period": "2026-11", "at": "2026-12-01T08:00:00.000+08:00"}
    assert runs["week"]["last"]["period"] == "2026-W48" and runs["week"]["last"]["state"] == "done"
    assert runs["month"]["last"] is None and plan["delivery"] == ["robot", "email"]
