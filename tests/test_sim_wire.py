"""Every MQTT topic and payload, and every Modbus map, checked with the real tools against
device-protocols.md field by field (the doc's tables are restated here as data)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from firmware_sim.hall import HallSimulator
from firmware_sim.kinds.people_counter import PeopleCounter
from firmware_sim.kinds.pickup_locker import LockerBoard
from firmware_sim.modbus_bus import ModbusBus
from firmware_sim.mqtt_device import MqttSettings
from tests.servers import Mosquitto, free_port
from tests.sim_support import TS_RE, MqttWatcher, mbpoll, mosquitto_pub, on, retained

SITE = "wire"
ISO = "iso8601"
# channel -> (QoS, retained, {field: type}); "?field" = optional
MQTT_DOC: dict[str, dict[str, Any]] = {
    "status": {"online": {"state": "online", "fw": str, "model": str, "ts": ISO}, "will": {"state": "offline"}},
    "heartbeat": {"ts": ISO, "uptime_s": int, "rssi": int},
    "rating.rated": {
        "seq": int,
        "ts": ISO,
        "type": "rated",
        "case_id": str,
        "window": str,
        "staff_id": str,
        "ticket": str,
        "item": str,
        "score": int,
        "reasons": list,
    },
    "rating.unrated": {
        "seq": int,
        "ts": ISO,
        "type": "unrated",
        "window": str,
        "staff_id": str,
        "ticket": str,
        "item": str,
    },
    "lockbox.event": {"seq": int, "ts": ISO, "slot": int, "type": str},
    "attendance.punch": {"seq": int, "ts": ISO, "staff_id": str, "method": str, "direction": str},
}
LOCKBOX_TYPES = {"door_open", "door_closed", "phone_in", "phone_out", "forced_open", "lock_fault"}


def conforms(payload: dict[str, Any], doc: dict[str, Any]) -> None:
    assert set(payload) == set(doc), (payload, doc)
    for key, want in doc.items():
        value = payload[key]
        if want == ISO:
            assert isinstance(value, str) and TS_RE.match(value), (key, value)
        elif isinstance(want, type):
            assert isinstance(value, want) and (want is bool or not isinstance(value, bool)), (key, value)
        else:
            assert value == want, (key, value)


def test_every_mqtt_topic_and_payload(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sim = HallSimulator(
        {
            "site": SITE,
            "devices": [
                {"id": "rp-1", "kind": "rating_pad", "window": "W01"},
                {
                    "id": "lb-1",
                    "kind": "lockbox",
                    "slots": 12,
                    "sim": {"door_open_after_s": 0.1, "door_close_after_s": 0.1},
                },
                {"id": "att-1", "kind": "attendance"},
            ],
        },
        mqtt=MqttSettings(port=mosquitto.port),
        heartbeat_s=0.2,
        rate_per_min=0,
        state_dir=tmp_path,
    )

    async def scenario(watch: MqttWatcher) -> None:
        async with sim:
            await sim.wait_online()
            pad, box, att = sim.device("rp-1"), sim.device("lb-1"), sim.device("att-1")
            pad.rate(1)
            pad.expire_prompt()
            att.punch()
            box.force_open(2)
            box.close_door(2)
            box.jam(4)
            for cmd in ({"id": "u1", "op": "unlock", "slot": 1}, {"id": "u2", "op": "unlock", "slot": 4}):
                await asyncio.to_thread(mosquitto_pub, mosquitto.port, f"hall/{SITE}/lockbox/lb-1/cmd", json.dumps(cmd))
            await asyncio.to_thread(
                mosquitto_pub, mosquitto.port, f"hall/{SITE}/lockbox/lb-1/cmd", '{"id":"s1","op":"snapshot"}'
            )
            await watch.wait(on("lockbox/lb-1/ack", id="s1"))
            await watch.wait(on("lockbox/lb-1/event", slot=1, type="door_closed"))
            for dev in ("rating/rp-1", "lockbox/lb-1", "attendance/att-1"):
                await watch.wait(on(f"{dev}/heartbeat"))
            pad.crash()  # the will
            await watch.wait(on("rating/rp-1/status", state="offline"))
            pad.come_back()
            await watch.wait(on("rating/rp-1/status", state="online"), count=2)

    with MqttWatcher(mosquitto.port, f"hall/{SITE}/#") as watch:
        asyncio.run(scenario(watch))
    lines = watch.matching(lambda ln: True)
    topics = {ln.topic for ln in lines}
    for base, channels in (
        ("rating/rp-1", {"status", "heartbeat", "event"}),
        ("lockbox/lb-1", {"status", "heartbeat", "event", "ack", "cmd"}),
        ("attendance/att-1", {"status", "heartbeat", "punch"}),
    ):
        assert {t.rsplit("/", 1)[1] for t in topics if t.startswith(f"hall/{SITE}/{base}/")} == channels
    for ln in lines:
        kind, channel, data = ln.topic.split("/")[2], ln.topic.rsplit("/", 1)[1], ln.json
        if channel == "status":
            if data["state"] == "online":
                conforms(data, MQTT_DOC["status"]["online"])
            else:
                assert data in ({"state": "offline"}, {"state": "offline", "reason": "shutdown"})
        elif channel == "heartbeat":
            doc = dict(MQTT_DOC["heartbeat"])
            if kind == "rating":  # battery powered
                doc["battery"] = int
            conforms(data, doc)
            assert -120 < data["rssi"] < 0
        elif kind == "rating":
            conforms(data, MQTT_DOC[f"rating.{data['type']}"])
            if data["type"] == "rated":
                assert 1 <= data["score"] <= 5
                assert set(data["reasons"]) <= {"attitude", "slow", "unclear", "rejected", "other"}
                assert bool(data["reasons"]) == (data["score"] <= 2)
        elif kind == "lockbox" and channel == "event":
            conforms(data, MQTT_DOC["lockbox.event"])
            assert data["type"] in LOCKBOX_TYPES and 1 <= data["slot"] <= 12
        elif channel == "punch":
            conforms(data, MQTT_DOC["attendance.punch"])
            assert data["method"] in ("face", "fingerprint", "card") and data["direction"] in ("in", "out", "unknown")
    acks = {ln.json["id"]: ln.json for ln in lines if ln.topic.endswith("/ack")}
    assert acks["u1"] == {"id": "u1", "ok": True, "slot": 1}
    assert acks["u2"] == {"id": "u2", "ok": False, "error": "jammed"}
    slots = acks["s1"]["slots"]
    assert acks["s1"]["ok"] is True and [s["slot"] for s in slots] == list(range(1, 13))
    for s in slots:
        conforms(s, {"slot": int, "locked": bool, "door": str, "phone": bool})
        assert s["door"] in ("open", "closed")
    types = {ln.json["type"] for ln in lines if ln.topic.endswith("lockbox/lb-1/event")}
    assert {"forced_open", "door_open", "door_closed", "lock_fault"} <= types
    for base in ("rating/rp-1", "lockbox/lb-1", "attendance/att-1"):
        assert json.loads(retained(mosquitto.port, f"hall/{SITE}/{base}/status")) == {
            "state": "offline",
            "reason": "shutdown",
        }


# Modbus maps: table (mbpoll -t) -> (first, last) addresses in the map
LOCKER_MAP = {"0": (0, 23), "1": [(0, 23), (32, 55)], "3": (0, 7), "4": (0, 0)}
COUNTER_MAP = {"3": (0, 7), "4": (16, 16)}


def test_mbpoll_reads_every_modbus_map_and_nothing_beyond() -> None:
    async def scenario() -> None:
        port = free_port()
        board = LockerBoard(1, items_ratio=0.0, uptime_start_s=70_000, door_close_after_s=None)
        board.put_item(23)
        board.open_door(0)
        counter = PeopleCounter(2, rate_per_min=0, start_in=0x12345, start_out=0x10001, uptime_start_s=100)
        async with ModbusBus("127.0.0.1", port, [board, counter]):
            for unit, table_map in ((1, LOCKER_MAP), (2, COUNTER_MAP)):
                for table, ranges in table_map.items():
                    for first, last in ranges if isinstance(ranges, list) else [ranges]:
                        res = await mbpoll(port, "-t", table, "-r", str(first), "-c", str(last - first + 1), unit=unit)
                        assert res.rc == 0 and sorted(res.values) == list(range(first, last + 1)), res.output
                        for beyond in (first - 1, last + 1):
                            if beyond < 0 or (table == "1" and beyond in (24, 31)):
                                continue
                            bad = await mbpoll(port, "-t", table, "-r", str(beyond), unit=unit)
                            assert "Illegal data address" in bad.output, (unit, table, beyond, bad.output)
            for bad_table in ("0", "1"):  # a counter has no coils or discrete inputs
                assert "Illegal data address" in (await mbpoll(port, "-t", bad_table, "-r", "0", unit=2)).output
            for hole in ("24", "31"):
                assert "Illegal data address" in (await mbpoll(port, "-t", "1", "-r", hole, unit=1)).output
            regs = (await mbpoll(port, "-t", "3", "-r", "0", "-c", "8", unit=1)).values
            assert [regs[0], regs[1], regs[2], regs[3]] == [203, 24, 0, 265]
            assert regs[4] << 16 | regs[5] >= 70_000 and (regs[6], regs[7]) == (0, 0)
            di = (await mbpoll(port, "-t", "1", "-r", "0", "-c", "24", unit=1)).values
            assert di[0] == 1 and sum(di.values()) == 1
            items = (await mbpoll(port, "-t", "1", "-r", "32", "-c", "24", unit=1)).values
            assert items[55] == 1 and sum(items.values()) == 1
            assert (await mbpoll(port, "-t", "4", "-r", "0", unit=1)).values == {0: 500}
            c = (await mbpoll(port, "-t", "3", "-r", "0", "-c", "8", unit=2)).values
            assert (c[0], c[1], c[2], c[3], c[4], c[5]) == (1, 0x2345, 1, 1, 0, 105)
            assert c[6] << 16 | c[7] >= 100

    asyncio.run(scenario())
