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
        day = f"模拟时刻 {self.runner.day_clock(now - self.started)}，" if self.runner else ""
        return (
            f"状态 (status) {_clock(now - self.started)}：{day}{totals['up']}/{totals['devices']} 台设备在运行"
            f"（MQTT 在线 {totals['mqtt_up']}/{totals['mqtt']}），每秒 {msg_s:.1f} 条消息，"
            f"每秒 {req_s:.1f} 次 Modbus 请求，{totals['faults']} 个故障生效" + (f"（{faults}）" if faults else "")
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
            f"汇总 (summary)：运行 {took:.1f} 秒，{len(self.halls)} 个站点，{totals['devices']} 台设备"
            f"（MQTT {totals['mqtt']} 台，Modbus {totals['modbus']} 台）",
            f"  已发布 MQTT 消息：{published} 条（每秒 {published / max(took, 1e-6):.1f}）；重连：{reconnects} 次",
            f"  已应答 Modbus 请求：{requests} 次（每秒 {requests / max(took, 1e-6):.1f}）",
            f"  已注入故障：{sum(h.faults.applied for h in self.halls)} 个；结束时仍生效：{totals['faults']} 个",
        ]
        if devices:
            dropped = sum(d.dropped_events for d in devices)
            waiting = sum(d.backlog for d in devices)
            lines.append(f"  结束时未发出的事件：{waiting} 条；因积压已满丢弃：{dropped} 条")
        if self.runner is not None:
            counts = ", ".join(f"{n} {op}" for op, n in sorted(self.runner.counts.items()))
            lines.append(
                f"  场景：已完成 {self.runner.done}/{len(self.runner.plan)} 个动作（{counts}）；"
                f"出错：{self.runner.errors} 次"
            )
        if never:
            lines.append(f"  从未上线：{', '.join(never[:10])}" + (" ……" if len(never) > 10 else ""))
        return lines


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
