"""Phone lockbox (手机存放箱): a cabinet of slots, one per staff member."""

from __future__ import annotations

from typing import Any

from drivers.canonical import ACK, Event
from gateway.alerts.lifecycle import Condition
from gateway.kinds.base import Kind, doors_left_open, jammed, low_battery, set_part


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
    return Condition(
        "forced_open", f"{e.device}/{part}", "critical", f"{e.device}: forced open ({part})", e.device, manual=True
    )


KIND = Kind(
    name="lockbox",
    description="phone lockbox (手机存放箱)",
    params=frozenset({"slots", "zone"}),
    signals={"door_open": frozenset({"slot"}), "door_closed": frozenset({"slot"})},
    rules=(low_battery, jammed, doors_left_open),
    fold=fold,
    alarm=alarm,
)
