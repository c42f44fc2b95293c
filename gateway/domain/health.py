"""Device health: online, offline, degraded, since when, and why. Pure: the clock is passed in.

MQTT devices say they are online in their retained status and the broker says they are gone
with their will; a device whose heartbeats stop is offline too. Modbus devices are online while
their polls answer and offline after a few failures in a row. What makes an online device
degraded is its kind's business (`rules`, from gateway/kinds/): this module names no kind.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from drivers.canonical import HEARTBEAT, READING, STATUS, Event

HealthState = Literal["ok", "degraded", "offline"]

HEARTBEAT_TIMEOUT_NS = 95 * 10**9  # three missed 30 s heartbeats, and a little slack
POLL_FAILURES_OFFLINE = 3
HISTORY = 50
HEARTBEAT_INFO = frozenset({"battery", "rssi", "uptime_s"})

Rules = Callable[[Mapping[str, Any]], list[str]]


def no_problems(_: Mapping[str, Any]) -> list[str]:
    return []


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
    rules: Rules = no_problems
    keep: frozenset[str] = frozenset()  # reading fields kept as info for the rules
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


def _evaluate(h: DeviceHealth, now_ns: int, offline_detail: str | None = None) -> Transition | None:
    if not h.online:
        state: HealthState = "offline"
        detail = offline_detail or h.detail
    else:
        problems = h.rules(h.info)
        state = "degraded" if problems else "ok"
        detail = "; ".join(problems)
    if state == h.health and detail == h.detail:
        return None
    if state != h.health:
        h.since_ns = now_ns
    h.health, h.detail = state, detail
    t = Transition(now_ns, state, detail)
    h.history.append(t)
    return t


def observe(h: DeviceHealth, event: Event, now_ns: int) -> Transition | None:
    """Fold one canonical event from the device into its health; returns the change, if any."""
    h.counters["events"] += 1
    h.last_seen_ns = now_ns
    if event.name == STATUS:
        online = bool(event.fields.get("online"))
        for key in ("fw", "model"):
            if key in event.fields:
                h.info[key] = event.fields[key]
        h.online = online
        reason = event.fields.get("reason")
        return _evaluate(h, now_ns, None if online else f"device said offline{f' ({reason})' if reason else ''}")
    if event.name == HEARTBEAT:
        h.info.update({k: v for k, v in event.fields.items() if k in HEARTBEAT_INFO})
    elif event.name == READING:
        h.failures_in_row = 0
        h.info.update({k: v for k, v in event.fields.items() if k in h.keep})
    # Anything a device sends proves it is there (a status may have been missed or reordered).
    h.online = True
    return _evaluate(h, now_ns)


def poll_failed(h: DeviceHealth, error: str, now_ns: int) -> Transition | None:
    h.counters["poll_errors"] += 1
    h.failures_in_row += 1
    h.last_error = error
    if h.failures_in_row >= POLL_FAILURES_OFFLINE:
        h.online = False
        return _evaluate(h, now_ns, f"no answer to {h.failures_in_row} polls: {error}")
    return None


def bad_payload(h: DeviceHealth, reason: str, error: str) -> None:
    h.counters["bad_payloads"] += 1
    h.counters[f"quarantined_{reason}"] += 1
    h.last_error = f"bad payload ({reason}): {error}"


def tick(h: DeviceHealth, now_ns: int, heartbeat_timeout_ns: int = HEARTBEAT_TIMEOUT_NS) -> Transition | None:
    """Time passing: an MQTT device whose heartbeats stopped is offline, whatever its status said."""
    if h.protocol == "mqtt" and h.online and h.last_seen_ns is not None:
        silent_ns = now_ns - h.last_seen_ns
        if silent_ns > heartbeat_timeout_ns:
            h.online = False
            return _evaluate(h, now_ns, f"nothing heard for {silent_ns // 10**9} s")
    return None


def restore(h: DeviceHealth, history: list[tuple[int, str, str]]) -> None:
    """Carry the last known health over a restart: history, and the state it ended in."""
    for at_ns, state, detail in history:
        h.history.append(Transition(at_ns, state, detail))  # type: ignore[arg-type]
    if history:
        at_ns, state, detail = history[-1]
        h.health, h.detail = state, detail  # type: ignore[assignment]
        h.online = state != "offline"
        h.last_seen_ns = at_ns
        since = at_ns
        for t_at, t_state, _ in reversed(history):
            if t_state != state:
                break
            since = t_at
        h.since_ns = since
