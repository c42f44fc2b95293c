"""Phone lockbox (手机存放箱): a cabinet of slots, one per staff member."""

from __future__ import annotations

from gateway.kinds.base import Kind, low_battery

KIND = Kind(
    name="lockbox",
    description="phone lockbox (手机存放箱)",
    params=frozenset({"slots", "zone"}),
    signals={"door_open": frozenset({"slot"}), "door_closed": frozenset({"slot"})},
    rules=(low_battery,),
)
