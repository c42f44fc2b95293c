"""Foot-traffic counter (客流计数器): cumulative IN/OUT counts at a doorway; feeds zone occupancy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from drivers.canonical import READING, Event
from gateway.domain.health import Problem
from gateway.domain.occupancy import WRAP, Doorway, Occupancy, Sample, ZoneCount
from gateway.kinds.base import Kind

if TYPE_CHECKING:
    from gateway.config import HallConfig
    from gateway.registry import DeviceEntry


def sensor_problems(info: Mapping[str, Any], now_ns: int) -> list[Problem]:
    sensor = info.get("sensor")
    return [] if sensor in (None, "ok", 0) else [Problem("sensor_fault", f"sensor: {sensor}")]


def _wrap(d: DeviceEntry) -> int:
    """Where the counter's IN count wraps: its width, as its profile says."""
    return d.plan.wraps.get("in_total", WRAP) if d.plan is not None else WRAP


class OccupancyProjection:
    """Zone occupancy from the hall's counters; its state (with each counter's last sample) is
    saved in the state database, so a restart carries on from the last saved baseline."""

    name = "occupancy"

    def __init__(self, cfg: HallConfig, devices: Mapping[str, DeviceEntry]) -> None:
        self.occupancy = Occupancy(
            zones={z.id: ZoneCount(z.id, z.capacity) for z in cfg.zones},
            doorways={
                d.id: Doorway(d.config.zone, d.config.from_zone, wrap=_wrap(d))
                for d in devices.values()
                if d.kind == KIND.name and d.config.zone
            },
        )

    def apply(self, event: Event, now_ns: int) -> None:
        if event.name != READING or event.device not in self.occupancy.doorways:
            return
        f = event.fields
        self.occupancy.sample(event.device, Sample(f["in_total"], f["out_total"], f.get("uptime_s")), event.ts_ns)

    def state(self) -> dict[str, Any]:
        return {
            "zones": {z.zone: asdict(z) for z in self.occupancy.zones.values()},
            "doorways": {name: asdict(d.last) for name, d in self.occupancy.doorways.items() if d.last},
        }

    def restore(self, state: dict[str, Any]) -> None:
        for zone_id, z in state.get("zones", {}).items():
            zone = self.occupancy.zones.get(zone_id)
            if zone is not None:  # a zone removed from the configuration is forgotten
                zone.occupancy, zone.entered, zone.left = z["occupancy"], z["entered"], z["left"]
                zone.updated_ns = z["updated_ns"]
        for name, last in state.get("doorways", {}).items():
            door = self.occupancy.doorways.get(name)
            if door is not None:
                door.last = Sample(**last)


KIND = Kind(
    name="people_counter",
    description="foot-traffic counter (客流计数器)",
    params=frozenset({"zone", "from_zone"}),
    required_params=frozenset({"zone"}),
    signals={READING: frozenset({"in_total", "out_total"})},
    info=frozenset({"sensor", "fw_version", "uptime_s"}),
    rules=(sensor_problems,),
    projections=(OccupancyProjection,),
)
