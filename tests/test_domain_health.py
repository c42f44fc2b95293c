from __future__ import annotations

from gateway.domain.canonical import HEARTBEAT, READING, STATUS, Event
from gateway.domain.health import DeviceHealth, observe, poll_failed, tick
from gateway.kinds.registry import KINDS

S = 10**9


def device(device_id: str, kind: str, protocol: str) -> DeviceHealth:
    """Health with its kind's rules, as the gateway builds it."""
    k = KINDS[kind]
    return DeviceHealth(device_id, kind, protocol, rules=k.problems, keep=k.info, fold=k.fold)


def mqtt_device() -> DeviceHealth:
    return device("rp-w01", "rating_pad", "mqtt")


def test_never_seen_is_offline() -> None:
    h = mqtt_device()
    assert (h.online, h.health, h.detail) == (False, "offline", "never seen")


def test_status_online_then_will_offline_with_history() -> None:
    h = mqtt_device()
    observe(h, Event("rp-w01", STATUS, 0, {"online": True, "fw": "2.3.1"}), 10 * S)
    assert (h.health, h.since_ns, h.info["fw"]) == ("ok", 10 * S, "2.3.1")
    observe(h, Event("rp-w01", STATUS, 0, {"online": False}), 20 * S)
    assert (h.online, h.health, h.detail) == (False, "offline", "device said offline")
    assert [t.health for t in h.history] == ["ok", "offline"]


def test_low_battery_degrades_and_recovers() -> None:
    h = mqtt_device()
    observe(h, Event("rp-w01", HEARTBEAT, 0, {"battery": 12}), S)
    assert (h.health, h.detail) == ("degraded", "battery low (12 %)")
    observe(h, Event("rp-w01", HEARTBEAT, 0, {"battery": 90}), 2 * S)
    assert h.health == "ok"


def test_silent_mqtt_device_goes_offline_on_the_clock() -> None:
    h = mqtt_device()
    observe(h, Event("rp-w01", HEARTBEAT, 0, {}), 0)
    tick(h, 60 * S)
    assert h.online
    tick(h, 100 * S)
    assert (h.online, h.detail) == (False, "nothing heard for 100 s")


def test_modbus_device_offline_after_three_failed_polls_then_back() -> None:
    h = device("pc-1", "people_counter", "modbus")
    observe(h, Event("pc-1", READING, 0, {"sensor": "ok"}), S)
    poll_failed(h, "timeout", 2 * S)
    poll_failed(h, "timeout", 3 * S)
    assert h.online
    poll_failed(h, "timeout", 4 * S)
    assert (h.online, h.detail) == (False, "no answer to 3 polls: timeout")
    observe(h, Event("pc-1", READING, 0, {"sensor": "lens_blocked"}), 5 * S)
    assert (h.health, h.detail, h.counters["poll_errors"]) == ("degraded", "sensor: lens_blocked", 3)


def test_lock_fault_names_the_doors() -> None:
    h = device("locker-a1", "pickup_locker", "modbus")
    observe(h, Event("locker-a1", READING, 0, {"lock_fault": 0b1001, "board_status": []}), S)
    assert (h.health, h.detail) == ("degraded", "door 0 jammed; door 3 jammed")
    assert [(p.code, p.part) for p in h.problems] == [("jammed_lock", "door 0"), ("jammed_lock", "door 3")]


def test_a_door_left_open_degrades_on_the_clock_and_clears_when_closed() -> None:
    h = device("locker-a1", "pickup_locker", "modbus")
    doors = [False] * 24
    doors[5] = True
    observe(h, Event("locker-a1", READING, 10 * S, {"door_open": doors, "lock_fault": 0}), 10 * S)
    assert h.health == "ok"
    assert tick(h, 100 * S) is None
    t = tick(h, 131 * S)
    assert t is not None and (t.health, t.detail) == ("degraded", "door 5 open for 121 s")
    observe(h, Event("locker-a1", READING, 132 * S, {"door_open": [False] * 24, "lock_fault": 0}), 132 * S)
    assert h.health == "ok"


def test_lockbox_jam_from_its_ack_clears_when_the_slot_opens() -> None:
    h = device("lb-1", "lockbox", "mqtt")
    observe(h, Event("lb-1", "ack", S, {"id": "c1", "ok": False, "error": "jammed", "slot": 3}), S)
    assert (h.health, h.detail) == ("degraded", "slot 3 jammed")
    observe(h, Event("lb-1", "door_open", 2 * S, {"slot": 3}), 2 * S)
    assert h.health == "ok"


def test_flapping_reboots_and_clock_drift() -> None:
    h = device("pc-1", "people_counter", "modbus")
    now = 0
    for _ in range(4):
        now += 10 * S
        observe(h, Event("pc-1", READING, now, {"uptime_s": 100}), now)
        for _ in range(3):
            now += S
            poll_failed(h, "timeout", now)
    observe(h, Event("pc-1", READING, now, {"uptime_s": 5}), now)
    assert (h.health, h.detail) == ("degraded", "went offline 4 times in 10 min")
    assert h.counters["reboots"] == 1
    assert tick(h, now + 700 * S) is not None and h.health == "ok"  # calm for longer than the window

    pad = mqtt_device()
    observe(pad, Event("rp-w01", HEARTBEAT, 1000 * S, {"battery": 90}), 1300 * S)
    assert (pad.health, pad.detail) == ("degraded", "clock off by -300 s")


def test_the_clock_drift_limit_is_the_halls_to_choose() -> None:
    pad = mqtt_device()
    pad.drift_limit_s = 600  # health.clock_drift_limit_s
    observe(pad, Event("rp-w01", HEARTBEAT, 1000 * S, {"battery": 90}), 1300 * S)
    assert (pad.health, pad.info["clock_drift_s"]) == ("ok", -300.0)
    observe(pad, Event("rp-w01", HEARTBEAT, 1000 * S, {"battery": 90}), 1700 * S)
    assert (pad.health, pad.detail) == ("degraded", "clock off by -700 s")
