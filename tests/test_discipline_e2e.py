"""The discipline ledger end to end: the simulated attendance machine and lockbox (real Mosquitto),
the gateway, its API. A phone taken out without an approved unlock and a post left are detected
with their evidence; a phone taken out after an approved unlock is not; the lifecycle and the
escalation after the configured count of confirmed violations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.test_commands import ALWAYS, Api, _sim
from tests.test_commands_compliance import tokens  # noqa: F401  (the fixture: the tokens in the environment)
from tests.waits import until


def _hall(tmp_path: Path, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: ledger
working_hours: {ALWAYS}
api:
  port: {free_port()}
  tokens:
    - {{role: staff, env: CMD_TOKEN_STAFF, name: S0002}}
    - {{role: duty_manager, env: CMD_TOKEN_DUTY, name: zhao.duty}}
    - {{role: manager, env: CMD_TOKEN_MANAGER, name: li.manager}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
attendance: {{lunch: null, touch_s: 0}}  # the test clocks out within 2 s of clocking in
posts:
  - {{window: W01, a: S0001}}
  - {{window: W02, a: S0002}}
staff:
  - {{id: S0001, name: 王小明, department: 社保科, window: W01}}
  - {{id: S0002, name: 李红, department: 医保科, window: W02}}
phones: {{lockboxes: [{{device: lb-1, slots: {{S0001: 3, S0002: 4}}}}]}}
discipline:
  away_min: 0.02
  phone_grace_min: 0.02
  unlock_covers_min: 30
  ready_grace_min: 0
  breaks: []
  check_s: 1
  strikes: {{count: 2}}
devices:
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12, sim: {{phones_in_ratio: 0}}}}
  - {{id: att-1, kind: attendance, profile: ref-attendance}}
""")
    return path


@pytest.mark.usefixtures("tokens")
def test_phone_and_away_detected_and_escalated(tmp_path: Path, mosquitto: Mosquitto) -> None:
    asyncio.run(_run(_hall(tmp_path, mosquitto), mosquitto))


async def _run(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim, start_gateway(cfg):
        api = Api(cfg)
        lb, att = sim.device("lb-1"), sim.device("att-1")
        await until(api.online, what="devices online")

        async def ledger(**params: Any) -> list[dict[str, Any]]:
            r = await api.call("DUTY", "GET", "/violations", params=params)
            assert r.status_code == 200, r.text
            return r.json()

        async def phone_out(staff: str) -> bool:
            r = await api.call("DUTY", "GET", "/lockboxes/compliance")
            return any(row["staff"] == staff and row["phone_in"] is False for row in r.json())

        lb.put_phone(3)
        lb.put_phone(4)
        for staff in ("S0001", "S0002"):
            att.punch(staff, direction="in")
        await until(lambda: _present(api, 2), what="both clocked in with phones in")

        # S0001's phone out after an approved unlock; S0002's, later, without one.
        r = await api.unlock(3, "k-1", reason="家里有急事")
        assert r.status_code == 200, r.text
        # The simulated cabinet may open the door and take the phone itself in the release window;
        # once that is over, the phone is taken (if it still is in).
        await until(lambda: not lb.slots[3].releasing, what="the release window over")
        lb.take_phone(3)
        await until(lambda: phone_out("S0001"), what="S0001's phone out")
        lb.take_phone(4)
        phone = await until(lambda: _found(ledger(kind="phone")), what="the phone violation")
        # S0001's phone went out first: had the unlock not covered it, it was found by now.
        assert [v["staff"] for v in phone] == ["S0002"]
        (v,) = phone
        assert (v["state"], v["window"], v["name"], v["department"]) == ("detected", "W02", "李红", "医保科")
        events = {e["event"]: e for e in v["evidence"]}
        assert events["phone_out"]["device"] == "lb-1" and events["phone_out"]["slot"] == 4
        assert events["punch"]["staff"] == "S0002" and events["punch"]["at"]

        # S0001 leaves the post: 离岗超时 past the limit, the out punch as evidence.
        att.punch("S0001", direction="out")
        await until(lambda: _gone(api, "S0001"), what="S0001 clocked out")
        (away,) = await until(lambda: _found(ledger(kind="away")), what="the away violation")
        assert (away["staff"], away["window"]) == ("S0001", "W01")
        assert [(e["event"], e["direction"]) for e in away["evidence"]] == [("punch", "out")]
        assert {v["kind"] for v in await ledger(department="社保科")} >= {"away"}

        # Confirmed by the duty manager, appealed by the person, upheld: two count, the escalation.
        for vid in (v["id"], away["id"]):
            r = await api.call("DUTY", "POST", f"/violations/{vid}/confirm", json={"reason": "设备记录与监控一致"})
            assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
        r = await api.call("STAFF", "POST", f"/violations/{away['id']}/appeal", json={"note": "不是我的"})
        assert r.status_code == 403 and r.json()["message"] == "只能对本人的违规记录提出申诉", r.text  # S0001's
        r = await api.call("STAFF", "POST", f"/violations/{v['id']}/appeal", json={"note": "当时在帮群众查资料"})
        assert r.json()["state"] == "appealed", r.text
        r = await api.call("DUTY", "POST", f"/violations/{v['id']}/dismiss", json={"reason": "x"})
        assert r.status_code == 409 and r.json()["error"] == "violation_state" and "违规记录" in r.json()["message"], (
            r.text
        )
        r = await api.call(
            "MANAGER", "POST", f"/violations/{v['id']}/decide", json={"reason": "核实", "outcome": "upheld"}
        )
        body = r.json()
        assert (body["state"], body["outcome"], body["counts"]) == ("decided", "upheld", True), r.text
        # 工作准备不到位 at opening (00:00 here, nobody on either post): S0002's confirmed is their
        # second counted one, the escalation; S0001's dismissed leaves them at one.
        unready = {u["staff"]: u for u in await ledger(kind="unready")}
        assert set(unready) == {"S0001", "S0002"}
        r = await api.call(
            "DUTY", "POST", f"/violations/{unready['S0001']['id']}/dismiss", json={"reason": "请假已报备"}
        )
        assert r.json()["state"] == "dismissed", r.text
        r = await api.call(
            "DUTY", "POST", f"/violations/{unready['S0002']['id']}/confirm", json={"reason": "未按时到岗"}
        )
        assert r.json()["state"] == "confirmed", r.text
        year = body["at"][:4]
        alert = await until(lambda: api.alert("violation_strikes", f"staff S0002 {year}"), what="the escalation alert")
        assert f"#{v['id']}" in alert["summary"] and f"#{unready['S0002']['id']}" in alert["summary"]
        strikes = {s["staff"]: s for s in (await api.call("MANAGER", "GET", "/violations/strikes")).json()}
        assert (strikes["S0002"]["count"], strikes["S0002"]["limit"]) == (2, 2) and strikes["S0002"]["escalated_at"]
        assert (strikes["S0001"]["count"], strikes["S0001"]["escalated_at"]) == (1, None)
        assert await api.alert("violation_strikes", f"staff S0001 {year}") is None
        await api.http.aclose()


async def _present(api: Api, n: int) -> bool:
    r = await api.call("DUTY", "GET", "/lockboxes/compliance")
    rows = r.json() if r.status_code == 200 else []
    return len(rows) == n and all(row["phone_in"] for row in rows)


async def _gone(api: Api, staff: str) -> bool:
    r = await api.call("DUTY", "GET", "/lockboxes/compliance")
    return r.status_code == 200 and staff not in [row["staff"] for row in r.json()]


async def _found(rows: Any) -> Any:
    return await rows or None
