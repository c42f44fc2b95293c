"""What a device's health and the alerts say, in the catalogue's words (issue 22): every rule a
Condition is raised with and every code a health Problem has (the offline reasons too) has a
Chinese template (gateway/i18n/zh_CN.py SUMMARIES or its kind's words.py), each call site gives
its template the specifics, and a real gateway says an offline device and a low battery in Chinese
(the English stays in the code's `text`/`summary` arguments, for the logs). A 差评's alert is the
managers': a technician who tries to close it is told so, in Chinese."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.domain.health import DeviceHealth, Problem, english, evaluate, poll_failed, tick, words
from gateway.i18n.catalogue import say, summaries
from gateway.i18n.entry import bare_fields
from gateway.kinds.base import doors_left_open, low_battery
from gateway.runtime import Gateway
from tests.every_role import TOKENS, every_role
from tests.servers import Mosquitto
from tests.waits import until

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_WORD = re.compile(r"[A-Za-z_]{3,}")
# Rules whose words are made where the condition is made, from the device's health (gateway/alerts/rules.py).
DEVICE_RULES = {"device_offline", "device_problem"}
MADE_BY = ("Condition", "Problem", "Offline")  # what a rule, a health problem or an offline reason is made as


def _constants(tree: ast.Module) -> dict[str, str]:
    """A module's `NAME = "text"` constants (a rule named by a constant: `UNANSWERED`)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return out


def raised() -> tuple[dict[str, list[str]], list[str]]:
    """Every Condition rule, Problem code and Offline reason in gateway/ -> where; and the Condition
    calls that give no `params` (outside gateway/alerts/rules.py, which words a device's conditions itself)."""
    found: dict[str, list[str]] = {}
    without: list[str] = []
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _constants(tree)
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in MADE_BY):
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Attribute) and first.attr == "code":
                continue  # a device's alert from its health Problem (alerts/rules.py): scanned as the Problem
            code = first.value if isinstance(first, ast.Constant) else names.get(getattr(first, "id", ""))
            assert isinstance(code, str), f"{where}:{node.lineno}: a rule the scan cannot read"
            found.setdefault(code, []).append(f"{where}:{node.lineno}")
            gives = any(k.arg == "params" for k in node.keywords) or len(node.args) >= 7
            if node.func.id == "Condition" and not gives and where != "gateway/alerts/rules.py":  # type: ignore[attr-defined]
                without.append(f"{where}:{node.lineno} {code}")
    return found, without


def test_every_rule_and_problem_code_has_a_chinese_template() -> None:
    found, without = raised()
    # The scan sees the gateway's, the domain's and the kinds' rules, by literal and by constant.
    assert {"device_offline", "low_battery", "silent", "bad_rating", "queue_long_wait", "command_unanswered"} <= set(
        found
    )
    assert len(found) >= 28, sorted(found)
    table = summaries()
    missing = {code: where for code, where in found.items() if code not in table}
    assert missing == {}, "add a template to gateway/i18n/zh_CN.py SUMMARIES or the kind's words.py SUMMARIES"
    assert without == [], "pass the template's specifics: Condition(..., params={...})"
    for code, entry in table.items():
        framed = code == "device_problem"  # a device and its problem's words: no words of its own
        assert (framed or CJK.search(entry.message)) and bare_fields(entry.message) == set(), (code, entry.message)
    assert set(table) >= DEVICE_RULES


def test_a_device_s_health_reads_in_chinese_with_the_catalogue_and_in_english_without() -> None:
    pad = DeviceHealth("rp-w07", "rating_pad", "mqtt", say=say, rules=low_battery)
    assert pad.detail == "启动后从未收到它的消息"
    pad.online, pad.last_seen_ns, pad.info["battery"] = True, 0, 15
    evaluate(pad, 0)
    assert (pad.health, pad.detail) == ("degraded", "电量低（15%）")
    pad.info.pop("battery")
    assert tick(pad, 100 * 10**9) is not None and pad.detail == "已 100 秒未收到任何消息（心跳中断）"
    board = DeviceHealth("lk", "pickup_locker", "modbus", say=say)
    for _ in range(3):
        poll_failed(board, "timeout", 1)
    assert board.detail == "连续 3 次轮询无应答：timeout"
    # Without the catalogue (the domain's own tests): the English, as before.
    plain = DeviceHealth("rp-w07", "rating_pad", "mqtt", rules=low_battery)
    plain.online, plain.info["battery"] = True, 15
    evaluate(plain, 0)
    assert plain.say is english and plain.detail == "battery low (15 %)"
    # A part by its label: a door left open.
    [door] = doors_left_open({"open_since": {"slot 3": 0}, "left_open_after_s": 60}, 200 * 10**9)
    assert words(pad, door) == "格口 3 未关闭，已 200 秒"
    # A problem the catalogue has no words for keeps its English.
    assert words(pad, Problem("a_new_rule", "something new")) == "something new"


def _pub(broker: Mosquitto, topic: str, doc: dict[str, Any]) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", topic, "-m", json.dumps(doc)], check=True)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def test_the_api_says_an_offline_device_and_a_low_battery_in_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    """A real gateway: the lockbox says it went offline, the rating pad's heartbeat says 15 %; the
    alerts' `summary` and the devices' `detail` are the catalogue's Chinese, without an English word,
    and the same alerts read in English (`Accept-Language: en`) are English."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        tech = {"Authorization": f"Bearer {TOKENS['technician']}"}

        def told(then: Any) -> Any:
            # Said again until heard: the gateway may not have subscribed yet when the test begins.
            _pub(mosquitto, "hall/hostile/lockbox/lb/status", {"ts": _now(), "state": "offline", "reason": "power_cut"})
            _pub(mosquitto, "hall/hostile/rating/rp/heartbeat", {"ts": _now(), "uptime_s": 5, "battery": 15})
            return then

        async def alert(rule: str) -> dict[str, Any] | None:
            listed = (await http.get("/api/v1/alerts", params={"state": "active"}, headers=tech)).json()
            return next((a for a in listed if a["rule"] == rule), None)

        offline = await until(lambda: told(alert("device_offline")), what="lb's offline alert")
        assert offline["summary"] == "lb 离线：设备报告离线（power_cut）", offline
        battery = await until(lambda: told(alert("low_battery")), what="rp's battery alert")
        assert battery["summary"] == "rp：电量低（15%）", battery
        lb = (await http.get("/api/v1/devices/lb", headers=tech)).json()
        assert (lb["health"], lb["detail"]) == ("offline", "设备报告离线（power_cut）")
        assert lb["link"]["state"] in ("up", "down") and lb["last_seen"] is not None
        for doc in (offline, battery):
            assert ASCII_WORD.findall(doc["summary"]) == (["power_cut"] if doc is offline else []), doc
        # A reader who asks for English (the English page) gets the same alerts in English.
        en = {**tech, "Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.8"}
        listed = (await http.get("/api/v1/alerts", params={"state": "active"}, headers=en)).json()
        said = {a["rule"]: a["summary"] for a in listed}
        assert said["device_offline"] == "lb offline: device said offline (power_cut)", said
        assert said["low_battery"] == "rp: battery low (15 %)", said

    every_role(tmp_path, monkeypatch, body, mosquitto)


def test_a_technician_may_not_close_a_bad_rating_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto
) -> None:
    """A 差评 is the managers' to handle in its work order: its alert says who closes it, a
    technician's close is refused with a Chinese message naming the work orders, a manager's works."""

    async def body(gw: Gateway, http: httpx.AsyncClient) -> None:
        def who(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {TOKENS[role]}"}

        rating = {"ts": _now(), "seq": 1, "type": "rated", "window": "W01", "score": 1, "case_id": "c-22"}

        async def bad() -> dict[str, Any] | None:
            # Said again until heard (the same seq: one rating): the gateway may not have subscribed yet.
            _pub(mosquitto, "hall/hostile/rating/rp/event", {**rating, "reasons": ["attitude"], "item": "营业执照"})
            listed = (await http.get("/api/v1/alerts", headers=who("technician"))).json()
            return next((a for a in listed if a["rule"] == "bad_rating"), None)

        alert = await until(bad, what="the 差评 alert")
        assert alert["closes_by_hand"] and alert["closed_by"] == ["duty_manager", "manager"], alert
        assert alert["summary"] == "差评 1 分：窗口 W01，事项 营业执照，原因 服务态度，办件号 c-22", alert
        r = await http.post(f"/api/v1/alerts/{alert['id']}/close", json={"note": "n"}, headers=who("technician"))
        assert r.status_code == 403, r.text
        doc = r.json()
        assert (
            doc["error"] == "forbidden"
            and doc["message"] == "差评告警由值班长或管理人员在差评工单中处理，运维人员不能关闭"
        )
        assert "差评工单" in doc["next"]
        # Acknowledging is still the technician's; closing is the manager's.
        r = await http.post(f"/api/v1/alerts/{alert['id']}/ack", json={"note": "已转值班长"}, headers=who("technician"))
        assert r.status_code == 200, r.text
        r = await http.post(f"/api/v1/alerts/{alert['id']}/close", json={"note": "已回访"}, headers=who("manager"))
        assert (r.status_code, r.json()["state"]) == (200, "closed"), r.text

    every_role(tmp_path, monkeypatch, body, mosquitto)
