"""Foot-traffic counter (客流计数器): unit id 1 per IP, or 1-16 behind a serial server.

| table | address | meaning |
| input register | 0-1 | cumulative IN (uint32, high word first) |
| input register | 2-3 | cumulative OUT (uint32) |
| input register | 4 | status: 0 ok, 1 lens blocked, 2 tampered, 3 too dark |
| input register | 5 | firmware version, major*100+minor |
| input register | 6-7 | uptime s (uint32) |
| holding register | 16 | write 0x5A5A: reset both counts to 0 |

Anything else is exception 2. Counts grow at `rate_per_min` people a minute (seeded), OUT at
`out_ratio` of that; they stop while the status is not ok; they wrap at 2^32; a reboot resets them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pymodbus.constants import ExcCodes

from firmware_sim.common import UINT32, device_rng, u32
from firmware_sim.kinds.base import HallShare, KindFault, SimKind, number
from firmware_sim.spec import DeviceSpec

RESET_MAGIC = 0x5A5A
RESET_REGISTER = 16
STATUS_OK, STATUS_LENS_BLOCKED, STATUS_TAMPERED, STATUS_TOO_DARK = 0, 1, 2, 3


class PeopleCounter:
    kind = "people_counter"
    fw_version = 105  # 1.05

    def __init__(
        self,
        unit: int = 1,
        *,
        device_id: str | None = None,
        seed: int | str = 0,
        rate_per_min: float = 10.0,
        out_ratio: float = 0.97,
        start_in: int = 0,
        start_out: int = 0,
        uptime_start_s: int = 0,
    ) -> None:
        self.unit = unit
        self.device_id = device_id or f"counter-unit{unit}"
        self.rng = device_rng(seed, self.device_id)
        self.rate_per_min = rate_per_min
        self.out_ratio = out_ratio
        self.count_in = start_in % UINT32
        self.count_out = start_out % UINT32
        self.status = STATUS_OK
        self._boot = time.monotonic() - uptime_start_s
        self._last = time.monotonic()
        self._carry_in = 0.0
        self._carry_out = 0.0
        # faults the Modbus line honours (firmware_sim/modbus_bus.py)
        self.offline = False
        self.loss = 0.0
        self.reply_delay_s = 0.0

    @property
    def uptime_s(self) -> int:
        return int(time.monotonic() - self._boot)

    def _draw(self, expected: float) -> int:
        whole = int(expected)
        return whole + (1 if self.rng.random() < expected - whole else 0)

    def advance(self) -> None:
        """Count the people who walked by since the last call (called on every read)."""
        now = time.monotonic()
        dt, self._last = now - self._last, now
        if self.status != STATUS_OK or self.rate_per_min <= 0:
            return
        expected_in = self.rate_per_min / 60.0 * dt * self.rng.uniform(0.5, 1.5)
        self.add(self._draw(expected_in), self._draw(expected_in * self.out_ratio))

    def add(self, people_in: int, people_out: int = 0) -> None:
        """People walk in and out (wraps at 2^32)."""
        self.count_in = (self.count_in + people_in) % UINT32
        self.count_out = (self.count_out + people_out) % UINT32

    def input_registers(self) -> list[int]:
        self.advance()
        return [*u32(self.count_in), *u32(self.count_out), self.status, self.fw_version, *u32(self.uptime_s)]

    def read(self, table: str, address: int, count: int) -> list[int] | list[bool] | ExcCodes:
        end = address + count
        if count < 1:
            return ExcCodes.ILLEGAL_VALUE
        if table == "input" and end <= 8:
            return self.input_registers()[address:end]
        if table == "holding" and address == RESET_REGISTER and count == 1:
            return [0]
        return ExcCodes.ILLEGAL_ADDRESS

    def write(self, table: str, address: int, values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        if table == "holding" and address == RESET_REGISTER and len(values) == 1:
            if int(values[0]) != RESET_MAGIC:
                return ExcCodes.ILLEGAL_VALUE
            self.reset_counts()
            return None
        return ExcCodes.ILLEGAL_ADDRESS

    # ---- fault injection ---------------------------------------------------------------------
    def reset_counts(self) -> None:
        self.advance()
        self.count_in = self.count_out = 0

    def reboot(self) -> None:
        """Power cycle: both counts and the uptime restart from 0."""
        self.count_in = self.count_out = 0
        self._boot = self._last = time.monotonic()

    def set_status(self, status: int) -> None:
        """0 ok, 1 lens blocked, 2 tampered, 3 too dark (no counting while not ok)."""
        if status not in (0, 1, 2, 3):
            raise ValueError(f"counter status is 0-3, not {status}")
        self.advance()
        self.status = status

    def block_lens(self) -> None:
        self.set_status(STATUS_LENS_BLOCKED)

    def clear_fault(self) -> None:
        self.set_status(STATUS_OK)

    def set_counts(self, count_in: int, count_out: int) -> None:
        """Jump the counters (e.g. near 2^32 to see a wrap)."""
        self.advance()
        self.count_in, self.count_out = count_in % UINT32, count_out % UINT32

    def stop(self) -> None:
        """Nothing to cancel: counts are computed when read."""


def _margin(counter: PeopleCounter, params: Mapping[str, Any]) -> int:
    return int(number(params, "margin", 100, 0, UINT32 - 1))


def _wrap(counter: PeopleCounter, params: Mapping[str, Any]) -> None:
    margin = _margin(counter, params)
    counter.set_counts(UINT32 - margin, UINT32 - margin)


def _options(spec: DeviceSpec, hall: HallShare) -> dict[str, Any]:
    return {"rate_per_min": hall.rate_per_min * 5}  # people a minute through a doorway


KIND = SimKind(
    PeopleCounter.kind,
    "modbus",
    PeopleCounter,
    options=_options,
    faults={
        "lens_blocked": KindFault(lambda counter, p: counter.block_lens(), lambda counter: counter.clear_fault()),
        "wrap": KindFault(_wrap, check=_margin),
    },
)
