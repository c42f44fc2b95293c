"""Pickup locker lock-control board (取件柜锁控板): doors with lock, door and item sensors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.canonical import READING
from gateway.kinds.base import Kind


def board_problems(info: Mapping[str, Any]) -> list[str]:
    out = []
    flags = info.get("board_status")
    if flags:
        out.append("board: " + ", ".join(map(str, flags)) if isinstance(flags, list) else f"board status {flags}")
    fault = info.get("lock_fault")
    if isinstance(fault, int) and not isinstance(fault, bool) and fault:
        out.append("lock fault on door " + ", ".join(str(n) for n in range(64) if fault >> n & 1))
    return out


KIND = Kind(
    name="pickup_locker",
    description="pickup locker lock-control board (取件柜锁控板)",
    params=frozenset({"doors", "zone"}),
    signals={READING: frozenset({"door_open"})},
    info=frozenset({"board_status", "lock_fault", "fw_version", "uptime_s", "temperature_c"}),
    rules=(board_problems,),
)
