"""MQTT device simulators against a real Mosquitto, observed with mosquitto_sub/mosquitto_pub."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.attendance import AttendanceMachine
from firmware_sim.kinds.lockbox import Lockbox
from firmware_sim.kinds.rating_pad import RatingPad
from firmware_sim.mqtt_device import MqttSettings
from tests.servers import Mosquitto
from tests.sim_support import TS_RE, MqttWatcher, mosquitto_pub, on, retained

SITE = "t-hall"


def settings(broker: Mosquitto, protocol: str = "5") -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port, protocol=protocol)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_rating_pad_status_events_heartbeat(mosquitto: Mosquitto, protocol: str) -> None:
    base = f"hall/{SITE}/rating/rp-w07"

    async def scenario(watch: MqttWatcher) -> None:
        sim = HallSimulator.single(
            "rating_pad",
            "rp-w07",
            site=SITE,
            window="W07",
            mqtt=settings(mosquitto, protocol),
            heartbeat_s=0.2,
            rate_per_min=0,
        )
        async with sim:
            pad: RatingPad = sim.device("rp-w07")
            [status] = await watch.wait(on(f"{base}/status", state="online"))
            assert set(status.json) == {"state", "fw", "model", "ts"}
            assert status.json["model"] == "RP-500" and TS_RE.match(status.json["ts"])
            pad.rate(5, case_id="320111-2026-0004417", staff_id="S0231", ticket="A031", item="营业执照设立登记")
            pad.rate(1, reasons=["slow", "attitude"])
            pad.expire_prompt(ticket="A032")
            assert pad.rate(4, case_id="320111-2026-0004417") is None  # one case is rated once
            events = await watch.wait(on(f"{base}/event"), count=3)
            beats = await watch.wait(on(f"{base}/heartbeat"), count=2)
        first, bad, unrated = (e.json for e in events[:3])
        assert first == {
            "seq": first["seq"],
            "ts": first["ts"],
            "type": "rated",
            "case_id": "320111-2026-0004417",
            "window": "W07",
            "staff_id": "S0231",
            "ticket": "A031",
            "item": "营业执照设立登记",
            "score": 5,
            "reasons": [],
        }
        assert [bad["seq"], unrated["seq"]] == [first["seq"] + 1, first["seq"] + 2]
        assert bad["score"] == 1 and bad["reasons"] == ["slow", "attitude"] and bad["case_id"]
        assert bad["case_id"] != first["case_id"]
        assert set(unrated) == {"seq", "ts", "type", "window", "staff_id", "ticket", "item"}
        assert unrated["type"] == "unrated" and unrated["ticket"] == "A032"
        assert all(TS_RE.match(e.json["ts"]) for e in events)
        assert len(watch.matching(on(f"{base}/event"))) == 3
        beat = beats[0].json
        assert set(beat) == {"ts", "uptime_s", "rssi", "battery"} and TS_RE.match(beat["ts"])
        assert 0 <= beat["battery"] <= 100 and beat["rssi"] < 0

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(scenario(watch))
    # clean shutdown: retained status offline with reason shutdown
    assert json.loads(retained(mosquitto.port, f"{base}/status")) == {"state": "offline", "reason": "shutdown"}
    # client id and persistent session, as the broker saw them
    log = mosquitto.log.read_text()
    proto_flag = "p5" if protocol == "5" else "p2"  # mosquitto logs MQTT 3.1.1 as p2
    assert f"as rating-rp-w07 ({proto_flag}, c0" in log, log[-1000:]


def test_cmd_ack_and_repeated_id_not_executed_twice(mosquitto: Mosquitto) -> None:
    base = f"hall/{SITE}/rating/rp-w02"

    async def scenario(watch: MqttWatcher) -> None:
        async with RatingPad("rp-w02", site=SITE, window="W02", mqtt=settings(mosquitto)) as pad:
            await pad.wait_connected()
            cmd = json.dumps({"id": "cmd-0001", "op": "prompt", "case_id": "C-77", "ticket": "B001", "score": 4})
            await asyncio.to_thread(mosquitto_pub, mosquitto.port, f"{base}/cmd", cmd)
            [ack1] = await watch.wait(on(f"{base}/ack", id="cmd-0001"))
            await asyncio.to_thread(mosquitto_pub, mosquitto.port, f"{base}/cmd", cmd)
            acks = await watch.wait(on(f"{base}/ack", id="cmd-0001"), count=2)
            bad = json.dumps({"id": "cmd-0002", "op": "dance"})
            await asyncio.to_thread(mosquitto_pub, mosquitto.port, f"{base}/cmd", bad)
            [ack_bad] = await watch.wait(on(f"{base}/ack", id="cmd-0002"))
            assert pad.executed_cmds == 2 and pad.repeated_cmds == 1
        assert ack1.json == {"id": "cmd-0001", "ok": True, "rated": True}
        assert acks[1].payload == ack1.payload  # the same ack, re-sent
        assert ack_bad.json == {"id": "cmd-0002", "ok": False, "error": "bad_op"}
        rated = watch.matching(on(f"{base}/event", case_id="C-77"))
        assert len(rated) == 1 and rated[0].json["score"] == 4 and rated[0].json["ticket"] == "B001"

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(scenario(watch))


def test_lockbox_unlock_door_events_and_errors(mosquitto: Mosquitto) -> None:
    base = f"hall/{SITE}/lockbox/lb-1f"

    async def send(cmd: dict[str, object]) -> None:
        await asyncio.to_thread(mosquitto_pub, mosquitto.port, f"{base}/cmd", json.dumps(cmd))

    async def scenario(watch: MqttWatcher) -> None:
        sim = HallSimulator(
            {
                "site": SITE,
                "devices": [
                    {
                        "id": "lb-1f",
                        "kind": "lockbox",
                        "slots": 24,
                        "sim": {"door_open_after_s": 0.3, "door_close_after_s": 0.3},
                    }
                ],
            },
            mqtt=settings(mosquitto),
            rate_per_min=0,
        )
        async with sim:
            box: Lockbox = sim.device("lb-1f")
            await box.wait_connected()
            had_phone = box.slots[3].phone
            box.jam(5)
            await send({"id": "u1", "op": "unlock", "slot": 3})
            await send({"id": "u2", "op": "unlock", "slot": 3})  # while the first is in progress
            await send({"id": "u3", "op": "unlock", "slot": 99})
            await send({"id": "u4", "op": "unlock", "slot": 5})
            acks = {a.json["id"]: a.json for a in await watch.wait(on(f"{base}/ack"), count=4)}
            assert acks["u1"] == {"id": "u1", "ok": True, "slot": 3}
            assert acks["u2"] == {"id": "u2", "ok": False, "error": "busy"}
            assert acks["u3"] == {"id": "u3", "ok": False, "error": "bad_slot"}
            assert acks["u4"] == {"id": "u4", "ok": False, "error": "jammed"}
            events = await watch.wait(on(f"{base}/event", slot=3), count=3)
            await watch.wait(on(f"{base}/event", slot=5, type="lock_fault"))
            await send({"id": "s1", "op": "snapshot"})
            [snap] = await watch.wait(on(f"{base}/ack", id="s1"))
        assert [e.json["type"] for e in events[:3]] == [
            "door_open",
            "phone_out" if had_phone else "phone_in",
            "door_closed",
        ]
        seqs = [e.json["seq"] for e in watch.matching(on(f"{base}/event"))]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        slots = snap.json["slots"]
        assert len(slots) == 24 and set(slots[0]) == {"slot", "locked", "door", "phone"}
        assert slots[2] == {"slot": 3, "locked": True, "door": "closed", "phone": not had_phone}

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(scenario(watch))


def test_crash_publishes_will_then_online_again(mosquitto: Mosquitto) -> None:
    base = f"hall/{SITE}/rating/rp-w03"

    async def scenario(watch: MqttWatcher) -> None:
        async with RatingPad("rp-w03", site=SITE, mqtt=settings(mosquitto, "3.1.1")) as pad:
            await watch.wait(on(f"{base}/status", state="online"))
            pad.crash()
            [will] = await watch.wait(on(f"{base}/status", state="offline"))
            assert will.json == {"state": "offline"}  # the will, not a clean shutdown
            pad.rate(3)  # kept while down, sent after the status on reconnect
            pad.come_back()
            lines = await watch.wait(lambda ln: ln.topic.startswith(base) and "heartbeat" not in ln.topic, count=4)
        states = [(ln.topic.rsplit("/", 1)[1], ln.json.get("state")) for ln in lines[:4]]
        assert states == [("status", "online"), ("status", "offline"), ("status", "online"), ("event", None)]

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(scenario(watch))


def test_attendance_offline_backlog_uploaded_oldest_first(mosquitto: Mosquitto) -> None:
    base = f"hall/{SITE}/attendance/att-1f"
    n = 300

    async def scenario(watch: MqttWatcher) -> None:
        async with AttendanceMachine("att-1f", site=SITE, mqtt=settings(mosquitto), mode="unknown") as att:
            await att.wait_connected()
            att.punch("S0001", method="card", direction="in")
            await watch.wait(on(f"{base}/punch"))
            att.go_offline()
            await watch.wait(on(f"{base}/status", state="offline"))
            for i in range(n):
                att.punch(f"S{i % 40:04d}")
            assert att.backlog == n
            started = time.monotonic()
            att.come_back()
            await watch.wait(on(f"{base}/punch"), count=n + 1, timeout=10)
            took = time.monotonic() - started
        assert took >= (n - 1) / 200 * 0.9, f"uploaded {n} punches in {took:.2f} s: faster than 200/s"
        lines = [ln for ln in watch.matching(lambda ln: ln.topic.startswith(base)) if "heartbeat" not in ln.topic]
        kinds = [ln.topic.rsplit("/", 1)[1] + ":" + str(ln.json.get("state", "")) for ln in lines]
        i_online = kinds.index("status:online", kinds.index("status:offline"))
        after = lines[i_online + 1 : i_online + 1 + n]  # the first n messages after the status online
        assert all(ln.topic.endswith("/punch") for ln in after)
        backlog = [ln.json for ln in after]
        first = lines[1].json["seq"] if lines[1].topic.endswith("punch") else None
        assert first is not None
        assert [p["seq"] for p in backlog] == list(range(first + 1, first + 1 + n))  # oldest first
        assert {p["direction"] for p in backlog} == {"unknown"}
        assert set(backlog[0]) == {"seq", "ts", "staff_id", "method", "direction"} and TS_RE.match(backlog[0]["ts"])

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(scenario(watch))


def test_seq_wraps_and_survives_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        pad = RatingPad("rp-seq", seq_start=2**32 - 2, state_dir=tmp_path)
        assert [pad.rate(5)["seq"] for _ in range(3)] == [2**32 - 2, 2**32 - 1, 0]
        again = RatingPad("rp-seq", state_dir=tmp_path)  # "reboot": seq comes from flash
        assert again.rate(5)["seq"] == 1

    asyncio.run(scenario())


def test_same_seed_same_activity() -> None:
    async def scenario() -> list[list[tuple[object, ...]]]:
        runs = []
        for _ in range(2):
            pad = RatingPad("rp-seed", seed=42)
            events = [pad.rate() for _ in range(20)]
            runs.append([(e["score"], tuple(e["reasons"]), e["item"]) for e in events if e])
        return runs

    first, second = asyncio.run(scenario())
    assert first == second
