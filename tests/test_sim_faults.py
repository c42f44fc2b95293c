"""Faults at runtime through the MQTT control channel, and from the command line at start."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from firmware_sim.cli import main
from firmware_sim.control import ControlChannel
from firmware_sim.faults import FaultError, FaultInjector, parse_fault
from firmware_sim.hall import HallSimulator
from firmware_sim.mqtt_device import MqttSettings
from firmware_sim.tasks import cancel_and_wait
from tests.servers import Mosquitto
from tests.sim_support import MqttWatcher, free_ports, mbpoll, mosquitto_pub, on, retained
from tests.waits import until

SITE = "f-hall"


class _Any:
    """Equal to any value: `on(..., field=ANY)` asks that the field is present."""

    def __eq__(self, other: object) -> bool:
        return True


ANY = _Any()


def hall(port: int, mqtt_port: int, **sim: object) -> dict[str, object]:
    return {
        "site": SITE,
        "devices": [
            {"id": "rp-w01", "kind": "rating_pad", "window": "W01"},
            {"id": "rp-w02", "kind": "rating_pad", "window": "W02", "sim": {"will": False}},
            {"id": "lb-1", "kind": "lockbox", "slots": 12, "sim": {"door_open_after_s": 0.2}},
            {"id": "att-1", "kind": "attendance"},
            {"id": "pc-1", "kind": "people_counter", "modbus": {"host": "127.0.0.1", "port": port, "unit": 1}},
            {"id": "lk-1", "kind": "pickup_locker", "modbus": {"host": "127.0.0.1", "port": port, "unit": 2}},
        ],
    }


@asynccontextmanager
async def running(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[HallSimulator]:
    port = free_ports(1)
    sim = HallSimulator(
        hall(port, mosquitto.port),
        mqtt=MqttSettings(port=mosquitto.port),
        heartbeat_s=0.3,
        rate_per_min=0,
        state_dir=tmp_path,
        seed=1,
    )
    async with sim:
        channel = ControlChannel("127.0.0.1", mosquitto.port, {SITE: sim.faults})
        task = asyncio.create_task(channel.run())
        try:
            await sim.wait_online(10)
            await asyncio.wait_for(channel.connected.wait(), 5)
            yield sim
        finally:
            await cancel_and_wait([task])


def control(mosquitto: Mosquitto, device: str, spec: dict[str, object]) -> None:
    mosquitto_pub(mosquitto.port, f"sim/{SITE}/{device}/control", json.dumps(spec))


def test_control_channel_mqtt_faults(mosquitto: Mosquitto, tmp_path: Path) -> None:
    base = f"hall/{SITE}"

    async def scenario(watch: MqttWatcher) -> None:
        async with running(mosquitto, tmp_path) as sim:
            send = asyncio.to_thread
            # jam a lockbox slot: the unlock is refused with `jammed` and a lock_fault event
            await send(control, mosquitto, "lb-1", {"fault": "jam", "slot": 3})
            [res] = await watch.wait(on(f"sim/{SITE}/control/result", fault="jam"))
            assert res.json["ok"] is True and res.json["devices"] == ["lb-1"]
            cmd = json.dumps({"id": "u1", "op": "unlock", "slot": 3})
            await send(mosquitto_pub, mosquitto.port, f"{base}/lockbox/lb-1/cmd", cmd)
            [ack] = await watch.wait(on("lockbox/lb-1/ack", id="u1"))
            assert ack.json == {"id": "u1", "ok": False, "error": "jammed"}
            await watch.wait(on("lockbox/lb-1/event", slot=3, type="lock_fault"))
            # a door left open: door_open and nothing after it
            await send(control, mosquitto, "lb-1", {"fault": "door_open", "slot": 5})
            await watch.wait(on("lockbox/lb-1/event", slot=5, type="door_open"))
            assert sim.faults.active["lb-1"].keys() == {"jam", "door_open"}
            # clean offline: the shutdown status; clear: online again
            await send(control, mosquitto, "rp-w01", {"fault": "offline", "mode": "clean"})
            await watch.wait(on("rating/rp-w01/status", state="offline", reason="shutdown"))
            await send(control, mosquitto, "rp-w01", {"fault": "clear"})
            await watch.wait(on("rating/rp-w01/status", state="online"), count=2)
            # abrupt offline: the will; a device without a will leaves its status online
            await send(control, mosquitto, "all", {"fault": "offline", "kind": "rating_pad"})
            await watch.wait(on("rating/rp-w01/status", state="offline"), count=2)
            await until(lambda: not sim.device("rp-w02").connected.is_set(), what="rp-w02 dropped")
            assert json.loads(await send(retained, mosquitto.port, f"{base}/rating/rp-w02/status"))["state"] == "online"
            await send(control, mosquitto, "all", {"fault": "clear"})
            # garbage: a lone surrogate and deep nesting, as raw JSON text
            await send(control, mosquitto, "att-1", {"fault": "garbage", "type": "surrogate"})
            await send(control, mosquitto, "att-1", {"fault": "garbage", "type": "deep"})
            lines = await watch.wait(lambda ln: ln.topic.endswith("attendance/att-1/punch"), count=2)
            assert "\\ud800" in lines[0].payload and lines[1].payload.startswith("[" * 1000)
            # a clock 5 minutes fast, then a backlog burst with 3 punches repeated (same seq)
            att = sim.device("att-1")
            att.punch()
            att.punch()
            att.punch()
            await watch.wait(on("attendance/att-1/punch", method=ANY), count=3)
            await send(control, mosquitto, "att-1", {"fault": "clock_drift", "offset_s": 300})
            await send(control, mosquitto, "att-1", {"fault": "backlog", "events": 20, "repeat": 3})
            punches = await watch.wait(on("attendance/att-1/punch", method=ANY), count=26)
            seqs = [p.json["seq"] for p in punches]
            assert seqs[3:6] == seqs[0:3] and seqs[6:] == list(range(seqs[2] + 1, seqs[2] + 21))
            # a bad request is answered, not fatal
            await send(control, mosquitto, "lb-1", {"fault": "jam", "slot": 99})
            [bad] = await watch.wait(on(f"sim/{SITE}/control/result", ok=False))
            assert "slot: 99 is not a slot of lb-1" in bad.json["error"]
            await send(control, mosquitto, "nope", {"fault": "reboot"})
            await watch.wait(on(f"sim/{SITE}/control/result", ok=False), count=2)

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#", f"sim/{SITE}/#") as watch:
        asyncio.run(scenario(watch))


def test_control_channel_modbus_faults(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(mosquitto, tmp_path) as sim:
            port = sim.buses[0].port
            send = asyncio.to_thread
            await send(control, mosquitto, "pc-1", {"fault": "lens_blocked"})
            await until(lambda: sim.device("pc-1").status == 1, what="lens blocked")
            assert (await mbpoll(port, "-t", "3", "-r", "4")).values == {4: 1}
            await send(control, mosquitto, "pc-1", {"fault": "wrap", "margin": 10})
            await until(lambda: sim.device("pc-1").count_in == 2**32 - 10, what="counts near the wrap")
            await send(control, mosquitto, "lk-1", {"fault": "slow", "delay_ms": 400})
            await until(lambda: sim.device("lk-1").reply_delay_s == 0.4, what="slow")
            started = time.monotonic()
            assert (await mbpoll(port, "-t", "3", "-r", "1", unit=2)).values == {1: 24}
            assert time.monotonic() - started >= 0.4
            await send(control, mosquitto, "lk-1", {"fault": "offline", "for_s": 1.5})
            await until(lambda: sim.device("lk-1").offline, what="offline")
            res = await mbpoll(port, "-t", "3", "-r", "1", unit=2)
            assert res.values == {} and "timed out" in res.output, res.output
            assert (await mbpoll(port, "-t", "3", "-r", "5")).values == {5: 105}  # its neighbour answers
            await until(lambda: not sim.device("lk-1").offline, timeout=5, what="offline for 1.5 s only")
            assert sim.faults.active.get("lk-1", {}).keys() == {"slow"}

    asyncio.run(scenario())


def test_share_of_the_fleet_is_seeded() -> None:
    sim = HallSimulator(hall(15999, 1), seed=9, state_dir=None)
    again = HallSimulator(hall(15999, 1), seed=9, state_dir=None)

    async def scenario() -> tuple[list[str], list[str]]:
        return sim.faults.targets({"fault": "flaky", "share": 0.5}), again.faults.targets(
            {"fault": "flaky", "share": 0.5}
        )

    first, second = asyncio.run(scenario())
    assert first == second and len(first) == 3
    assert FaultInjector(sim.devices).targets({"fault": "jam"}) == ["lb-1", "lk-1"]
    with pytest.raises(FaultError, match="设备 pc-1 \\(people_counter\\) 没有故障 garbage"):
        asyncio.run(_apply(sim, {"fault": "garbage", "device": "pc-1"}))
    melt = r"没有这种故障 \(unknown_fault\): 'melt'; 设备 pc-1 \(people_counter\) 可用的故障: offline, flaky"
    with pytest.raises(FaultError, match=melt):
        parse_and_apply(sim, "melt:device=pc-1")
    assert parse_fault("flaky:share=0.2,loss=0.5") == {"fault": "flaky", "share": 0.2, "loss": 0.5}
    assert parse_fault('{"fault":"jam","device":"lb-1","slot":3}')["slot"] == 3


async def _apply(sim: HallSimulator, spec: dict[str, object]) -> list[str]:
    return sim.faults.apply(spec)


def parse_and_apply(sim: HallSimulator, text: str) -> list[str]:
    return asyncio.run(_apply(sim, parse_fault(text)))


def test_cli_fault_at_start_and_status_line(
    mosquitto: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MqttWatcher(mosquitto.port, "hall/demo-hall/#") as watch:
        rc = main(
            [
                "device",
                "lockbox",
                "--id",
                "lb-cli",
                "--broker",
                f"127.0.0.1:{mosquitto.port}",
                "--state-dir",
                str(tmp_path),
                "--fault",
                "door_open:device=lb-cli,slot=2",
                "--fault",
                '{"fault": "slow", "delay_ms": 10}',
                "--duration",
                "1.2",
                "--status-s",
                "0.5",
            ]
        )
        out = capsys.readouterr().out
        assert rc == 0, out
        assert watch.matching(on("lockbox/lb-cli/event", slot=2, type="door_open"))
    assert "故障 door_open (fault)：lb-cli" in out
    assert "状态 (status) 00:00:00：1/1 台设备在运行（MQTT 在线 1/1）" in out and "2 个故障生效" in out
    assert "汇总 (summary)：运行" in out and "已注入故障：2 个" in out
    assert main(["device", "lockbox", "--id", "x", "--fault", "jam:slot=0", "--duration", "0.1"]) == 2


def test_clock_drift_offset_and_rate() -> None:
    from datetime import datetime

    from firmware_sim.kinds.rating_pad import RatingPad

    async def scenario() -> None:
        pad = RatingPad("rp-clock", state_dir=None)
        injector = FaultInjector({"rp-clock": pad})
        injector.apply({"fault": "clock_drift", "device": "rp-clock", "offset_s": -120})
        ahead = datetime.fromisoformat(pad.rate(5)["ts"]).timestamp() - time.time()
        assert -121 < ahead < -119
        injector.apply({"fault": "clock_drift", "device": "rp-clock", "per_day_s": 86400})  # 1 s a second
        await until(lambda: datetime.fromisoformat(pad.ts()).timestamp() - time.time() > 0.3, what="drift")
        injector.apply({"fault": "clear", "device": "rp-clock"})
        assert abs(datetime.fromisoformat(pad.ts()).timestamp() - time.time()) < 0.1

    asyncio.run(scenario())


@pytest.mark.parametrize("will", [True, False])
def test_abrupt_offline_with_and_without_a_will(mosquitto: Mosquitto, will: bool) -> None:
    dev = f"rp-will-{will}".lower()
    argv = ["device", "rating_pad", "--id", dev, "--broker", f"127.0.0.1:{mosquitto.port}", "--status-s", "0"]
    argv += ["--fault", f"offline:device={dev}", "--duration", "0.5", *([] if will else ["--no-will"])]
    assert main(argv) == 0
    status = json.loads(retained(mosquitto.port, f"hall/demo-hall/rating/{dev}/status"))
    # offline at the end, so no shutdown status: what is left is the will, or the last online
    assert status == {"state": "offline"} if will else status["state"] == "online"


def test_http_control_for_a_hall_without_a_broker(capsys: pytest.CaptureFixture[str]) -> None:
    import httpx

    from firmware_sim.control import HttpControl

    async def scenario() -> None:
        port = free_ports(1)
        sim = HallSimulator.single("people_counter", "pc-http", modbus={"port": port, "unit": 1}, state_dir=None)
        async with sim:
            http = HttpControl("127.0.0.1", 0, {"demo-hall": sim.faults})
            await http.start()
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http.port}") as client:
                    r = await client.post("/faults", json={"fault": "lens_blocked", "device": "pc-http"})
                    assert r.status_code == 200 and r.json()["devices"] == ["pc-http"], r.text
                    assert (await mbpoll(port, "-t", "3", "-r", "4")).values == {4: 1}
                    r = await client.post("/faults", json={"fault": "jam", "device": "pc-http", "door": 1})
                    assert r.status_code == 400 and r.json()["code"] == "fault_not_supported", r.text
                    assert "设备 pc-http (people_counter) 没有故障 jam" in r.json()["error"]
                    r = await client.post("/faults", content=b"{not json")
                    assert r.status_code == 400 and r.json()["ok"] is False
                    r = await client.get("/faults")
                    assert r.json() == {"demo-hall": {"active": {"pc-http": {"lens_blocked": ANY}}, "applied": 1}}
                    assert (await client.get("/other")).status_code == 404
            finally:
                await http.stop()

    asyncio.run(scenario())
    port = free_ports(2)
    argv = ["device", "people_counter", "--id", "pc-h2", "--port", str(port), "--no-control"]
    assert main([*argv, "--http-control", str(port + 1), "--duration", "0.2"]) == 0
    assert f"(faults over HTTP)：POST http://127.0.0.1:{port + 1}/faults" in capsys.readouterr().out


def test_faults_refuse_an_unknown_kind_and_ask_the_registry_for_kind_faults() -> None:
    """Narrowing by a kind the simulator does not have is an error, not zero devices silently
    (faults once called the unknown Modbus kind `people_counter`)."""
    sim = HallSimulator(hall(15999, 1), seed=9, state_dir=None)
    with pytest.raises(FaultError, match="kind: 'counter' is not a simulated device kind; use one of"):
        sim.faults.targets({"fault": "flaky", "kind": "counter"})
    assert sim.faults.targets({"fault": "flaky", "kind": "people_counter"}) == ["pc-1"]
    # a kind's own fault reaches only the kinds that declare it, and is checked by the kind
    assert sim.faults.targets({"fault": "lens_blocked"}) == ["pc-1"]
    with pytest.raises(FaultError, match="slot: 99 is not a slot of lb-1"):
        sim.faults.check({"fault": "door_open", "device": "lb-1", "slot": 99})
    with pytest.raises(FaultError, match="margin: must be a number"):
        sim.faults.check({"fault": "wrap", "device": "pc-1", "margin": -1})


def test_every_simulated_kind_is_registered_with_its_device_class() -> None:
    from firmware_sim.kinds.registry import KINDS

    for name, kind in KINDS.items():
        assert kind.device.kind == name
        assert kind.transport in ("mqtt", "modbus")
    device = HallSimulator(hall(15999, 1), seed=9, state_dir=None).devices["pc-1"]
    assert type(device) is KINDS["people_counter"].device


def test_the_discipline_faults_send_what_happened_minutes_ago() -> None:
    """leave_post, on_duty (clock-in machines) and phone_out (a phone cabinet): the events carry the
    times they happened, minutes before now; a person or slot that is not there is refused."""
    from datetime import datetime

    from firmware_sim.kinds.attendance import AttendanceMachine
    from firmware_sim.kinds.lockbox import Lockbox

    async def scenario() -> None:
        att = AttendanceMachine("att-x", state_dir=None, staff=10)
        box = Lockbox("lb-x", state_dir=None, slots=12, phones_in_ratio=0.0)
        injector = FaultInjector({"att-x": att, "lb-x": box})

        def sent(device: AttendanceMachine | Lockbox) -> list[tuple[dict[str, object], float]]:
            out = [json.loads(p) for _, p in device._outbox]
            device._outbox.clear()
            return [(e, (time.time() - datetime.fromisoformat(e["ts"]).timestamp()) / 60) for e in out]

        sent(att)  # nothing at start without present_ratio; cleared anyway
        assert injector.apply({"fault": "leave_post", "staff": "S0003", "cover": "S0004", "minutes": 20}) == ["att-x"]
        got = sent(att)
        assert [(e["staff_id"], e["direction"], round(m)) for e, m in got] == [
            ("S0003", "in", 30), ("S0003", "out", 20), ("S0004", "out", 20)
        ]  # fmt: skip
        injector.apply({"fault": "on_duty", "staff": "S0006", "minutes": 30})
        assert [(e["staff_id"], e["direction"], round(m)) for e, m in sent(att)] == [("S0006", "in", 30)]
        injector.apply({"fault": "phone_out", "device": "lb-x", "slot": 6, "minutes": 10})
        # The slot was empty: the phone put in a minute before it was taken out.
        assert [(e["slot"], e["type"], round(m)) for e, m in sent(box)] == [(6, "phone_in", 11), (6, "phone_out", 10)]
        assert box.slots[6].phone is False
        with pytest.raises(FaultError, match="staff: 'S0099' is not a staff id of att-x"):
            injector.apply({"fault": "leave_post", "staff": "S0099"})
        with pytest.raises(FaultError, match="slot: 13 is not a slot of lb-x"):
            injector.apply({"fault": "phone_out", "device": "lb-x", "slot": 13})

    asyncio.run(scenario())
