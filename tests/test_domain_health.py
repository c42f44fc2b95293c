from __future__ import annotations

from drivers.canonical import HEARTBEAT, READING, STATUS, Event
from gateway.domain.health import DeviceHealth, observe, poll_failed, tick
from gateway.kinds import KINDS

S = 10**9


def device(device_id: str, kind: str, protocol: str) -> DeviceHealth:
    """Health with its kind's rules, as the gateway builds it."""
    k = KINDS[kind]
    return DeviceHealth(device_id, kind, protocol, rules=k.problems, keep=k.info)


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
    assert h.detail == "lock fault on door 0, 3"
