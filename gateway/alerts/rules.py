"""What holds now: conditions from device health and from the gateway itself. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.domain.conditions import Condition, Severity
from gateway.domain.health import DeviceHealth, words

DEFAULT_SEVERITY: dict[str, Severity] = {
    "device_offline": "critical",
    "forced_open": "critical",
    "store_unwritable": "critical",
    "outbox_dropping": "critical",
    "jammed_lock": "warning",
    "door_left_open": "warning",
    "low_battery": "warning",
    "sink_down": "warning",
    "clock_drift": "warning",
}
NEVER_SEEN_GRACE_NS = 60 * 10**9  # at start every device is "never seen" until its status arrives
SINK_DOWN_AFTER_NS = 60 * 10**9
DROPPING_WINDOW_NS = 300 * 10**9


def severity(rule: str, overrides: Mapping[str, Severity]) -> Severity:
    return overrides.get(rule) or DEFAULT_SEVERITY.get(rule, "warning")


def device_conditions(
    devices: Iterable[DeviceHealth], started_ns: int, now_ns: int, overrides: Mapping[str, Severity]
) -> list[Condition]:
    out = []
    for h in devices:
        if h.health == "offline":
            if h.last_seen_ns is None and now_ns - started_ns < NEVER_SEEN_GRACE_NS:
                continue
            params = {"device": h.device, "reason": h.detail}
            text = f"{h.device} offline: {h.detail_en}"
            summary = h.say("device_offline", params, text)
            out.append(
                Condition(
                    "device_offline",
                    h.device,
                    severity("device_offline", overrides),
                    summary,
                    h.device,
                    params=params,
                    english=text,
                    template="device_offline",
                )
            )
        for p in h.problems:
            key = f"{h.device}/{p.part}" if p.part else h.device
            said, text = words(h, p), f"{h.device}: {p.text}"
            # A problem the catalogue has no words for keeps its English whole (a kind's own, new rule).
            if said == p.text:
                out.append(Condition(p.code, key, severity(p.code, overrides), text, h.device, english=text))
                continue
            params = {"device": h.device, "problem": said}
            summary = h.say("device_problem", params, text)
            out.append(
                Condition(
                    p.code,
                    key,
                    severity(p.code, overrides),
                    summary,
                    h.device,
                    params=params,
                    english=text,
                    template="device_problem",
                )
            )
    return out


@dataclass
class GatewayWatch:
    """Conditions of the gateway itself: a store that refuses commits, a sink down for a while, an
    outbox that dropped records recently (it remembers when the drop counters last grew)."""

    overrides: Mapping[str, Severity] = field(default_factory=dict)
    _dropped: int | None = None
    _last_drop_ns: int | None = None
    _sink_down_since_ns: int | None = None

    def conditions(
        self, *, now_ns: int, dropped_total: int, store_error: str | None, sink_failing: bool, sink_error: str | None
    ) -> list[Condition]:
        out = []
        if not sink_failing:
            self._sink_down_since_ns = None
        elif self._sink_down_since_ns is None:
            self._sink_down_since_ns = now_ns
        sink_down_since_ns = self._sink_down_since_ns
        if self._dropped is not None and dropped_total > self._dropped:
            self._last_drop_ns = now_ns
        self._dropped = dropped_total
        if self._last_drop_ns is not None and now_ns - self._last_drop_ns < DROPPING_WINDOW_NS:
            out.append(
                Condition(
                    "outbox_dropping",
                    "outbox",
                    severity("outbox_dropping", self.overrides),
                    f"the outbox is full and dropping records ({dropped_total} dropped in all)",
                    params={"dropped": dropped_total},
                )
            )
        if store_error is not None:
            out.append(
                Condition(
                    "store_unwritable",
                    "outbox",
                    severity("store_unwritable", self.overrides),
                    f"the outbox cannot store records: {store_error}",
                    params={"error": store_error},
                )
            )
        if sink_down_since_ns is not None and now_ns - sink_down_since_ns >= SINK_DOWN_AFTER_NS:
            down_s = (now_ns - sink_down_since_ns) // 10**9
            out.append(
                Condition(
                    "sink_down",
                    "sink",
                    severity("sink_down", self.overrides),
                    f"InfluxDB not reachable for {down_s} s: {sink_error}",
                    params={"seconds": down_s, "error": sink_error},
                )
            )
        return out
