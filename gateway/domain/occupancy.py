"""Occupancy per zone from doorway counters' cumulative IN/OUT counts. Pure.

A counter's counts are cumulative: they wrap at the counter's width (2**32 for the reference
sensor) and restart at 0 when the sensor reboots. Its uptime dropping tells a reboot from a
wrap; a counter with no uptime register shows a reboot as a drop far from the wrap point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WRAP = 2**32


@dataclass(frozen=True, slots=True)
class Sample:
    in_total: int
    out_total: int
    uptime_s: int | None = None


def count_delta(prev_total: int, total: int, rebooted: bool, wrap: int = WRAP) -> int:
    if rebooted:
        return total  # counted since the reboot; what it counted before the reboot was lost with it
    return (total - prev_total) % wrap


def rebooted(prev: Sample, s: Sample, wrap: int = WRAP) -> bool:
    if prev.uptime_s is not None and s.uptime_s is not None:
        return s.uptime_s < prev.uptime_s
    # No uptime: a count that went down by less than half the range was reset, not wrapped.
    return any(0 < p - t < wrap // 2 for p, t in ((prev.in_total, s.in_total), (prev.out_total, s.out_total)))


@dataclass
class Doorway:
    zone: str
    from_zone: str | None
    last: Sample | None = None
    wrap: int = WRAP


@dataclass
class ZoneCount:
    zone: str
    capacity: int
    occupancy: int = 0
    entered: int = 0
    left: int = 0
    updated_ns: int | None = None


@dataclass
class Occupancy:
    zones: dict[str, ZoneCount]
    doorways: dict[str, Doorway] = field(default_factory=dict)

    def sample(self, counter: str, s: Sample, now_ns: int) -> tuple[int, int]:
        """Fold one counter sample in; returns the (in, out) people counted since the last one."""
        door = self.doorways[counter]
        prev, door.last = door.last, s
        if prev is None:
            return 0, 0  # the first sample only sets the baseline
        reset = rebooted(prev, s, door.wrap)
        d_in = count_delta(prev.in_total, s.in_total, reset, door.wrap)
        d_out = count_delta(prev.out_total, s.out_total, reset, door.wrap)
        self._move(door.zone, d_in, d_out, now_ns)
        if door.from_zone is not None:
            self._move(door.from_zone, d_out, d_in, now_ns)
        return d_in, d_out

    def _move(self, zone: str, entered: int, left: int, now_ns: int) -> None:
        z = self.zones[zone]
        z.entered += entered
        z.left += left
        # Counters miss a few per cent each way: never report fewer than nobody.
        z.occupancy = max(0, z.occupancy + entered - left)
        z.updated_ns = now_ns
