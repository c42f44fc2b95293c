"""Device health: online, offline, degraded, since when, and why. Pure: the clock is passed in.

MQTT devices say they are online in their retained status and the broker says they are gone
with their will; a device whose heartbeats stop is offline too. Modbus devices are online while
their polls answer and offline after a few failures in a row.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from drivers.canonical import HEARTBEAT, READING, STATUS, Event

HealthState = Literal["ok", "degraded", "offline"]

HEARTBEAT_TIMEOUT_NS = 95 * 10**9  # three missed 30 s heartbeats, and a little slack
POLL_FAILURES_OFFLINE = 3
LOW_BATTERY_PERCENT = 20
HISTORY = 50


@dataclass(frozen=True, slots=True)
class Transition:
    ts_ns: int
    health: HealthState
    detail: str


@dataclass
class DeviceHealth:
    device: str
    kind: str
    protocol: str
    online: bool = False
    health: HealthState = "offline"
    detail: str = "never seen"
    since_ns: int | None = None
    last_seen_ns: int | None = None
    last_error: str | None = None
    failures_in_row: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # fw, model, battery, rssi, sensor flags ...
    counters: Counter[str] = field(default_factory=Counter)
    history: deque[Transition] = field(default_factory=lambda: deque(maxlen=HISTORY))


def _problems(h: DeviceHealth) -> list[str]:
    """What makes an online device degraded, from its latest signals."""
    i = h.info
    out = []
    battery = i.get("battery")
    if isinstance(battery, int | float) and battery < LOW_BATTERY_PERCENT:
        out.append(f"battery low ({battery} %)")
    sensor = i.get("sensor")
    if sensor not in (None, "ok"):
        out.append(f"sensor: {sensor}")
    flags = i.get("board_status")
    if flags:
        out.append("board: " + ", ".join(flags))
    fault = i.get("lock_fault")
    if fault:
        doors = [str(n) for n in range(32) if fault >> n & 1]
        out.append("lock fault on door " + ", ".join(doors))
    return out


def _evaluate(h: DeviceHealth, now_ns: int, offline_detail: str | None = None) -> None:
    if not h.online:
        state: HealthState = "offline"
        detail = offline_detail or h.detail
    else:
        problems = _problems(h)
        state = "degraded" if problems else "ok"
        detail = "; ".join(problems)
    if state != h.health or detail != h.detail:
        if state != h.health:
            h.since_ns = now_ns
        h.health, h.detail = state, detail
        h.history.append(Transition(now_ns, state, detail))


def observe(h: DeviceHealth, event: Event, now_ns: int) -> None:
    """Fold one canonical event from the device into its health."""
    h.counters["events"] += 1
    if event.name == STATUS:
        online = bool(event.fields.get("online"))
        for key in ("fw", "model"):
            if key in event.fields:
                h.info[key] = event.fields[key]
        h.last_seen_ns = now_ns
        h.online = online
        reason = event.fields.get("reason")
        _evaluate(h, now_ns, None if online else f"device said offline{f' ({reason})' if reason else ''}")
        return
    h.last_seen_ns = now_ns
    if event.name == HEARTBEAT:
        h.info.update({k: v for k, v in event.fields.items() if k in ("battery", "rssi", "uptime_s")})
    elif event.name == READING:
        h.failures_in_row = 0
        h.info.update({k: v for k, v in event.fields.items()
                       if k in ("sensor", "board_status", "lock_fault", "fw_version", "uptime_s", "temperature_c")})
    # Anything a device sends proves it is there (a status may have been missed or reordered).
    h.online = True
    _evaluate(h, now_ns)


def poll_failed(h: DeviceHealth, error: str, now_ns: int) -> None:
    h.counters["poll_errors"] += 1
    h.failures_in_row += 1
    h.last_error = error
    if h.failures_in_row >= POLL_FAILURES_OFFLINE:
        h.online = False
        _evaluate(h, now_ns, f"no answer to {h.failures_in_row} polls: {error}")


def bad_payload(h: DeviceHealth, error: str) -> None:
    h.counters["bad_payloads"] += 1
    h.last_error = f"bad payload: {error}"


def tick(h: DeviceHealth, now_ns: int, heartbeat_timeout_ns: int = HEARTBEAT_TIMEOUT_NS) -> None:
    """Time passing: an MQTT device whose heartbeats stopped is offline, whatever its status said."""
    if h.protocol == "mqtt" and h.online and h.last_seen_ns is not None:
        silent_ns = now_ns - h.last_seen_ns
        if silent_ns > heartbeat_timeout_ns:
            h.online = False
            _evaluate(h, now_ns, f"nothing heard for {silent_ns // 10**9} s")
