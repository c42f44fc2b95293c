"""Commands end to end: the simulated lockbox (real Mosquitto) and pickup locker (real pymodbus
server), the gateway, its API. Pulses are counted at the simulators."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from gateway.config.hall import HallConfig
from gateway.config.load import load_config
from gateway.runtime import start_gateway
from gateway.store.journal import Journal
from tests.servers import Mosquitto, free_port
from tests.waits import until

TOKENS = {
    "STAFF": "commands-staff-token-0123456789",
    "DUTY": "commands-duty-manager-token-0123",
    "MANAGER": "commands-manager-token-012345678",
    "KIOSK": "commands-kiosk-token-0123456789ab",
}


# In working hours only a duty manager may open a slot; outside them staff may (test_commands_domain).
ALWAYS = '{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59:59.999999"}'
NEVER = "{days: []}"


def _hall(tmp_path: Path, mosquitto: Mosquitto, hours: str = NEVER, max_bytes: int = 1 << 26, slots: int = 12) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(f"""
site: cmds
working_hours: {hours}
api:
  port: {free_port()}
  tokens:
    - {{role: staff, env: CMD_TOKEN_STAFF, name: wang.staff}}
    - {{role: duty_manager, env: CMD_TOKEN_DUTY, name: zhao.duty}}
    - {{role: manager, env: CMD_TOKEN_MANAGER}}
    - {{role: kiosk, env: CMD_TOKEN_KIOSK, locker: locker-1}}
broker: {{host: 127.0.0.1, port: {mosquitto.port}}}
store: {{path: {tmp_path}/outbox.sqlite, max_bytes: {max_bytes}}}
commands: {{timeout_s: 1.5}}
lockers: {{code_ttl_h: 0.0015}}   # 5.4 s: long enough to collect, short enough to see one expire
alerts: {{clear_after_s: 1}}
devices:
  - {{id: lb-1, kind: lockbox, profile: ref-lockbox, slots: {slots},
      sim: {{door_open_after_s: 0.2, door_close_after_s: 0.2}}}}
  - {{id: locker-1, kind: pickup_locker, profile: ref-pickup-locker, poll_interval_s: 0.1,
      modbus: {{host: 127.0.0.1, port: {free_port()}, unit: 1}},
      sim: {{door_close_after_s: 0.6, items_ratio: 0}}}}
""")
    return path


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"CMD_TOKEN_{name}", token)


@pytest.fixture
def hall(tmp_path: Path, mosquitto: Mosquitto, tokens: None) -> Path:
    return _hall(tmp_path, mosquitto)


@pytest.fixture
def working_hall(tmp_path: Path, mosquitto: Mosquitto, tokens: None) -> Path:
    return _hall(tmp_path, mosquitto, ALWAYS)


def _sim(path: Path, mosquitto: Mosquitto) -> HallSimulator:
    return HallSimulator(
        path, mqtt=MqttSettings(host=mosquitto.host, port=mosquitto.port), heartbeat_s=0.5, rate_per_min=0, seed=3
    )


class Api:
    def __init__(self, cfg: HallConfig) -> None:
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.api.port}", timeout=10)

    async def call(self, who: str, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKENS[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.request(method, f"/api/v1{path}", headers=headers, **kw)

    async def unlock(
        self, slot: int, key: str | None, who: str = "DUTY", reason: str = "phone needed"
    ) -> httpx.Response:
        return await self.call(who, "POST", f"/lockboxes/lb-1/slots/{slot}/unlock", key, json={"reason": reason})

    async def online(self) -> bool:
        r = await self.call("MANAGER", "GET", "/devices")
        return all(d["online"] for d in r.json())

    async def alert(self, rule: str, key: str) -> dict[str, Any] | None:
        r = await self.call("MANAGER", "GET", "/alerts", params={"state": "active"})
        return next((a for a in r.json() if a["rule"] == rule and a["key"] == key), None)


def test_lockbox_unlocks(working_hall: Path, mosquitto: Mosquitto) -> None:
    """In working hours (all day, here): a duty manager with a reason opens slots."""
    asyncio.run(_lockbox(working_hall, mosquitto))


async def _lockbox(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim, start_gateway(cfg):
        api = Api(cfg)
        lb = sim.device("lb-1")
        pulses = count_unlocks(lb)
        await until(api.online, what="devices online")

        # The slots' state: from the snapshot the gateway asks for at start, then from events.
        known = await until(lambda: _slots(api, reported=True), what="the cabinet's snapshot")
        assert len(known) == 12 and all(s["door"] == "closed" and s["locked"] for s in known)
        assert [s["phone"] for s in known] == [lb.slots[n].phone for n in range(1, 13)]

        # Happy path: confirmed by the cabinet's ack, with the audit record.
        r = await api.unlock(2, "k-1")
        assert r.status_code == 200, r.text
        rec = r.json()
        assert (rec["device"], rec["part"], rec["actor"], rec["role"]) == (
            "lb-1",
            "slot 2",
            "zhao.duty",
            "duty_manager",
        )
        assert (rec["outcome"], rec["reason"], rec["action"]) == ("confirmed", "phone needed", "unlock")
        assert rec["latency_ms"] < 1000 and rec["command_id"]
        assert pulses == [2]

        # The same key again: the first outcome, no second pulse; for another slot: refused.
        again = await api.unlock(2, "k-1")
        assert (again.status_code, again.json()) == (200, rec)
        assert pulses == [2] and lb.repeated_cmds == 0
        r = await api.unlock(3, "k-1")
        assert (r.status_code, r.json()["error"]) == (422, "idempotency_key_reused")

        # Two unlocks of one slot at once: one opens it, the other is told it is busy and is not
        # sent. The cabinet holds its answer to the first until the second is answered (else the
        # second could come after the first had finished, and be refused by the cabinet instead).
        answered = asyncio.Event()
        execute = lb.execute

        async def holding(op: str, cmd: dict[str, Any]) -> dict[str, Any]:
            done = await execute(op, cmd)
            await answered.wait()
            return done

        lb.execute = holding
        first = asyncio.create_task(api.unlock(4, "k-a"))
        await until(lambda: pulses[-1:] == [4], what="slot 4 released at the cabinet")
        busy = await api.unlock(4, "k-b")
        answered.set()
        a = await first
        lb.execute = execute
        assert a.status_code == 200 and a.json()["outcome"] == "confirmed", a.text
        assert (busy.status_code, busy.json()["error"], busy.json()["audit"]["outcome"]) == (409, "busy", "refused")
        assert pulses == [2, 4]

        # A jammed lock: 409 with the device's error, and an alert.
        lb.jam(5)
        r = await api.unlock(5, "k-jam")
        assert (r.status_code, r.json()["error"]) == (409, "jammed"), r.text
        assert r.json()["audit"]["outcome"] == "failed"
        assert r.json()["message"] == "格口 5 的锁未能打开（锁卡住）" and "运维" in r.json()["next"], r.text
        await until(lambda: api.alert("jammed_lock", "lb-1/slot 5"), what="jammed alert")

        # Who may: in working hours not staff (audited), not without a reason; never a manager or
        # a kiosk; no key, no command.
        r = await api.unlock(6, "k-s", who="STAFF")
        assert (r.status_code, r.json()["error"]) == (403, "forbidden") and "值班长" in r.json()["detail"]
        # In Chinese: which slot, who asked, who may, and when staff may open their own.
        assert r.json()["message"] == "工作时间内只有值班长可以开启手机格口 6（当前角色：窗口工作人员）", r.text
        assert r.json()["next"] == "请联系值班长开启；下班时间（23:59 后）本人可以开启", r.text  # the hall's end
        r = await api.unlock(6, "k-r", reason=" ")
        assert (r.status_code, r.json()["error"]) == (403, "forbidden") and "原因" in r.json()["detail"], r.text
        r = await api.unlock(6, "k-m", who="MANAGER")
        assert (r.status_code, r.json()["error"]) == (403, "forbidden")
        r = await api.unlock(6, "k-k", who="KIOSK")
        assert r.status_code == 403
        r = await api.unlock(6, None)
        assert (r.status_code, r.json()["error"]) == (400, "idempotency_key_required")
        r = await api.call("STAFF", "POST", "/lockboxes/nope/slots/1/unlock", "k-x", json={})
        assert r.status_code == 404

        # A slot opened at the cabinet in working hours, with no approved unlock: an alert only a
        # person closes. (The firmware's card reader releases the lock; the staff member opens.)
        lb.slots[9].locked = False
        lb.open_door(9)
        opened = await until(lambda: api.alert("opened_without_command", "lb-1/slot 9"), what="unapproved opening")
        assert opened["closes_by_hand"] and opened["severity"] == "critical"
        assert not await api.alert("opened_without_command", "lb-1/slot 2")  # opened by the unlock above
        lb.close_door(9)
        await until(lambda: _slot_door(api, 9, "closed"), what="slot 9 shown closed again")

        # The device is offline: 504 and nothing sent.
        executed = len(pulses)
        lb.crash()
        await until(lambda: _not(api.online), what="lockbox offline")
        r = await api.unlock(7, "k-off")
        assert (r.status_code, r.json()["error"]) == (504, "device_offline"), r.text
        lb.come_back()
        await until(api.online, what="lockbox back")
        # A command queued for it while it was away would reach it before the next one: none may.
        r = await api.unlock(8, "k-back")
        assert r.status_code == 200 and r.json()["outcome"] == "confirmed", r.text
        assert pulses[executed:] == [8]

        # The audit: every attempt, filterable; managers only.
        r = await api.call("MANAGER", "GET", "/audit", params={"device": "lb-1"})
        outcomes = [x["outcome"] for x in r.json()]
        assert sorted(outcomes) == [
            *("confirmed", "confirmed", "confirmed"),
            *("denied", "denied", "failed", "refused", "refused"),
        ]
        r = await api.call("MANAGER", "GET", "/audit", params={"actor": "wang.staff", "limit": 1})
        assert [(x["actor"], x["outcome"]) for x in r.json()] == [("wang.staff", "denied")]
        r = await api.call("MANAGER", "GET", "/audit", params={"start": "2000-01-01T00:00:00", "end": "2000-01-02"})
        assert r.json() == []
        assert (await api.call("STAFF", "GET", "/audit")).status_code == 403
        await api.http.aclose()
    # The audit went to the outbox at the highest class.
    audit = _outbox_audit(path.parent / "outbox.sqlite")
    assert any("outcome=confirmed" in line and 'actor="zhao.duty"' in line for line in audit), audit[:3]


def test_restart_mid_unlock(hall: Path, mosquitto: Mosquitto) -> None:
    """A gateway stopped after sending an unlock: the next start settles it from the device's own
    answer to the same command id (the device does not execute an id twice), and the repeated
    request gets that outcome; a Modbus pulse already written is only read back, never repeated."""
    asyncio.run(_restart(hall, mosquitto))


async def _restart(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    state = path.parent / "state.sqlite"
    async with _sim(path, mosquitto) as sim:
        lb, board = sim.device("lb-1"), sim.device("locker-1")
        pulses = count_unlocks(lb)
        async with start_gateway(cfg):
            await until(Api(cfg).online, what="devices online")
        # What a gateway killed mid-unlock leaves: the command pending, sent; the device got it.
        journal = Journal(state)
        request = {"action": "unlock", "op": "unlock", "params": {"slot": 3}, "part": "slot 3"}
        who = {"actor": "wang.staff", "role": "staff", "locker": None, "reason": "restart"}
        fp = json.dumps(["unlock", "lb-1", "unlock", {"slot": 3}], sort_keys=True)
        journal.begin_command("wang.staff\x1fk-restart", "cmd-restart-1", fp, "lb-1", {**request, **who}, _now())
        journal.command_sent("wang.staff\x1fk-restart", _now())
        locker_req = {"action": "pickup", "op": "unlock", "params": {"door": 9}, "part": "door 9"}
        fp2 = json.dumps(["pickup", "locker-1", "unlock", {"door": 9}], sort_keys=True)
        journal.begin_command("kiosk\x1fk-door", "cmd-restart-2", fp2, "locker-1", {**locker_req, **who}, _now())
        journal.command_sent("kiosk\x1fk-door", _now())
        journal.close()
        board_pulses = board.pulses
        topic = "hall/cmds/lockbox/lb-1/cmd"
        payload = json.dumps({"id": "cmd-restart-1", "op": "unlock", "slot": 3})
        subprocess.run(["mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-t", topic, "-m", payload], check=True)
        await until(lambda: pulses == [3], what="the device executed it")

        async with start_gateway(cfg):
            api = Api(cfg)
            r = await until(lambda: _settled(api), what="the pending unlock settled")
            assert r.status_code == 200 and r.json()["outcome"] == "confirmed", r.text
            assert (pulses, lb.repeated_cmds) == ([3], 1)
            j = Journal(state)
            status = await until(lambda: j.command("kiosk\x1fk-door")[7], what="the pending pulse settled")
            j.close()
            assert status == 504  # not read back open within the timeout: failed, and not pulsed again
            assert board.pulses == board_pulses
            await api.http.aclose()


def test_no_room_for_the_audit_no_command(tmp_path: Path, mosquitto: Mosquitto, tokens: None) -> None:
    """An outbox full of audit records (InfluxDB away): commands are refused before they are sent."""
    asyncio.run(_full(_hall(tmp_path, mosquitto, max_bytes=8000, slots=48), mosquitto))


async def _full(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim, start_gateway(cfg):
        api = Api(cfg)
        pulses = count_unlocks(sim.device("lb-1"))
        await until(api.online, what="devices online")
        answers = []
        # A slot each (the room runs out after about 20): none is still releasing from the last
        # unlock, so every command sent is confirmed.
        for n in range(48):
            r = await api.unlock(n + 1, f"k-{n}", who="STAFF")
            answers.append(r.status_code)
            if r.status_code == 503:
                assert r.json()["error"] == "audit_unavailable", r.text
                break
            assert r.status_code == 200 and r.json()["outcome"] == "confirmed", r.text
        assert answers[-1] == 503 and len(pulses) == len(answers) - 1, answers
        await api.http.aclose()


def count_unlocks(lockbox: Any) -> list[Any]:
    """The slots the simulated cabinet was told to unlock (its snapshots are commands too)."""
    seen: list[Any] = []
    unlock = lockbox.unlock

    def counted(slot: Any) -> dict[str, Any]:
        seen.append(slot)
        return unlock(slot)

    lockbox.unlock = counted  # the firmware's execute() calls self.unlock
    return seen


async def _slot_door(api: Api, slot: int, door: str) -> bool:
    return any(s["slot"] == slot and s["door"] == door for s in await _slots(api))


async def _slots(api: Api, reported: bool = False) -> list[dict[str, Any]]:
    """Every slot of the cabinet; with `reported`, none until the cabinet has reported them all."""
    r = await api.call("MANAGER", "GET", "/lockboxes/lb-1/slots")
    assert r.status_code == 200, r.text
    return [] if reported and any(s["door"] is None for s in r.json()) else r.json()


async def _settled(api: Api) -> httpx.Response | None:
    r = await api.unlock(3, "k-restart", who="STAFF", reason="restart")
    return r if r.status_code != 504 else None


def test_pickup_locker(hall: Path, mosquitto: Mosquitto) -> None:
    asyncio.run(_locker(hall, mosquitto))


async def _locker(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim, start_gateway(cfg):
        api = Api(cfg)
        board = sim.device("locker-1")
        await until(api.online, what="devices online")

        async def deposit(door: int, key: str | None = None) -> httpx.Response:
            body = {"item": "营业执照", "applicant": "李四"}
            return await api.call("STAFF", "POST", f"/lockers/locker-1/doors/{door}/deposit", key, json=body)

        async def pickup(code: str, who: str = "KIOSK") -> httpx.Response:
            return await api.call(who, "POST", "/lockers/locker-1/pickup", json={"code": code})

        async def items(state: str) -> list[dict[str, Any]]:
            r = await api.call("STAFF", "GET", "/lockers/locker-1/items", params={"state": state})
            assert r.status_code == 200, r.text
            return r.json()

        # Deposit: the door opens (read back), the item is recorded, a code issued once.
        r = await deposit(1, "dep-1")
        assert r.status_code == 200, r.text
        first = r.json()
        assert re.fullmatch(r"\d{6}", first["pickup_code"]) and first["audit"]["outcome"] == "confirmed"
        assert first["qr"] == f"HGPICKUP:cmds:locker-1:{first['pickup_code']}"
        assert board.pulses == 1
        r = await deposit(1, "dep-1")  # the same key: no second pulse, and the code is not shown again
        assert (r.status_code, r.json()["error"]) == (409, "already_deposited")
        r = await deposit(1)
        assert (r.status_code, r.json()["error"]) == (409, "door_occupied")
        assert board.pulses == 1
        second = (await deposit(2)).json()
        assert second["pickup_code"] != first["pickup_code"]
        stored = sqlite3.connect(path.parent / "state.sqlite").execute("SELECT code_hash FROM pickup_items").fetchall()
        assert len(stored) == 2 and all(first["pickup_code"].encode() not in bytes(h) for (h,) in stored)
        await until(lambda: not board.door_open[0] and board.items[0], what="the item in door 1, door shut")

        # Pickup: only this locker's kiosk; the right code opens its door; the record closes
        # when the door is shut and the item sensor is empty.
        assert (await pickup(first["pickup_code"], who="STAFF")).status_code == 403
        r = await pickup(first["pickup_code"])
        assert r.status_code == 200, r.text
        assert (r.json()["door"], r.json()["audit"]["actor"]) == (1, "CMD_TOKEN_KIOSK")
        assert board.pulses == 3
        await until(lambda: _ids(items("collected")), what="the item collected")
        assert (await pickup(first["pickup_code"])).json()["error"] == "wrong_code"  # used up

        r = await deposit(99)  # the profile's door numbers: 1-24
        assert (r.status_code, r.json()["error"]) == (422, "bad_parameter"), r.text

        # A jammed door: 409 from the lock-fault bit read back after the pulse.
        board.jam(4)
        r = await deposit(5)
        assert (r.status_code, r.json()["error"]) == (409, "jammed"), r.text

        # An item not collected in time: listed, alerted, its code refused.
        await until(lambda: _ids(items("expired")), timeout=10, what="the second item expired")
        assert await until(lambda: api.alert("item_expired", "locker-1/door 2"), what="expired alert")
        r = await pickup(second["pickup_code"])
        assert (r.status_code, r.json()["error"]) == (410, "code_expired")

        # Wrong codes (the used-up one above was the first): the fifth locks the locker out, and
        # every try is refused for a while.
        codes = [f"{n:06d}" for n in range(100000, 100010)]
        wrong = [c for c in codes if c not in (first["pickup_code"], second["pickup_code"])][:5]
        answers = [await pickup(c) for c in wrong]
        assert [a.status_code for a in answers] == [403, 403, 403, 429, 429], [a.text for a in answers]
        assert "还可以再试 1 次" in answers[2].json()["detail"], answers[2].text
        assert int(answers[-1].headers["Retry-After"]) > 800
        await api.http.aclose()


async def _ids(rows: Awaitable[list[dict[str, Any]]]) -> list[int]:
    return [r["id"] for r in await rows]


async def _not(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()


def _now() -> int:
    import time

    return time.time_ns()


def _outbox_audit(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [line for (line,) in conn.execute("SELECT line FROM records WHERE prio = 0")]
    finally:
        conn.close()
