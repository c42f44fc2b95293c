"""The phone compliance view end to end: the simulated lockbox and attendance machine (real
Mosquitto), the gateway, its API; and the staff-to-slot map's configuration checks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from tests.servers import Mosquitto, free_port
from tests.test_commands import ALWAYS, TOKENS, Api, _sim
from tests.waits import until


def _hall(tmp_path: Path, mosquitto: Mosquitto, phones: str, attendance: bool = True) -> Path:
    path = tmp_path / "hall.yaml"
    machine = "\n  - {id: att-1, kind: attendance, profile: ref-attendance}" if attendance else ""
    path.write_text(f"""
site: phones
working_hours: {ALWAYS}
api:
  port: {free_port()}
  tokens:
    - {{role: staff, env: CMD_TOKEN_STAFF, name: wang.staff}}
    - {{role: duty_manager, env: CMD_TOKEN_DUTY, name: zhao.duty}}
    - {{role: manager, env: CMD_TOKEN_MANAGER}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite}}
alerts: {{clear_after_s: 0.5}}
attendance: {{lunch: null}}
phones: {phones}
devices:
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: 12, sim: {{phones_in_ratio: 0}}}}{machine}
""")
    return path


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"CMD_TOKEN_{name}", token)


def test_compliance_view_and_alert(tmp_path: Path, mosquitto: Mosquitto, tokens: None) -> None:
    path = _hall(tmp_path, mosquitto, "{grace_min: 0.02, lockboxes: [{device: lb-1, slots: {S0001: 3, S0002: 4}}]}")
    asyncio.run(_run(path, mosquitto))


async def _run(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim, start_gateway(cfg):
        api = Api(cfg)
        lb, att = sim.device("lb-1"), sim.device("att-1")
        await until(api.online, what="devices online")

        async def view(missing: bool = False) -> list[dict[str, Any]]:
            r = await api.call("DUTY", "GET", "/lockboxes/compliance", params={"missing": missing})
            assert r.status_code == 200, r.text
            return r.json()

        assert await view() == []  # nobody clocked in yet
        lb.put_phone(3)
        for staff in ("S0001", "S0002", "S0009"):  # S0009 has no slot: not listed
            att.punch(staff, direction="in")
        # Both listed once the cabinet has reported both slots (its snapshot, asked for when it came
        # online, and the phone put in slot 3 arrive in either order).
        rows = await until(
            lambda: _when(view(), lambda v: len(v) == 2 and v[0]["phone_in"] and v[1]["phone_in"] is not None),
            what="both listed",
        )
        assert [(r["staff"], r["device"], r["slot"], r["phone_in"]) for r in rows] == [
            ("S0001", "lb-1", 3, True),
            ("S0002", "lb-1", 4, False),
        ]
        assert all(r["in_since"] and r["phone_since"] for r in rows)
        assert [r["staff"] for r in await view(missing=True)] == ["S0002"]
        assert (await api.call("STAFF", "GET", "/lockboxes/compliance")).status_code == 403
        assert (await api.call("MANAGER", "GET", "/lockboxes/compliance")).status_code == 200

        # Past the grace period in working time: an alert, gone when the phone goes in.
        alert = await until(lambda: api.alert("phone_not_in_slot", "staff S0002"), what="the phone alert")
        assert "lb-1 格口 4" in alert["summary"], alert["summary"]
        assert await api.alert("phone_not_in_slot", "staff S0001") is None
        lb.put_phone(4)
        await until(lambda: _when(view(missing=True), lambda v: v == []), what="every phone in")
        await until(lambda: _none(api.alert("phone_not_in_slot", "staff S0002")), what="the alert resolved")

        # Clocked out: no longer listed, whatever the phone does.
        lb.take_phone(3)
        att.punch("S0001", direction="out")
        await until(lambda: _when(view(), lambda v: [r["staff"] for r in v] == ["S0002"]), what="S0001 out")
        await api.http.aclose()


def test_compliance_without_an_attendance_machine_says_nobody_is_known_to_be_in(
    tmp_path: Path, mosquitto: Mosquitto, tokens: None
) -> None:
    """Who is in comes from whichever kind provides `Presence` (gateway/kinds/reads.py): in a hall
    without one the view is a 409 `no_attendance`, not an empty list that reads as "all phones in"."""
    cfg = load_config(_hall(tmp_path, mosquitto, "{lockboxes: [{device: lb-1, slots: {S0001: 3}}]}", False))

    async def run() -> None:
        async with start_gateway(cfg):
            api = Api(cfg)
            r = await api.call("DUTY", "GET", "/lockboxes/compliance")
            assert (r.status_code, r.json()["error"]) == (409, "no_attendance"), r.text
            await api.http.aclose()

    asyncio.run(run())


async def _when(rows: Any, ok: Any) -> Any:
    v = await rows
    return (v or True) if ok(v) else None  # truthy when ok, even for an empty list


async def _none(x: Any) -> bool:
    return await x is None


@pytest.mark.parametrize(
    ("phones", "field", "says"),
    [
        ("{lockboxes: [{device: lb-9, slots: {S0001: 1}}]}", "phones.lockboxes[0].device", "不是本厅的手机柜"),
        ("{lockboxes: [{device: att-1, slots: {S0001: 1}}]}", "phones.lockboxes[0].device", "不是本厅的手机柜"),
        ("{lockboxes: [{device: lb-1, slots: {S0001: 13}}]}", "phones.lockboxes[0].slots.S0001", "1-12"),
        (
            "{lockboxes: [{device: lb-1, slots: {S0001: 2, S0002: 2}}]}",
            "phones.lockboxes[0].slots.S0002",
            "已属于 S0001",
        ),
        ("{grace_min: 0}", "phones.grace_min", "应大于 0"),
    ],
)
def test_slot_map_errors_name_the_field(
    tmp_path: Path, mosquitto: Mosquitto, tokens: None, phones: str, field: str, says: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(_hall(tmp_path, mosquitto, phones))
    assert any(p[0] == field and says in p[1] for p in e.value.problems), e.value.problems
