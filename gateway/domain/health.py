"""Device health: online, offline, degraded, since when, and why. Pure: the clock is passed in.

MQTT devices say they are online in their retained status and the broker says they are gone
with their will; a device whose heartbeats stop is offline too. Modbus devices are online while
their polls answer and offline after a few failures in a row. What makes an online device
degraded is partly common to all (clock drift, weak signal, slow answers, flapping) and partly
its kind's business (`rules` and `fold`, from gateway/kinds/): this module names no kind.

Each reason has a code and its specifics beside its English text; `say` (the catalogue's, passed
in by the running gateway) turns them into the words a person reads. By default: the English.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.domain.canonical import HEARTBEAT, READING, STATUS, Event

HealthState = Literal["ok", "degraded", "offline"]

HEARTBEAT_TIMEOUT_NS = 95 * 10**9  # three missed 30 s heartbeats, and a little slack
POLL_FAILURES_OFFLINE = 3
HISTORY = 50
HEARTBEAT_INFO = frozenset({"battery", "rssi", "uptime_s"})
CLOCK_DRIFT_LIMIT_S = 120  # a device's clock this far off stamps its events wrongly
WEAK_RSSI_DBM = -85
SLOW_POLL_S = 0.5  # a healthy device answers within 50 ms; a whole read plan in far less than this
FLAP_WINDOW_NS = 600 * 10**9
FLAP_LIMIT = 4  # going offline this often within the window is flapping


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an online device is degraded: `code` names the alert rule it raises (low_battery, ...),
    `part` the slot or door it concerns, if any; `text` is the English (logs), `params` the
    specifics a catalogue template fills in (`battery`)."""

    code: str
    text: str
    part: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Offline:
    """Why a device went offline (not an alert rule of its own: its `device_offline` alert says it):
    `code` one of the catalogue's offline reasons (silent, no_answer, ...), `text` the English."""

    code: str
    text: str
    params: Mapping[str, Any] = field(default_factory=dict)
    part: None = None


# (code, specifics, the English) -> what a person reads: the catalogue's template for the code.
Say = Callable[[str, Mapping[str, Any], str], str]


def english(_: str, __: Mapping[str, Any], text: str) -> str:
    return text


def words(h: DeviceHealth, p: Problem | Offline) -> str:
    """A problem or an offline reason as `h` says it."""
    return h.say(p.code, {"part": p.part, **p.params}, p.text)


Rules = Callable[[Mapping[str, Any], int], list[Problem]]
Fold = Callable[[dict[str, Any], Event], None]


def no_problems(_: Mapping[str, Any], __: int) -> list[Problem]:
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
    fold: Fold | None = None
    heartbeat_timeout_ns: int | None = HEARTBEAT_TIMEOUT_NS  # None: it sends none, silence means nothing
    drift_limit_s: float = CLOCK_DRIFT_LIMIT_S
    say: Say = english
    online: bool = False
    health: HealthState = "offline"
    detail: str = "never seen"
    detail_en: str = "never seen"  # the same in English, for an alert read in English
    problems: list[Problem] = field(default_factory=list)
    since_ns: int | None = None
    last_seen_ns: int | None = None
    last_error: str | None = None
    failures_in_row: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # fw, model, battery, rssi, sensor flags ...
    counters: Counter[str] = field(default_factory=Counter)
    history: deque[Transition] = field(default_factory=lambda: deque(maxlen=HISTORY))
    offline_at: deque[int] = field(default_factory=lambda: deque(maxlen=FLAP_LIMIT))

    def __post_init__(self) -> None:
        if self.detail == "never seen":
            self.detail = self.say("never_seen", {}, self.detail)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def common_problems(h: DeviceHealth, now_ns: int) -> list[Problem]:
    out = []
    drift = _number(h.info.get("clock_drift_s"))
    if drift is not None and abs(drift) > h.drift_limit_s:
        out.append(Problem("clock_drift", f"clock off by {drift:+.0f} s", params={"drift": f"{drift:+.0f}"}))
    rssi = _number(h.info.get("rssi"))
    if rssi is not None and rssi < WEAK_RSSI_DBM:
        out.append(Problem("weak_signal", f"weak signal ({rssi:g} dBm)", params={"rssi": f"{rssi:g}"}))
    rtt = _number(h.info.get("poll_rtt_s"))
    if rtt is not None and rtt > SLOW_POLL_S:
        out.append(Problem("slow", f"slow answers ({rtt * 1000:.0f} ms a poll)", params={"ms": f"{rtt * 1000:.0f}"}))
    if len(h.offline_at) == FLAP_LIMIT and now_ns - h.offline_at[0] <= FLAP_WINDOW_NS:
        minutes = FLAP_WINDOW_NS // 60 // 10**9
        text = f"went offline {FLAP_LIMIT} times in {minutes} min"
        out.append(Problem("flapping", text, params={"times": FLAP_LIMIT, "minutes": minutes}))
    return out


def evaluate(h: DeviceHealth, now_ns: int, offline: Offline | None = None) -> Transition | None:
    """Recompute state and detail (time-based rules too); returns the change, if any. `offline`:
    why it went offline now (its code one of the catalogue's offline reasons)."""
    if not h.online:
        state: HealthState = "offline"
        detail = words(h, offline) if offline else h.detail
        detail_en = offline.text if offline else h.detail_en
        h.problems = []
    else:
        h.problems = common_problems(h, now_ns) + h.rules(h.info, now_ns)
        state = "degraded" if h.problems else "ok"
        detail = ("; " if h.say is english else "；").join(words(h, p) for p in h.problems)
        detail_en = "; ".join(p.text for p in h.problems)
    h.detail_en = detail_en
    if state == h.health and detail == h.detail:
        return None
    if state != h.health:
        h.since_ns = now_ns
        if state == "offline" and h.last_seen_ns is not None:
            h.offline_at.append(now_ns)
    h.health, h.detail = state, detail
    t = Transition(now_ns, state, detail)
    h.history.append(t)
    return t


def _uptime(h: DeviceHealth, fields: Mapping[str, Any]) -> None:
    """A device whose uptime went down has rebooted."""
    new, old = _number(fields.get("uptime_s")), _number(h.info.get("uptime_s"))
    if new is not None and old is not None and new < old:
        h.counters["reboots"] += 1


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
        said = Offline(
            "said_offline", f"device said offline{f' ({reason})' if reason else ''}", params={"reason": reason}
        )
        return evaluate(h, now_ns, None if online else said)
    if event.name == HEARTBEAT:
        _uptime(h, event.fields)
        h.info.update({k: v for k, v in event.fields.items() if k in HEARTBEAT_INFO})
        # Heartbeats are live (QoS 0, never stored offline): their time against ours is the drift.
        h.info["clock_drift_s"] = round((event.ts_ns - now_ns) / 1e9, 1)
    elif event.name == READING:
        h.failures_in_row = 0
        _uptime(h, event.fields)
        h.info.update({k: v for k, v in event.fields.items() if k in h.keep})
    if h.fold is not None:
        h.fold(h.info, event)
    # Anything a device sends proves it is there (a status may have been missed or reordered).
    h.online = True
    return evaluate(h, now_ns)


def poll_failed(h: DeviceHealth, error: str, now_ns: int) -> Transition | None:
    h.counters["poll_errors"] += 1
    h.failures_in_row += 1
    h.last_error = error
    if h.failures_in_row >= POLL_FAILURES_OFFLINE:
        h.online = False
        polls = h.failures_in_row
        why = Offline("no_answer", f"no answer to {polls} polls: {error}", params={"polls": polls, "error": error})
        return evaluate(h, now_ns, why)
    return None


def bad_payload(h: DeviceHealth, reason: str, error: str) -> None:
    h.counters["bad_payloads"] += 1
    h.counters[f"quarantined_{reason}"] += 1
    h.last_error = f"bad payload ({reason}): {error}"


def tick(h: DeviceHealth, now_ns: int) -> Transition | None:
    """Time passing: a silent MQTT device goes offline; time-based rules (a door left open) fire."""
    if h.heartbeat_timeout_ns is not None and h.protocol == "mqtt" and h.online and h.last_seen_ns is not None:
        silent_ns = now_ns - h.last_seen_ns
        if silent_ns > h.heartbeat_timeout_ns:
            h.online = False
            seconds = silent_ns // 10**9
            return evaluate(h, now_ns, Offline("silent", f"nothing heard for {seconds} s", params={"seconds": seconds}))
    return evaluate(h, now_ns) if h.online else None


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
