"""Pickup locker lock-control board (取件柜锁控板): doors with lock, door and item sensors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from gateway.domain.canonical import READING, Event
from gateway.domain.health import Problem
from gateway.kinds.base import Kind, Param, doors_left_open, jammed
from gateway.kinds.pickup_locker import words
from gateway.kinds.pickup_locker.pages import PAGES
from gateway.kinds.pickup_locker.settings import SETTINGS


def board_problems(info: Mapping[str, Any], now_ns: int) -> list[Problem]:
    flags = info.get("board_status")
    if not flags:
        return []
    text = ", ".join(map(str, flags)) if isinstance(flags, list) else str(flags)
    return [Problem("board_fault", f"board: {text}", params={"fault": text})]


def fold(info: dict[str, Any], e: Event) -> None:
    """Doors standing open since when (from the door sensors) and doors whose lock failed."""
    if e.name != READING:
        return
    doors = e.fields.get("door_open")
    if isinstance(doors, list):
        since = info.setdefault("open_since", {})
        for n, is_open in enumerate(doors):
            if is_open:
                since.setdefault(f"door {n}", e.ts_ns)
            else:
                since.pop(f"door {n}", None)
    fault = e.fields.get("lock_fault")
    if isinstance(fault, int) and not isinstance(fault, bool):
        info["jammed"] = [f"door {n}" for n in range(64) if fault >> n & 1]


KIND = Kind(
    name="pickup_locker",
    description="pickup locker lock-control board (取件柜锁控板)",
    label="取件柜",
    pages=PAGES,
    params=frozenset({"doors", "zone"}),
    device_params={"doors": Param(int, Field(None, ge=1, le=192))},  # doors in the bank
    signals={READING: frozenset({"door_open"})},
    info=frozenset({"board_status", "lock_fault", "fw_version", "uptime_s", "temperature_c"}),
    rules=(board_problems, jammed, doors_left_open),
    fold=fold,
    settings=SETTINGS,
    router="gateway.kinds.pickup_locker.api:router",
    runs="gateway.kinds.pickup_locker.desk:run",
    kiosk=True,  # its own keypad or QR reader opens it with a kiosk token
    errors=words.ERRORS,
    page_words=words.PAGE_WORDS,
    labels=words.LABELS,
    summaries=words.SUMMARIES,
)
