"""Pickup locker lock-control board (取件柜锁控板): one unit id on a locker bank's line, 24 doors.

| table | address | meaning |
| coil | 0-23 | write 1: pulse-unlock door n (cleared to 0 after the pulse) |
| discrete input | 0-23 | door n open (1) / closed (0) |
| discrete input | 32-55 | item present in door n |
| input register | 0 fw (major*100+minor), 1 doors (24), 2 status (bit0 supply low, bit1 over-temp.),
|                | 3 temperature (signed, 0.1 °C), 4-5 uptime s (uint32), 6-7 lock fault bitmap (uint32) |
| holding register | 0 | unlock pulse length ms (100-2000, default 500) |

Anything else is exception 2 (illegal data address). Doors are numbered 0-23 like the map.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pymodbus.constants import ExcCodes

from firmware_sim.common import device_rng, u32
from firmware_sim.kinds.base import FaultError, KindFault, SimKind

DOORS = 24
ITEM_BASE = 32
STATUS_SUPPLY_LOW = 1
STATUS_OVER_TEMPERATURE = 2


class LockerBoard:
    """One lock-control board. Door opening on a pulse is simulated; `jam(n)` makes door n fail."""

    kind = "pickup_locker"

    fw_version = 203  # 2.03

    def __init__(
        self,
        unit: int = 1,
        *,
        device_id: str | None = None,
        seed: int | str = 0,
        pulse_ms: int = 500,
        open_delay_s: float = 0.05,
        door_close_after_s: float | None = 10.0,
        toggle_item_on_open: bool = True,
        items_ratio: float = 0.3,
        temperature_c: float = 26.5,
        uptime_start_s: int = 0,
    ) -> None:
        self.unit = unit
        self.device_id = device_id or f"locker-unit{unit}"
        self.rng = device_rng(seed, self.device_id)
        self.pulse_ms = pulse_ms
        self.open_delay_s = open_delay_s
        self.door_close_after_s = door_close_after_s
        self.toggle_item_on_open = toggle_item_on_open
        self.coils = [False] * DOORS
        self.door_open = [False] * DOORS
        self.items = [self.rng.random() < items_ratio for _ in range(DOORS)]
        self.jammed = [False] * DOORS
        self.fault_bitmap = 0
        self.status = 0
        self.temperature_c = temperature_c
        self._boot = time.monotonic() - uptime_start_s
        self._timers: set[asyncio.TimerHandle] = set()
        self.pulses = 0
        # faults the Modbus line honours (firmware_sim/modbus_bus.py)
        self.offline = False
        self.loss = 0.0
        self.reply_delay_s = 0.0

    # ---- register map ------------------------------------------------------------------------
    @property
    def uptime_s(self) -> int:
        return int(time.monotonic() - self._boot)

    def input_registers(self) -> list[int]:
        temp = round(self.temperature_c * 10) & 0xFFFF
        return [self.fw_version, DOORS, self.status, temp, *u32(self.uptime_s), *u32(self.fault_bitmap)]

    def read(self, table: str, address: int, count: int) -> list[int] | list[bool] | ExcCodes:
        end = address + count
        if count < 1:
            return ExcCodes.ILLEGAL_VALUE
        if table == "coil" and end <= DOORS:
            return self.coils[address:end]
        if table == "discrete":
            if end <= DOORS:
                return self.door_open[address:end]
            if address >= ITEM_BASE and end <= ITEM_BASE + DOORS:
                return self.items[address - ITEM_BASE : end - ITEM_BASE]
        if table == "input" and end <= 8:
            return self.input_registers()[address:end]
        if table == "holding" and end <= 1:
            return [self.pulse_ms]
        return ExcCodes.ILLEGAL_ADDRESS

    def write(self, table: str, address: int, values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        end = address + len(values)
        if table == "coil" and end <= DOORS:
            for offset, value in enumerate(values):
                if value:
                    self.pulse(address + offset)
            return None
        if table == "holding" and end <= 1:
            if not 100 <= int(values[0]) <= 2000:
                return ExcCodes.ILLEGAL_VALUE
            self.pulse_ms = int(values[0])
            return None
        return ExcCodes.ILLEGAL_ADDRESS

    # ---- the board's behaviour ---------------------------------------------------------------
    def _later(self, delay: float, callback: object, *args: object) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            callback(*args)  # type: ignore[operator]

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    def pulse(self, door: int) -> None:
        """Energise door n's lock for the pulse length: it opens unless jammed (then fault bit n)."""
        self.pulses += 1
        self.coils[door] = True
        pulse_s = self.pulse_ms / 1000
        if self.jammed[door]:
            self._later(pulse_s, self._pulse_end, door, False)
            return
        self._later(min(self.open_delay_s, pulse_s), self._spring_open, door)
        self._later(pulse_s, self._pulse_end, door, True)

    def _spring_open(self, door: int) -> None:
        if self.door_open[door]:
            return
        self.door_open[door] = True
        if self.door_close_after_s is not None:
            if self.toggle_item_on_open:
                self._later(self.door_close_after_s / 2, self._toggle_item, door)
            self._later(self.door_close_after_s, self.close_door, door)

    def _toggle_item(self, door: int) -> None:
        self.items[door] = not self.items[door]

    def _pulse_end(self, door: int, opened: bool) -> None:
        self.coils[door] = False
        if opened:
            self.fault_bitmap &= ~(1 << door)
        else:
            self.fault_bitmap |= 1 << door

    # ---- fault injection and scripted actions ------------------------------------------------
    def jam(self, door: int) -> None:
        """Door n's lock no longer opens: a pulse leaves the door closed and sets fault bit n."""
        self.jammed[door] = True

    def unjam(self, door: int) -> None:
        self.jammed[door] = False

    def open_door(self, door: int) -> None:
        """The door is open (pushed open, or left open: it stays open until `close_door`)."""
        self.door_open[door] = True

    def close_door(self, door: int) -> None:
        self.door_open[door] = False

    def put_item(self, door: int) -> None:
        self.items[door] = True

    def take_item(self, door: int) -> None:
        self.items[door] = False

    def set_supply_low(self, low: bool = True) -> None:
        self.status = (self.status | STATUS_SUPPLY_LOW) if low else (self.status & ~STATUS_SUPPLY_LOW)

    def set_temperature(self, celsius: float) -> None:
        """Board temperature; over 60 °C raises the over-temperature status bit."""
        self.temperature_c = celsius
        if celsius > 60:
            self.status |= STATUS_OVER_TEMPERATURE
        else:
            self.status &= ~STATUS_OVER_TEMPERATURE

    def reboot(self) -> None:
        """Power cycle: uptime restarts, coils, pending pulses and the fault bitmap clear."""
        self.stop()
        self._boot = time.monotonic()
        self.coils = [False] * DOORS
        self.fault_bitmap = 0

    def stop(self) -> None:
        for handle in list(self._timers):
            handle.cancel()
        self._timers.clear()


def _door(board: LockerBoard, params: Mapping[str, Any]) -> int:
    value = params.get("slot", params.get("door"))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < DOORS:
        raise FaultError(f"door: {value!r} is not a door of a lock-control board (0-{DOORS - 1})")
    return value


def _unjam_all(board: LockerBoard) -> None:
    for n in range(DOORS):
        board.unjam(n)


def _close_all(board: LockerBoard) -> None:
    for n in range(DOORS):
        board.close_door(n)


KIND = SimKind(
    LockerBoard.kind,
    "modbus",
    LockerBoard,
    faults={
        "jam": KindFault(lambda board, p: board.jam(_door(board, p)), _unjam_all, _door),
        "door_open": KindFault(lambda board, p: board.open_door(_door(board, p)), _close_all, _door),
    },
)
