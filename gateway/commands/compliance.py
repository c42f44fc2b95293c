"""Phones in their slots: staff who clocked in, and whether their phone is in their lockbox slot.

Who is in comes from the attendance projection (today's punches, in/out spells as the 空岗 check
reads them); each slot's phone from the lockbox projection (events and snapshots); the map from
staff to slot from the configuration (`phones.lockboxes`). A phone out of its slot longer than
`phones.grace_min` after its owner clocked in, in working time, is a `phone_not_in_slot` alert
that clears when the phone goes back or the person clocks out. A phone the cabinet has not
reported yet (`phone: null`) is not alerted: unknown is not out.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.hall import HallConfig
from gateway.domain.attendance import effective, inside
from gateway.domain.conditions import Condition
from gateway.kinds.attendance import AttendanceProjection
from gateway.kinds.lockbox import SlotBook


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
    def __init__(self, cfg: HallConfig, attendance: AttendanceProjection | None, slots: SlotBook | None) -> None:
        self.attendance = attendance
        self.slots = slots
        self.grace_ns = int(cfg.phones.grace_min * 60e9) if cfg.phones.grace_min else None
        self.slot_of = {staff: (m.device, slot) for m in cfg.phones.lockboxes for staff, slot in m.slots.items()}

    def present(self, now_ns: int) -> dict[str, int]:
        """Staff clocked in now -> since when (their current spell today)."""
        a = self.attendance
        if a is None or a.store is None:
            return {}
        # The projection's cache of today's punches (reloaded when the day turns): no query per call.
        _, punches = a._load(now_ns)
        out = {}
        for staff, ps in punches.items():
            spells = inside(effective(ps, a.cfg.touch_s), now_ns)
            if spells and spells[-1][1] == now_ns:
                out[staff] = spells[-1][0]
        return out

    def rows(self, now_ns: int) -> list[Compliance]:
        out = []
        for staff, since in sorted(self.present(now_ns).items()):
            place = self.slot_of.get(staff)
            if place is None:
                continue  # no lockbox slot: nothing to comply with
            device, slot = place
            s = (self.slots.slots.get(device, {}) if self.slots else {}).get(str(slot), {})
            out.append(Compliance(staff, since, device, slot, s.get("phone"), s.get("phone_since_ns")))
        return out

    def conditions(self, now_ns: int) -> list[Condition]:
        if self.grace_ns is None or not self.slot_of or self.attendance is None:
            return []
        day = self.attendance.working_day(self.attendance.local_day(now_ns))
        if day is None or not day.working(now_ns):
            return []
        return [
            Condition(
                "phone_not_in_slot",
                f"staff {r.staff}",
                "warning",
                f"{r.staff} clocked in but their phone is not in {r.device} slot {r.slot} "
                f"({(now_ns - r.out_since_ns()) / 60e9:.0f} min)",
                r.device,
            )
            for r in self.rows(now_ns)
            if r.phone is False and now_ns - r.out_since_ns() > self.grace_ns
        ]
