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
                (f"{where}.device", f"{m.device!r} 不是本厅的手机柜：请填 {sorted(lockboxes)} 之一 (unknown_device)")
            )
            continue
        slots = box.slots or MAX_SLOTS
        for staff, slot in m.slots.items():
            here = f"{where}.slots.{staff}"
            if not 1 <= slot <= slots:
                problems.append((here, f"格口 {slot} 超出范围：{m.device} 的格口为 1-{slots} (slot_out_of_range)"))
                continue
            other = owners.setdefault((m.device, slot), staff)
            if other != staff:
                problems.append((here, f"{m.device} 的 {slot} 号格口已属于 {other}：每人用自己的格口 (slot_taken)"))
            if staff in places:
                problems.append((here, f"{staff} 已有格口（{places[staff]}）：每人只用一个格口 (slot_twice)"))
            places.setdefault(staff, f"{m.device} 的 {slot} 号")
    return problems


SETTINGS = Settings(KEY, Phones, references=phone_problems)
