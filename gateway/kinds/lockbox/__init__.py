"""Phone lockbox (手机存放箱): a cabinet of slots, one per staff member."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from gateway.domain.canonical import ACK, Event
from gateway.domain.conditions import Condition
from gateway.kinds.base import DeviceView, Kind, Param, Record, doors_left_open, jammed, low_battery, set_part
from gateway.kinds.lockbox import words
from gateway.kinds.lockbox.pages import PAGES
from gateway.kinds.lockbox.settings import SETTINGS, LockboxContext
from gateway.kinds.reads import Slots


def fold(info: dict[str, Any], e: Event) -> None:
    """Which slots stand open since when, and which are jammed, from the cabinet's events."""
    slot = e.fields.get("slot")
    if not isinstance(slot, int) or isinstance(slot, bool):
        return
    part = f"slot {slot}"
    if e.name == "door_open":
        info.setdefault("open_since", {}).setdefault(part, e.ts_ns)
        set_part(info, "jammed", part, False)  # it opened: the lock works
    elif e.name == "door_closed":
        info.setdefault("open_since", {}).pop(part, None)
    elif e.name == "lock_fault" or (e.name == ACK and e.fields.get("error") == "jammed"):
        set_part(info, "jammed", part, True)


def alarm(e: Event) -> Condition | None:
    """A door opened while locked: someone forced it. No later event makes that undone."""
    if e.name != "forced_open":
        return None
    part = f"slot {e.fields.get('slot')}"
    summary = f"{e.device}: forced open ({part})"
    return Condition("forced_open", f"{e.device}/{part}", "critical", summary, e.device, True, {"part": part})


class SlotBook:
    """Each slot's door, lock and phone, from the cabinet's events and its snapshots (an ack that
    carries `slots`: the command desk asks for one at start and whenever a cabinet comes online)."""

    name = "lockbox_slots"

    def __init__(
        self, devices: set[str], owners: Mapping[str, tuple[str, int]] | None = None, grace_min: float | None = None
    ) -> None:
        self.devices = devices
        self.slots: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in devices}  # device -> slot -> state
        self._owners = dict(owners or {})
        self.grace_min = grace_min

    def owners(self) -> Mapping[str, tuple[str, int]]:
        """`reads.Slots`: whose phone goes in which slot (the hall file's `phones.lockboxes`)."""
        return self._owners

    def slot(self, device: str, slot: int) -> Mapping[str, Any]:
        """`reads.Slots`: the slot's state, empty when the cabinet has not reported it."""
        return self.slots.get(device, {}).get(str(slot), {})

    def _slot(self, device: str, slot: int, ts_ns: int) -> dict[str, Any]:
        s = self.slots[device].setdefault(str(slot), {"door": None, "locked": None, "phone": None})
        s["since_ns"] = ts_ns
        return s

    def _stale(self, e: Event, slot: int) -> bool:
        """Older than the slot's newest event: redelivered, or handed over by another ingest worker
        after a newer one. Compared in the device's own time only (snapshots carry arrival time)."""
        s = self.slots[e.device].get(str(slot))
        return s is not None and e.ts_ns < s.get("event_ns", 0)

    def apply(self, e: Event, now_ns: int) -> list[Record] | None:
        if e.device not in self.devices:
            return None
        if e.name == ACK and isinstance(e.fields.get("slots"), str):
            try:
                snapshot = json.loads(e.fields["slots"])
            except ValueError:
                return None
            for item in snapshot if isinstance(snapshot, list) else ():
                if isinstance(item, dict) and isinstance(item.get("slot"), int):
                    s = self._slot(e.device, item["slot"], e.ts_ns)
                    _phone(s, item.get("phone"), e.ts_ns)
                    s.update(door=item.get("door"), locked=item.get("locked"))
            return None
        slot = e.fields.get("slot")
        if not isinstance(slot, int) or isinstance(slot, bool):
            return None
        change = {
            "door_open": {"door": "open"},
            "forced_open": {"door": "open"},
            "door_closed": {"door": "closed", "locked": True},
            "phone_in": {"phone": True},
            "phone_out": {"phone": False},
        }.get(e.name)
        if change is not None and not self._stale(e, slot):
            s = self._slot(e.device, slot, e.ts_ns)
            s["event_ns"] = e.ts_ns
            if "phone" in change:
                _phone(s, change.pop("phone"), e.ts_ns)
            s.update(change)
        return None

    def state(self) -> dict[str, Any] | None:
        return {"slots": self.slots}

    def restore(self, state: dict[str, Any]) -> None:
        for device, slots in state.get("slots", {}).items():
            if device in self.devices:
                self.slots[device] = slots


def _phone(s: dict[str, Any], phone: Any, ts_ns: int) -> None:
    """The phone's state and since when it holds (the compliance view's "since")."""
    if phone != s.get("phone") or "phone_since_ns" not in s:
        s["phone_since_ns"] = ts_ns
    s["phone"] = phone


def slot_book(cfg: LockboxContext, devices: Mapping[str, DeviceView]) -> SlotBook:
    owners = {staff: (m.device, slot) for m in cfg.phones.lockboxes for staff, slot in m.slots.items()}
    return SlotBook({d.id for d in devices.values() if d.kind == "lockbox"}, owners, cfg.phones.grace_min)


KIND = Kind(
    name="lockbox",
    description="phone lockbox (手机存放箱)",
    label="手机存放箱",
    pages=PAGES,
    params=frozenset({"slots", "zone"}),
    device_params={"slots": Param(int, Field(None, ge=1, le=48))},  # slots in the cabinet
    signals={"door_open": frozenset({"slot"}), "door_closed": frozenset({"slot"})},
    # A door or phone event says nothing without its slot.
    required={e: frozenset({"slot"}) for e in ("door_open", "door_closed", "forced_open", "phone_in", "phone_out")},
    rules=(low_battery, jammed, doors_left_open),
    fold=fold,
    alarm=alarm,
    projections=(slot_book,),
    settings=SETTINGS,
    router="gateway.kinds.lockbox.api:router",
    provides={Slots: SlotBook},
    runs="gateway.kinds.lockbox.openings:run",
    errors=words.ERRORS,
    page_words=words.PAGE_WORDS,
    labels=words.LABELS,
    summaries=words.SUMMARIES,
)
