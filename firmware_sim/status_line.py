"""What a running simulator prints: a status line every few seconds and a summary at the end."""

from __future__ import annotations

import time

from firmware_sim.hall import HallSimulator
from firmware_sim.scenario import ScenarioRunner


def _totals(halls: list[HallSimulator]) -> dict[str, int]:
    total: dict[str, int] = {}
    for hall in halls:
        for key, value in hall.stats().items():
            total[key] = total.get(key, 0) + value
    return total


class StatusLine:
    """The live status: devices up, messages a second since the last line, faults active."""

    def __init__(self, halls: list[HallSimulator]) -> None:
        self.halls = halls
        self.started = self._at = time.monotonic()
        self._last = _totals(halls)
        self.first = dict(self._last)
        self.runner: ScenarioRunner | None = None

    def line(self) -> str:
        now = time.monotonic()
        totals = _totals(self.halls)
        dt = max(now - self._at, 1e-6)
        msg_s = (totals["published"] - self._last["published"]) / dt
        req_s = (totals["requests"] - self._last["requests"]) / dt
        self._at, self._last = now, totals
        faults = " ".join(h.faults.describe_active() for h in self.halls if h.faults.active_count)
        day = f" day {self.runner.day_clock(now - self.started)}," if self.runner else ""
        return (
            f"status {_clock(now - self.started)}:{day} {totals['up']}/{totals['devices']} devices up "
            f"({totals['mqtt_up']}/{totals['mqtt']} MQTT online), {msg_s:.1f} msg/s, "
            f"{req_s:.1f} Modbus req/s, {totals['faults']} faults active" + (f" ({faults})" if faults else "")
        )

    def summary(self) -> list[str]:
        took = time.monotonic() - self.started
        totals = _totals(self.halls)
        published = totals["published"] - self.first["published"]
        requests = totals["requests"] - self.first["requests"]
        devices = [d for h in self.halls for d in h.mqtt_devices]
        never = [d.device_id for d in devices if d.sessions == 0]
        reconnects = sum(max(d.sessions - 1, 0) for d in devices)
        lines = [
            f"summary: ran {took:.1f} s, {len(self.halls)} site(s), {totals['devices']} devices "
            f"({totals['mqtt']} MQTT, {totals['modbus']} Modbus)",
            f"  MQTT messages published: {published} ({published / max(took, 1e-6):.1f}/s); reconnects: {reconnects}",
            f"  Modbus requests served: {requests} ({requests / max(took, 1e-6):.1f}/s)",
            f"  faults applied: {sum(h.faults.applied for h in self.halls)}; active at the end: {totals['faults']}",
        ]
        if devices:
            dropped = sum(d.dropped_events for d in devices)
            waiting = sum(d.backlog for d in devices)
            lines.append(f"  events unsent at the end: {waiting}; dropped (backlog full): {dropped}")
        if self.runner is not None:
            counts = ", ".join(f"{n} {op}" for op, n in sorted(self.runner.counts.items()))
            lines.append(
                f"  scenario: {self.runner.done}/{len(self.runner.plan)} actions ({counts}); "
                f"errors: {self.runner.errors}"
            )
        if never:
            lines.append(f"  never online: {', '.join(never[:10])}" + (" ..." if len(never) > 10 else ""))
        return lines


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
