"""`phones:` in the hall file: whose phone goes in which slot of which lockbox (the compliance
view and its alert), checked against the hall's lockboxes and their slots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import Field

from gateway.config.base import Model
from gateway.kinds.base import DeviceParams, KindContext, Problems, Settings

KEY = "phones"
KIND_NAME = "lockbox"
MAX_SLOTS = 48  # a lockbox whose slots the file does not give


class LockboxStaff(Model):
    """Whose phone goes in which slot of one lockbox (the compliance view and its alert)."""

    device: str = Field(description="a lockbox's device id")
    slots: dict[str, int] = Field(description="staff id (as the attendance machine sends it) -> slot number")


class Phones(Model):
    """Staff who clocked in but whose phone is not in their slot (GET /api/v1/lockboxes/compliance)."""

    lockboxes: list[LockboxStaff] = Field(default_factory=list)
    grace_min: float | None = Field(
        None, gt=0, description="in working time, a phone out of its slot this long after clocking in: an alert"
    )


class LockboxContext(KindContext, Protocol):
    """The hall as the lockboxes' projection reads it."""

    phones: Phones


def phone_problems(phones: Phones, devices: Sequence[DeviceParams]) -> Problems:
    """The staff-to-slot map names lockboxes of this hall and slots they have, each once."""
    problems = []
    lockboxes = {d.id: d for d in devices if d.kind == KIND_NAME}
    owners: dict[tuple[str, int], str] = {}
    places: dict[str, str] = {}
    for i, m in enumerate(phones.lockboxes):
        where = f"{KEY}.lockboxes[{i}]"
        box = lockboxes.get(m.device)
        if box is None:
            problems.append(
                (f"{where}.device", f"{m.device!r} is not a lockbox of this hall: name one of {sorted(lockboxes)}")
            )
            continue
        slots = box.slots or MAX_SLOTS
        for staff, slot in m.slots.items():
            here = f"{where}.slots.{staff}"
            if not 1 <= slot <= slots:
                problems.append((here, f"slot {slot} is out of range: {m.device} has slots 1-{slots}"))
                continue
            other = owners.setdefault((m.device, slot), staff)
            if other != staff:
                problems.append((here, f"{m.device} slot {slot} is already {other}'s: give each person their own slot"))
            if staff in places:
                problems.append((here, f"{staff} already has a slot ({places[staff]}): give each person one slot"))
            places.setdefault(staff, f"{m.device} slot {slot}")
    return problems


SETTINGS = Settings(KEY, Phones, references=phone_problems)
