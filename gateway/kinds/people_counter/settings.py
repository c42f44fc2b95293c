"""`occupancy:` in the hall file: the counters' zones, their nightly reset, over-capacity hysteresis
and the gateway's own history. Zones themselves (id, capacity, reset time) are the hall's."""

from __future__ import annotations

from datetime import time
from typing import Protocol

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Model, clock_time
from gateway.kinds.base import KindContext, Settings, ZoneView

KEY = "occupancy"


class OccupancySettings(Model):
    """Zone occupancy: the nightly reset, over-capacity hysteresis, the gateway's own history."""

    reset_at: time | None = Field(
        time(3, 0), description="local time of the nightly reset, when the hall is closed; null: never"
    )
    hall_capacity: int | None = Field(None, gt=0, description="default: the sum of the zones' capacities")
    over_capacity_pct: float = Field(100.0, gt=0, description="a zone at or above this share of its capacity is over")
    clear_pct: float = Field(90.0, gt=0, description="... and stays over until it is below this share")
    stale_after_s: float = Field(10.0, gt=0, description="a counter silent this long makes its zones' counts suspect")
    history_days: int = Field(14, ge=1, le=400, description="how long the gateway keeps its own per-minute history")

    _reset_time = field_validator("reset_at", mode="before")(clock_time)

    @model_validator(mode="after")
    def _hysteresis(self) -> OccupancySettings:
        if self.clear_pct > self.over_capacity_pct:
            raise ValueError(
                f"clear_pct {self.clear_pct:g} 高于 over_capacity_pct {self.over_capacity_pct:g}："
                "告警须在低于触发线时才解除"
            )
        return self


def zone_reset_at(settings: OccupancySettings, zone: ZoneView) -> time | None:
    """When a zone's figures restart: its own time, never, or the hall's `occupancy.reset_at`."""
    if zone.reset_at == "never":
        return None
    return zone.reset_at if isinstance(zone.reset_at, time) else settings.reset_at


class HallMethods:
    """What the hall configuration can say about its zones' resets."""

    def zone_reset_at(self, zone: ZoneView) -> time | None:
        return zone_reset_at(getattr(self, KEY), zone)


def resets_when_closed(hall: OccupancyContext) -> None:
    wh = hall.working_hours
    occupancy = getattr(hall, KEY)
    # Only a time someone wrote is checked: the default suits the usual hall, and a hall open
    # around the clock resets when its traffic is lowest.
    written = [(f"{KEY}.reset_at", occupancy.reset_at)] if "reset_at" in occupancy.model_fields_set else []
    written += [
        (f"zones[{i}] (id {z.id}).reset_at", z.reset_at)
        for i, z in enumerate(hall.zones)
        if "reset_at" in z.model_fields_set
    ]
    for where, at in written:
        if isinstance(at, time) and wh.days and wh.start <= at < wh.end:
            raise ValueError(f"{where}：{at:%H:%M} 在工作时间 {wh.start:%H:%M}-{wh.end:%H:%M} 之内：请在闭厅时清零")


class OccupancyContext(KindContext, Protocol):
    """The hall as the occupancy projection reads it."""

    occupancy: OccupancySettings


SETTINGS = Settings(KEY, OccupancySettings, check=resets_when_closed, methods=HallMethods)
