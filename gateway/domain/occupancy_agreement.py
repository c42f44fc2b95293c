"""Why the whole hall's figure and the sum of the zones' figures differ. Pure.

The hall's figure is the net flow through the doorways to the outside (those without
`from_zone`); a zone's is the net flow through the doorways on its edge. Every sample moves its
two sides by the same people, so with every figure counted from the same reset the zones' nets
add up to the hall's net exactly. What the figures show differs from the nets by the floor at 0
(`clamped`: people a zone's counters saw leave without seeing them come in), so

    sum(zone occupancy) - hall occupancy = sum(zone clamped) - hall clamped

and any rest comes from figures counted from different resets. A zone without counters shows
0 whoever is in it, and a counter offline or faulty freezes or spoils both of its sides: neither
makes a difference of its own, but each makes a figure wrong, so they are reasons too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.domain.occupancy import HALL, Doorway, ZoneCount


@dataclass(frozen=True, slots=True)
class Why:
    code: str  # clamped, hall_clamped, reset_apart, no_counter, counter_suspect
    zone: str  # a zone id, or HALL
    people: int  # how many of the difference this explains (0: a figure in doubt, no difference)
    counters: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Agreement:
    hall: int
    zones_sum: int
    reasons: list[Why] = field(default_factory=list)

    @property
    def difference(self) -> int:
        return self.zones_sum - self.hall

    @property
    def unexplained(self) -> int:
        return self.difference - sum(w.people for w in self.reasons)


def counters_of(zone: str, doorways: Mapping[str, Doorway]) -> list[str]:
    """The counters whose flows make a zone's figure (for HALL: the doorways to the outside)."""
    if zone == HALL:
        return sorted(n for n, d in doorways.items() if d.from_zone is None)
    return sorted(n for n, d in doorways.items() if zone in (d.zone, d.from_zone))


def agreement(zones: Sequence[ZoneCount], hall: ZoneCount, doorways: Mapping[str, Doorway], now_ns: int) -> Agreement:
    reasons: list[Why] = []
    for z in zones:
        if z.clamped:
            reasons.append(Why("clamped", z.zone, z.clamped, tuple(counters_of(z.zone, doorways))))
    if hall.clamped:
        reasons.append(Why("hall_clamped", HALL, -hall.clamped, tuple(counters_of(HALL, doorways))))
    zones_sum = sum(z.occupancy for z in zones)
    rest = zones_sum - hall.occupancy - sum(w.people for w in reasons)
    apart = [z.zone for z in zones if z.reset_ns != hall.reset_ns]
    if apart:
        reasons.append(Why("reset_apart", ",".join(apart), rest))
    for z in zones:
        if not counters_of(z.zone, doorways):
            reasons.append(Why("no_counter", z.zone, 0))
    for name, d in sorted(doorways.items()):
        why = d.suspect(now_ns)
        if why is not None:
            sides = (d.zone, d.from_zone if d.from_zone is not None else HALL)
            reasons.append(Why("counter_suspect", ",".join(sides), 0, (name,), why))
    return Agreement(hall.occupancy, zones_sum, reasons)
