"""Phones in their slots: staff who clocked in, and whether their phone is in their slot.

Who is in comes from whichever projection provides `Presence` (today's punches, in/out spells as
the 空岗 check reads them); each slot's phone from the one that provides `Slots` (events and
snapshots), with the map from staff to slot and the grace period (`Slots.owners`, `grace_min`). A
phone out of its slot longer than the grace period after its owner clocked in, in working time, is a
`phone_not_in_slot` alert that clears when the phone goes back or the person clocks out. A phone
the cabinet has not reported yet (`phone: null`) is not alerted: unknown is not out.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.commands.riders import Rider
from gateway.domain.conditions import Condition
from gateway.kinds.reads import Presence, Slots
from gateway.kinds.wiring import Parts, Running


@dataclass(frozen=True, slots=True)
class Compliance:
    staff: str
    in_since_ns: int
    device: str
    slot: int
    phone: bool | None  # None: the cabinet has not said
    phone_since_ns: int | None

    @property
    def ok(self) -> bool:
        return self.phone is True

    def out_since_ns(self) -> int:
        """Since when this person is in without their phone in the slot."""
        return max(self.in_since_ns, self.phone_since_ns or self.in_since_ns)


class PhoneCompliance:
    def __init__(self, presence: Presence | None, slots: Slots | None) -> None:
        self.presence = presence
        self.slots = slots
        grace_min = slots.grace_min if slots is not None else None
        self.grace_ns = int(grace_min * 60e9) if grace_min else None
        self.slot_of = dict(slots.owners()) if slots is not None else {}

    def rows(self, now_ns: int) -> list[Compliance]:
        out = []
        present = self.presence.present(now_ns) if self.presence is not None else {}
        for staff, since in sorted(present.items()):
            place = self.slot_of.get(staff)
            if place is None:
                continue  # no slot: nothing to comply with
            device, slot = place
            s = self.slots.slot(device, slot) if self.slots is not None else {}
            out.append(Compliance(staff, since, device, slot, s.get("phone"), s.get("phone_since_ns")))
        return out

    def conditions(self, now_ns: int) -> list[Condition]:
        if self.grace_ns is None or not self.slot_of or self.presence is None:
            return []
        if not self.presence.working_now(now_ns):
            return []
        return [
            Condition(
                "phone_not_in_slot",
                f"staff {r.staff}",
                "warning",
                f"{r.staff} clocked in but their phone is not in {r.device} slot {r.slot} "
                f"({(now_ns - r.out_since_ns()) / 60e9:.0f} min)",
                r.device,
                params={
                    "staff": r.staff,
                    "part": f"slot {r.slot}",
                    "minutes": f"{(now_ns - r.out_since_ns()) / 60e9:.0f}",
                },
            )
            for r in self.rows(now_ns)
            if r.phone is False and now_ns - r.out_since_ns() > self.grace_ns
        ]


def run(running: Running) -> Parts:
    """Built in every hall (its route answers 409 when nobody can be known to be in, or nobody has a slot)."""
    p = running.projections
    compliance = PhoneCompliance(p.reads(Presence), p.reads(Slots))
    running.desk.riders.add(Rider("compliance", conditions=compliance.conditions))
    return Parts(serves=[compliance])
