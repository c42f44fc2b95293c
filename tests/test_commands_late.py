"""Answers after the timeout (issue 19): a slow cabinet's `ok`, a slow board's door read open late.
The timed-out audit row stays; a row of its own amends it (`opened_late`, `failed_late`, with the
latency), in the state database, the API and the outbox; the timeout's alert resolves, and so does
an unapproved-opening alert the late opening raised before its answer came. Real Mosquitto, the
firmware simulator's `slow` fault, a real pymodbus server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.hall import HallSimulator
from gateway.alerts.engine import AlertDesk
from gateway.commands.audit import Caller, audit_row
from gateway.commands.late import LateAnswers
from gateway.config.alerts import Alerts
from gateway.config.hall import HallConfig
from gateway.config.load import load_config
from gateway.health import HealthBook
from gateway.runtime import start_gateway
from gateway.store.journal import Journal
from tests.servers import Mosquitto
from tests.test_commands import ALWAYS, Api, _hall, _outbox_audit, _sim, tokens  # noqa: F401 (a fixture)
from tests.waits import until

TIMEOUT_S = 1.5  # commands.timeout_s of _hall


async def _row(api: Api, device: str, **match: Any) -> dict[str, Any] | None:
    r = await api.call("MANAGER", "GET", "/audit", params={"device": device})
    assert r.status_code == 200, r.text
    return next((x for x in r.json() if all(x.get(k) == v for k, v in match.items())), None)


async def _alert_state(api: Api, rule: str, key: str) -> str | None:
    r = await api.call("MANAGER", "GET", "/alerts", params={"limit": 1000})
    found = [a for a in r.json() if a["rule"] == rule and a["key"] == key]
    return max(found, key=lambda a: a["id"])["state"] if found else None


def _pub(mosquitto: Mosquitto, topic: str, payload: dict[str, Any]) -> None:
    args = ["mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-t", topic, "-m", json.dumps(payload)]
    subprocess.run(args, check=True)


@pytest.mark.usefixtures("tokens")
def test_a_late_ok_amends_the_audit_and_resolves_the_timeout_alert(tmp_path: Path, mosquitto: Mosquitto) -> None:
    asyncio.run(_lockbox_late(_hall(tmp_path, mosquitto, ALWAYS), mosquitto))


async def _lockbox_late(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim, start_gateway(cfg):
        api = Api(cfg)
        lb = sim.device("lb-1")
        await until(api.online, what="devices online")
        await until(lambda: _row_slots(api), what="the cabinet's snapshot")

        # The cabinet opens the slot at once but acks 3 s later: past the 1.5 s timeout, by design.
        sim.inject({"fault": "slow", "device": "lb-1", "delay_ms": 3000})
        r = await api.unlock(3, "k-late")
        assert (r.status_code, r.json()["error"]) == (504, "no_answer"), r.text
        timed_out = r.json()["audit"]
        assert timed_out["outcome"] == "timeout"
        # Raised by the timeout (already resolved, should the ack beat this look).
        raised = await until(lambda: _alert_state(api, "command_unanswered", "lb-1/slot 3"), what="alert")
        assert raised in ("open", "resolved")

        late = await until(lambda: _row(api, "lb-1", outcome="opened_late"), timeout=15, what="the late ok")
        assert (late["amends"], late["command_id"], late["part"], late["actor"]) == (
            timed_out["id"],
            timed_out["command_id"],
            "slot 3",
            "zhao.duty",
        )
        assert late["latency_ms"] >= TIMEOUT_S * 1000 and late["error"] is None
        # Append-only: the timed-out row is as it was written, and names its amendment.
        first = await _row(api, "lb-1", id=timed_out["id"])
        assert first is not None and (first["outcome"], first["amended_by"]) == ("timeout", late["id"])
        assert await _alert_state(api, "command_unanswered", "lb-1/slot 3") == "resolved"
        # The repeated key still gets the answer it got (a repeat never changes its outcome).
        again = await api.unlock(3, "k-late")
        assert (again.status_code, again.json()["audit"]["id"]) == (504, timed_out["id"])

        # The door_open of a late-opened slot comes before its ack (a real cabinet's channels
        # need not keep order): the unapproved-opening alert it raised resolves with the ack.
        sim.inject({"fault": "slow", "device": "lb-1", "delay_ms": 60_000})  # its own ack stays away
        r = await api.unlock(4, "k-late-2")
        assert r.status_code == 504, r.text
        cmd_id = r.json()["audit"]["command_id"]
        _pub(
            mosquitto,
            lb.channel(lb.event_channel),
            {"seq": lb.seq.next(), "ts": lb.ts(), "slot": 4, "type": "door_open"},
        )
        await until(lambda: _alert_state(api, "opened_without_command", "lb-1/slot 4"), what="unapproved opening")
        _pub(mosquitto, lb.channel("ack"), {"id": cmd_id, "ok": True, "slot": 4})
        await until(lambda: _row(api, "lb-1", outcome="opened_late", part="slot 4"), what="the second late ok")
        assert await _alert_state(api, "opened_without_command", "lb-1/slot 4") == "resolved"
        assert await _alert_state(api, "command_unanswered", "lb-1/slot 4") == "resolved"

        # A late refusal amends too; a repeated late answer amends nothing more.
        r = await api.unlock(5, "k-late-3")
        assert r.status_code == 504, r.text
        cmd_id = r.json()["audit"]["command_id"]
        _pub(mosquitto, lb.channel("ack"), {"id": cmd_id, "ok": False, "error": "jammed"})
        failed = await until(lambda: _row(api, "lb-1", outcome="failed_late"), what="the late refusal")
        assert (failed["error"], failed["amends"]) == ("jammed", r.json()["audit"]["id"])
        _pub(mosquitto, lb.channel("ack"), {"id": cmd_id, "ok": True, "slot": 5})
        _pub(mosquitto, lb.channel("ack"), {"id": cmd_id, "ok": False, "error": "jammed"})
        # A marker after them on the same topic (MQTT keeps one topic's order): once its
        # amendment is there, the repeats before it were handled.
        r = await api.unlock(6, "k-late-4")
        assert r.status_code == 504, r.text
        _pub(mosquitto, lb.channel("ack"), {"id": r.json()["audit"]["command_id"], "ok": True, "slot": 6})
        await until(lambda: _row(api, "lb-1", outcome="opened_late", part="slot 6"), what="the marker")
        rows = (await api.call("MANAGER", "GET", "/audit", params={"device": "lb-1"})).json()
        assert sorted((x["part"], x["outcome"]) for x in rows if x["outcome"].endswith("_late")) == [
            ("slot 3", "opened_late"),
            ("slot 4", "opened_late"),
            ("slot 5", "failed_late"),
            ("slot 6", "opened_late"),
        ]
        await api.http.aclose()
    # The amendments went to the outbox at the audit class (and the state database outlives the run).
    audit = _outbox_audit(path.parent / "outbox.sqlite")
    assert sum("outcome=opened_late" in x and f"amends={timed_out['id']}i" in x for x in audit) == 1, audit


async def _row_slots(api: Api) -> list[dict[str, Any]]:
    """The slots once the cabinet has reported them (the route lists every slot, reported or not)."""
    r = await api.call("MANAGER", "GET", "/lockboxes/lb-1/slots")
    return r.json() if r.status_code == 200 and all(s["door"] is not None for s in r.json()) else []


def _locker_hall(tmp_path: Path, mosquitto: Mosquitto) -> Path:
    """The commands hall with a 0.5 s timeout (no lockbox unlock is sent in it) and a door that
    stays open once it opened, so the poller's readings see it."""
    path = _hall(tmp_path, mosquitto)
    text = path.read_text().replace("timeout_s: 1.5", "timeout_s: 0.5")
    path.write_text(text.replace("door_close_after_s: 0.6", "door_close_after_s: 60"))
    assert "timeout_s: 0.5" in path.read_text() and "door_close_after_s: 60" in path.read_text()
    return path


@pytest.mark.usefixtures("tokens")
def test_a_door_read_open_after_the_timeout_amends_the_audit(tmp_path: Path, mosquitto: Mosquitto) -> None:
    asyncio.run(_locker_late(_locker_hall(tmp_path, mosquitto), mosquitto))


async def _locker_late(path: Path, mosquitto: Mosquitto) -> None:
    cfg = load_config(path)
    async with _sim(path, mosquitto) as sim:
        async with start_gateway(cfg):
            await _deposit_late(cfg, sim)
        # The gateway is gone: the slow board's last answers finish (0.6 s each) before it stops.
        await until(_no_request_in_flight, what="the board's last answers")


def _no_request_in_flight() -> bool:
    return not [t for t in asyncio.all_tasks() if "handle_request" in repr(t) and not t.done()]


async def _deposit_late(cfg: HallConfig, sim: HallSimulator) -> None:
    api = Api(cfg)
    await until(api.online, what="locker online")
    # Each Modbus reply takes 0.6 s: the read before the pulse alone outlasts the 0.5 s
    # timeout, so the pulse is written and the read-back never starts in time; the poller's
    # readings (1 s client timeout) still see the door open.
    sim.inject({"fault": "slow", "device": "locker-1", "delay_ms": 600})
    body = {"item": "营业执照", "applicant": "李四"}
    r = await api.call("STAFF", "POST", "/lockers/locker-1/doors/5/deposit", "dep-late", json=body)
    assert (r.status_code, r.json()["error"]) == (504, "no_answer"), r.text
    timed_out = r.json()["audit"]
    late = await until(lambda: _row(api, "locker-1", outcome="opened_late"), timeout=20, what="door read open")
    assert (late["amends"], late["part"], late["action"]) == (timed_out["id"], "door 5", "deposit")
    assert late["latency_ms"] >= 500
    assert await _alert_state(api, "command_unanswered", "locker-1/door 5") == "resolved"
    assert sim.device("locker-1").pulses == 1
    await api.http.aclose()


S = 10**9


def test_an_answer_between_the_timeout_and_its_audit_row_waits_for_the_row(tmp_path: Path) -> None:
    """The ack may come in the moment between the timeout and the commit of its audit row: held,
    then applied once the row is there; the amendment is durable and waits for the outbox."""
    journal = Journal(tmp_path / "state.sqlite")
    alerts = AlertDesk(HealthBook({}), {}, journal, Alerts(), "Asia/Shanghai", (), started_ns=0)
    exported: list[dict[str, Any]] = []
    late = LateAnswers(journal, exported.extend, clock=lambda: 5 * S, stats={})
    late.alerts = alerts
    caller = Caller("duty_manager", "zhao.duty")
    journal.begin_command("zhao.duty\x1fk", "c1", "fp", "lb-1", {"op": "unlock"}, 1 * S, 1 * S)
    late.timed_out("c1")
    assert late.answer("c1", True, None, 4 * S) is False  # held: the timed-out row is not there yet
    assert exported == []
    row = audit_row(
        at_ns=3 * S,
        device="lb-1",
        part="slot 3",
        action="unlock",
        caller=caller,
        reason="r",
        outcome="timeout",
        error="no_answer",
        command_id="c1",
    )
    timed_out = journal.add_audit(row)
    late.settled("c1", "lb-1", "slot 3", "unlock", "lb-1 did not answer within 1.5 s")
    (amended,) = exported
    assert (amended["outcome"], amended["amends"], amended["latency_ms"]) == ("opened_late", timed_out, 3000.0)
    assert alerts.active() == []  # raised by the timeout, resolved by the answer held for it
    assert [a.state for a in alerts.recent()] == ["resolved"]
    assert late.answer("c1", True, None, 6 * S) is False  # a repeat amends nothing more
    journal.close()
    again = Journal(tmp_path / "state.sqlite")  # durable, and still to be exported (the desk's tick)
    assert [(r["outcome"], r["amends"]) for r in again.unexported_audit()] == [("timeout", None), ("opened_late", 1)]
    assert [r["amended_by"] for r in again.audit(device="lb-1")] == [None, amended["id"]]
    again.close()
