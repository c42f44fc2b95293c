"""A change of the staff registry (`POST /api/v1/staff`) counts at once, without a restart, in the
parts that run all day: the next 差评's alert names the person by their new name, and the
discipline watch knows a person added through the API (their phone slot, their department). A real
gateway, simulated devices on a real Mosquitto; the gateway is not restarted between the change and
what it is checked by."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.test_commands import ALWAYS, _sim
from tests.waits import until

ADMIN = "live-admin-token-0123456789"
DUTY = "live-duty-token-0123456789"


def _hall(tmp_path: Path, mosquitto: Mosquitto) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: live
working_hours: {ALWAYS}
api:
  port: {free_port()}
  tokens:
    - {{role: admin, env: LIVE_ADMIN, name: zhou.admin}}
    - {{role: duty_manager, env: LIVE_DUTY, name: zhao.duty}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
attendance: {{lunch: null, touch_s: 0}}
posts: [{{window: W01, a: S0001}}]
staff: [{{id: S0001, name: 王小明, department: 社保科, window: W01}}]
phones: {{lockboxes: [{{device: lb-1, slots: {{S0001: 3}}}}]}}
discipline: {{away_min: 60, phone_grace_min: 0.02, unlock_covers_min: 30, ready_grace_min: 600, breaks: [],
              check_s: 1}}
devices:
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12, sim: {{phones_in_ratio: 0}}}}
  - {{id: att-1, kind: attendance, profile: ref-attendance}}
  - {{id: rp-1, kind: rating_pad, profile: ref-rating-pad, window: W01}}
""")
    return path


def test_a_registry_change_names_the_next_bad_rating_and_a_new_person_is_watched(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVE_ADMIN", ADMIN)
    monkeypatch.setenv("LIVE_DUTY", DUTY)
    asyncio.run(_run(_hall(tmp_path, mosquitto), mosquitto))


async def _run(path: Path, mosquitto: Mosquitto) -> None:

    cfg = load_config(path)
    async with (
        _sim(path, mosquitto) as sim,
        start_gateway(cfg),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}/api/v1", timeout=10) as http,
    ):
        admin, duty = {"Authorization": f"Bearer {ADMIN}"}, {"Authorization": f"Bearer {DUTY}"}
        pad, lb, att = sim.device("rp-1"), sim.device("lb-1"), sim.device("att-1")

        async def online() -> bool:
            r = await http.get("/devices", headers=duty)
            return r.status_code == 200 and all(d["online"] for d in r.json())

        await until(online, what="devices online")

        async def bad_alert(case: str) -> dict[str, Any] | None:
            r = await http.get("/alerts", headers=duty)
            assert r.status_code == 200, r.text
            return next((a for a in r.json() if a["rule"] == "bad_rating" and case in a["summary"]), None)

        # Before: the file's name.
        first = pad.rate(1, staff_id="S0001", reasons=["slow"])
        alert = await until(lambda: bad_alert(first["case_id"]), what="the first 差评's alert")
        assert "王小明（工号 S0001）" in alert["summary"], alert["summary"]

        # Renamed and a person added (their own phone slot), through the API; no restart.
        r = await http.post("/staff", json={"id": "S0001", "name": "王晓明", "department": "社保科"}, headers=admin)
        assert r.status_code == 200, r.text
        new = {"id": "S0009", "name": "张新", "department": "医保科", "phone": {"device": "lb-1", "slot": 5}}
        r = await http.post("/staff", json=new, headers=admin)
        assert r.status_code == 200, r.text

        second = pad.rate(1, staff_id="S0001", reasons=["slow"])
        alert = await until(lambda: bad_alert(second["case_id"]), what="the second 差评's alert")
        assert "王晓明（工号 S0001）" in alert["summary"], alert["summary"]

        # The new person clocks in with their phone in its slot, then takes it out: the watch finds
        # it (only the registry's change says slot 5 is theirs), with the registry's department.
        att.punch("S0009", direction="in")
        lb.put_phone(5)

        async def phone_violation() -> dict[str, Any] | None:
            r = await http.get("/violations", params={"kind": "phone"}, headers=duty)
            assert r.status_code == 200, r.text
            return next((v for v in r.json() if v["staff"] == "S0009"), None)

        async def phone_in(want: bool) -> bool:
            r = await http.get("/lockboxes/lb-1/slots", headers=duty)
            assert r.status_code == 200, r.text
            return any(row["slot"] == 5 and row["phone"] is want for row in r.json())

        await until(lambda: phone_in(True), what="the phone in slot 5")
        lb.take_phone(5)
        await until(lambda: phone_in(False), what="the phone out of slot 5")
        v = await until(phone_violation, what="S0009's phone violation")
        assert (v["name"], v["department"]) == ("张新", "医保科"), v
        assert any(e["event"] == "phone_out" and e["slot"] == 5 for e in v["evidence"]), v


def test_the_snapshot_is_read_again_only_after_a_change(tmp_path: Path) -> None:
    """Cheap by design: between changes every read answers the same snapshot (no database read per
    message); a change through the overlay answers a new one at once."""
    from gateway.config.hall import HallConfig
    from gateway.staff_registry import Roster
    from gateway.store.journal import Journal

    staff = [{"id": "S1", "name": "王一", "department": "社保科"}]
    cfg = HallConfig.model_validate({"site": "t", "timezone": "Asia/Shanghai", "staff": staff})
    journal = Journal(tmp_path / "state.sqlite")
    try:
        roster = Roster(cfg, journal)
        first = roster.names()
        assert first == {"S1": "王一"} and all(roster.names() is first for _ in range(3))
        row = {"at_ns": 1, "device": "staff", "part": "S1", "action": "staff_update", "actor": "a", "role": "admin"}
        row |= {"reason": "", "outcome": "confirmed", "error": None, "latency_ms": None, "command_id": None}
        journal.repos.staff.put({"id": "S1", "name": "王一一", "department": "社保科"}, True, row)
        assert roster.names() == {"S1": "王一一"} and roster.by_id()["S1"].name == "王一一"
        journal.repos.staff.put({"id": "S2", "name": "张二"}, True, {**row, "part": "S2", "action": "staff_add"})
        assert [p.id for p in roster.people()] == ["S1", "S2"]
        again = roster.names()
        assert roster.names() is again
    finally:
        journal.close()
