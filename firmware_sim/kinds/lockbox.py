"""Phone lockbox (手机存放箱), wire kind `lockbox`: 12-48 slots, each with a lock, a door sensor and a
phone-present sensor. Mains powered.

Events (channel `event`): `{"seq","ts","slot","type"}` with type door_open, door_closed, phone_in,
phone_out, forced_open (door opened while locked) or lock_fault.

Faults: `jam`, `door_open` (`slot`), and `phone_out` (`slot`, `minutes` default 10): the slot's phone
taken out that long ago without an unlock (the demo's 违规使用手机).

Commands: `unlock` (slot) releases the lock for `release_s` (5 s); the simulated staff member opens
the door in that window with probability `open_probability` (seeded), takes the phone out (or puts
it in), and closes the door `door_close_after_s` later, which locks it again. Errors: bad_slot,
jammed (see `jam()`), busy. `snapshot` returns every slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firmware_sim.common import iso_ts
from firmware_sim.kinds.base import FaultError, HallShare, KindFault, SimKind, number
from firmware_sim.mqtt_device import CmdError, MqttDevice
from firmware_sim.spec import DeviceSpec


@dataclass
class Slot:
    number: int
    locked: bool = True
    door_open: bool = False
    phone: bool = False
    jammed: bool = False
    releasing: bool = False

    def snapshot(self) -> dict[str, Any]:
        return {
            "slot": self.number,
            "locked": self.locked,
            "door": "open" if self.door_open else "closed",
            "phone": self.phone,
        }


class Lockbox(MqttDevice):
    kind = "lockbox"
    wirekind = "lockbox"
    model = "PB-2400"
    fw = "1.8.0"

    def __init__(
        self,
        device_id: str,
        *,
        slots: int = 24,
        release_s: float = 5.0,
        open_probability: float = 1.0,
        door_open_after_s: float = 1.0,
        door_close_after_s: float = 3.0,
        phones_in_ratio: float = 0.8,
        self_service: bool = True,
        **kwargs: Any,
    ) -> None:
        """`self_service`: staff open their own slots at the cabinet now and then (the routine out of
        working hours); false: slots open only by an unlock command, as the rule is in working hours."""
        super().__init__(device_id, **kwargs)
        self.self_service = self_service
        if not 12 <= slots <= 48:
            raise ValueError(f"{device_id}: a lockbox has 12-48 slots, not {slots}")
        self.release_s = release_s
        self.open_probability = open_probability
        self.door_open_after_s = door_open_after_s
        self.door_close_after_s = door_close_after_s
        self.slots = {n: Slot(n, phone=self.rng.random() < phones_in_ratio) for n in range(1, slots + 1)}

    # ---- the cabinet's sensors --------------------------------------------------------------
    def _event(self, slot: int, kind: str) -> dict[str, Any]:
        return self.emit({"slot": slot, "type": kind})

    def _slot(self, slot: object) -> Slot:
        if isinstance(slot, bool) or not isinstance(slot, int) or slot not in self.slots:
            raise CmdError("bad_slot")
        return self.slots[slot]

    def open_door(self, slot: int) -> None:
        """Someone opens the door: door_open, or forced_open when the lock is engaged."""
        s = self.slots[slot]
        if s.door_open:
            return
        s.door_open = True
        s.releasing = False
        self._event(slot, "forced_open" if s.locked else "door_open")

    def close_door(self, slot: int) -> None:
        """The door is shut: door_closed, and the lock engages again."""
        s = self.slots[slot]
        if not s.door_open:
            return
        s.door_open = False
        s.locked = True
        self._event(slot, "door_closed")

    def put_phone(self, slot: int) -> None:
        s = self.slots[slot]
        if not s.phone:
            s.phone = True
            self._event(slot, "phone_in")

    def take_phone(self, slot: int) -> None:
        s = self.slots[slot]
        if s.phone:
            s.phone = False
            self._event(slot, "phone_out")

    def phone_taken(self, slot: int, ago_s: float) -> None:
        """The phone taken out `ago_s` seconds ago (the door opened by hand, no unlock): its events
        sent now with the times they happened; one put in just before if the slot was empty."""
        s = self.slots[slot]
        at = self.clock_offset_s - ago_s
        if not s.phone:
            self.emit({"slot": slot, "type": "phone_in", "ts": iso_ts(at - 60)})
        s.phone = False
        self.emit({"slot": slot, "type": "phone_out", "ts": iso_ts(at)})

    # ---- fault injection -------------------------------------------------------------------
    def jam(self, slot: int) -> None:
        """The slot's lock no longer releases: unlock answers `jammed` and reports lock_fault."""
        self.slots[slot].jammed = True

    def unjam(self, slot: int) -> None:
        self.slots[slot].jammed = False

    def leave_open(self, slot: int) -> None:
        """A staff member opens the slot legitimately (door_open) and walks away: the door stays
        open until `close_door()`."""
        s = self.slots[slot]
        s.locked = False
        self.open_door(slot)

    def burst_event(self) -> None:
        """A phone put in or taken out of a random slot (the slot's state follows)."""
        n = self.rng.randint(1, len(self.slots))
        if self.slots[n].phone:
            self.take_phone(n)
        else:
            self.put_phone(n)

    def force_open(self, slot: int) -> None:
        """The door is forced while locked (forced_open); `close_door()` shuts it again."""
        self.open_door(slot)

    # ---- commands ----------------------------------------------------------------------------
    def unlock(self, slot: object) -> dict[str, Any]:
        """Release a slot's lock for `release_s`; raises CmdError(bad_slot|jammed|busy)."""
        s = self._slot(slot)
        if s.releasing or s.door_open:
            raise CmdError("busy")
        if s.jammed:
            self._event(s.number, "lock_fault")
            raise CmdError("jammed")
        s.locked = False
        s.releasing = True
        self.spawn(self._release_window(s, self.rng.random() < self.open_probability))
        return {"slot": s.number}

    async def _release_window(self, s: Slot, staff_opens: bool) -> None:
        try:
            if staff_opens and self.door_open_after_s < self.release_s:
                await asyncio.sleep(self.door_open_after_s)
                self.open_door(s.number)
                if s.phone:
                    self.take_phone(s.number)
                else:
                    self.put_phone(s.number)
                await asyncio.sleep(self.door_close_after_s)
                self.close_door(s.number)
            else:
                await asyncio.sleep(self.release_s)
        finally:
            if not s.door_open:
                s.locked = True
            s.releasing = False

    def snapshot(self) -> list[dict[str, Any]]:
        return [s.snapshot() for s in self.slots.values()]

    async def execute(self, op: str, cmd: dict[str, Any]) -> dict[str, Any]:
        if op == "unlock":
            return self.unlock(cmd.get("slot"))
        if op == "snapshot":
            return {"slots": self.snapshot()}
        return await super().execute(op, cmd)

    def spontaneous(self) -> None:
        """A staff member opens their own slot at the cabinet (card), swaps the phone, closes it."""
        if not self.self_service:
            return
        s = self.slots[self.rng.randint(1, len(self.slots))]
        if s.releasing or s.door_open or s.jammed:
            return
        s.locked = False
        s.releasing = True
        self.spawn(self._release_window(s, True))


def _slot(box: Lockbox, params: Mapping[str, Any]) -> int:
    value = params.get("slot", params.get("door"))
    if value not in box.slots:
        raise FaultError(f"slot: {value!r} is not a slot of {box.device_id} (1-{len(box.slots)})")
    return int(value)  # type: ignore[arg-type]


def _phone_out(box: Lockbox, params: Mapping[str, Any]) -> None:
    box.phone_taken(_slot(box, params), number(params, "minutes", 10, 1, 600) * 60)


def _check_phone_out(box: Lockbox, params: Mapping[str, Any]) -> None:
    _slot(box, params)
    number(params, "minutes", 10, 1, 600)


def _unjam_all(box: Lockbox) -> None:
    for n in box.slots:
        box.unjam(n)


def _close_all(box: Lockbox) -> None:
    for n, slot in box.slots.items():
        if slot.door_open:
            box.close_door(n)


def _options(spec: DeviceSpec, hall: HallShare) -> dict[str, Any]:
    return {"slots": spec.slots} if spec.slots else {}


KIND = SimKind(
    Lockbox.kind,
    "mqtt",
    Lockbox,
    options=_options,
    faults={
        "jam": KindFault(lambda box, p: box.jam(_slot(box, p)), _unjam_all, _slot),
        "door_open": KindFault(lambda box, p: box.leave_open(_slot(box, p)), _close_all, _slot),
        "phone_out": KindFault(_phone_out, None, _check_phone_out),
    },
)
