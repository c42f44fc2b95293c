"""The unlock rule said before the click: GET /lockboxes/{device}/slots gives each slot whether the
caller may open it now and why, in Chinese, asked of the unlock's own policy (policy.py), and a
jammed lock or an offline cabinet as such."""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.commands.audit import Caller
from gateway.config.load import load_config
from gateway.domain.calendar import Schedule
from gateway.kinds.lockbox.policy import Denied, authorise_slot_unlock, unlock_rule
from gateway.runtime import start_gateway
from tests.servers import Mosquitto
from tests.test_commands import ALWAYS, Api, _hall, _sim, tokens  # noqa: F401 (a fixture)
from tests.waits import until

ZONE = "Asia/Shanghai"
HOURS = Schedule.of(["mon", "tue", "wed", "thu", "fri"], time(9), time(17))
MONDAY_10 = int(datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo(ZONE)).timestamp() * 1e9)
MONDAY_20 = int(datetime(2026, 12, 7, 20, 0, tzinfo=ZoneInfo(ZONE)).timestamp() * 1e9)


@pytest.mark.parametrize(
    ("role", "at", "may", "reason", "case"),
    [
        ("staff", MONDAY_10, False, False, "unlock_in_hours"),
        ("duty_manager", MONDAY_10, True, True, None),
        ("staff", MONDAY_20, True, False, None),
        ("duty_manager", MONDAY_20, True, False, None),
        ("manager", MONDAY_20, False, False, "unlock_role"),
        ("manager", MONDAY_10, False, False, "unlock_in_hours"),
    ],
)
def test_the_rule_shown_is_the_rule_the_unlock_applies(
    role: str, at: int, may: bool, reason: bool, case: str | None
) -> None:
    who = Caller(role, "someone")
    rule = unlock_rule(who, HOURS, ZONE, at)
    assert (rule.may, rule.reason_required, rule.denied and rule.denied.case) == (may, reason, case)
    # The unlock itself agrees: with a reason when one is required, refused when not allowed.
    try:
        authorise_slot_unlock(who, "原因" if reason else "", HOURS, ZONE, at)
        allowed = True
    except Denied:
        allowed = False
    assert allowed == may


@pytest.mark.usefixtures("tokens")
def test_the_slots_route_says_who_may_open_a_slot_now(tmp_path: Path, mosquitto: Mosquitto) -> None:
    asyncio.run(_rule(_hall(tmp_path, mosquitto, ALWAYS), mosquitto))


async def _rule(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim, start_gateway(cfg):
        api = Api(cfg)
        lb = sim.device("lb-1")

        async def slots(who: str) -> list[dict[str, Any]]:
            r = await api.call(who, "GET", "/lockboxes/lb-1/slots")
            assert r.status_code == 200, r.text
            return r.json()

        async def online() -> bool:
            return (await api.call("MANAGER", "GET", "/devices/lb-1")).json()["online"]

        await until(online, what="the lockbox online")
        # Every slot of the cabinet (12 in the hall file), in working hours (all day here).
        staff = await slots("STAFF")
        assert [s["slot"] for s in staff] == list(range(1, 13))
        assert {(s["may_unlock"], s["rule"]) for s in staff} == {(False, "forbidden/unlock_in_hours")}
        assert staff[0]["why"] == (
            "工作时间内只有值班长可以开启手机格口（当前角色：窗口工作人员）。"
            "请联系值班长开启；下班时间（23:59 后）本人可以开启"
        )
        duty = await slots("DUTY")
        assert {(s["may_unlock"], s["reason_required"], s["rule"]) for s in duty} == {(True, True, "with_reason")}
        assert duty[0]["why"] == "工作时间，值班长可以开启，需填写开锁原因"
        manager = await slots("MANAGER")
        assert not any(s["may_unlock"] for s in manager)

        # A jammed lock, once an unlock found it so: that slot only, for everyone.
        lb.jam(4)
        r = await api.unlock(4, "k-jam")
        assert r.json()["error"] == "jammed", r.text
        jammed = await until(lambda: _where(slots("DUTY"), lambda s: s["jammed"]), what="slot 4 shown jammed")
        assert [(s["slot"], s["may_unlock"], s["rule"]) for s in jammed] == [(4, False, "jammed")]
        assert jammed[0]["why"] == "格口卡住，无法开启：请联系运维人员检修"

        # The cabinet offline: no slot may open, and the words say why.
        lb.crash()
        await until(lambda: _not(online()), what="the lockbox offline")
        off = await slots("DUTY")
        assert {(s["may_unlock"], s["rule"], s["why"]) for s in off} == {
            (False, "offline", "手机柜离线，无法开启：请联系运维人员")
        }
        await api.http.aclose()


async def _where(rows: Any, pred: Any) -> list[dict[str, Any]]:
    return [s for s in await rows if pred(s)]


async def _not(value: Any) -> bool:
    return not await value
